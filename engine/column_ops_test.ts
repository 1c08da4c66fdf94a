import assert from "node:assert/strict";
import { initBackend, kernelPool, tf } from "./tf.ts";
import { layerNormColumns, layerNormColumnsBackward, multiplyWithRowSums, rowSums } from "./column_ops.ts";
import { seededRandom } from "../lib/mod.ts";

// Two threads, so that the bigger shapes are split over the pool (by rows and by groups of four columns).
await initBackend("wasm", { threads: 2 });

// Columns leaving 0-3 after the fours, one row and many; the biggest split over the threads.
const SHAPES: [number, number][] = [[1, 1], [3, 2], [5, 7], [17, 9], [64, 130], [512, 67], [300, 128]];

/** Every output of LayerNorm forward and backward, and the row sums, on the current backend. */
function outputs(rows: number, columns: number): Record<string, Float32Array> {
  const random = seededRandom(rows * 1000 + columns);
  const values = (n: number, scale: number, shift = 0) =>
    Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale + shift);
  const h = tf.tensor2d(values(rows * columns, 3, 1), [rows, columns]);
  const gamma = tf.tensor2d(values(rows, 0.5, 1), [rows, 1]), beta = tf.tensor2d(values(rows, 0.2), [rows, 1]);
  const dy = tf.tensor2d(values(rows * columns, 1), [rows, columns]);
  const forward = layerNormColumns(h, gamma, beta, 1e-5);
  const backward = layerNormColumnsBackward(dy, forward, gamma);
  const { product, sums: productSums } = multiplyWithRowSums(dy, h);
  const dhPlusResidual = layerNormColumnsBackward(dy, forward, gamma, h).dh;
  const all = { ...forward, ...backward, dhPlusResidual, sums: rowSums(dy), product, productSums };
  return Object.fromEntries(Object.entries(all).map(([name, t]) => [name, t.dataSync() as Float32Array]));
}

Deno.test("column ops' SIMD kernels give the JavaScript's values: LayerNorm, its dh (plus a residual) and x ⊙ y bit for bit, dγ, dβ and row sums to float rounding", async () => {
  assert.equal(kernelPool()?.threads, 2);
  const kernels = SHAPES.map(([rows, columns]) => outputs(rows, columns));
  await tf.setBackend("cpu");
  try {
    assert.equal(kernelPool(), null, "the cpu backend runs the JavaScript loops");
    SHAPES.forEach(([rows, columns], s) => {
      const reference = outputs(rows, columns);
      for (const name of ["y", "xhat", "inv", "dh", "dhPlusResidual", "product"]) {
        assert.deepEqual(kernels[s][name], reference[name], `${name} of ${rows}x${columns}`);
      }
      for (const name of ["dGamma", "dBeta", "sums", "productSums"]) {
        const got = kernels[s][name], want = reference[name];
        for (let i = 0; i < want.length; i++) {
          // The kernel sums in float64; tfjs' sum (the cpu backend's bias gradient) in float32.
          const tolerance = 1e-6 * columns * Math.max(1, Math.abs(want[i]));
          assert.ok(
            Math.abs(got[i] - want[i]) <= tolerance,
            `${name}[${i}] of ${rows}x${columns}: ${got[i]} vs ${want[i]}`,
          );
        }
      }
    });
  } finally {
    await tf.setBackend("wasm");
  }
});
