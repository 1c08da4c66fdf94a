import assert from "node:assert/strict";
import { createKernelPool } from "./kernel_pool.ts";
import { biasGeluRows } from "./gelu_source.ts";
import { seededRandom } from "../lib/mod.ts";

// Columns with 0-3 values after the fours, one row and many; values across GELU's range, its edges included.
const SHAPES: [number, number][] = [[1, 1], [1, 3], [3, 4], [5, 7], [17, 33], [64, 130]];
const EDGES = [0, -0, 1e-30, -1e-30, 3, -3, 9, -9, 14, -14, 100, -100, 1e30, -1e30];

for (const threads of [1, 2]) {
  Deno.test(`the SIMD GELU kernel gives the JavaScript formula's values to float32 rounding (${threads} thread(s))`, async () => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    let top = memory.buffer.byteLength;
    const pool = await createKernelPool({ memory, malloc: (bytes) => (top -= bytes) }, { threads });
    const random = seededRandom(3);
    try {
      for (const [rows, columns] of SHAPES) {
        const size = rows * columns;
        // z, bias, a, d one after another with a guard float after each output.
        const [z, bias, a, d] = [64, 64 + 4 * size, 64 + 4 * (size + rows), 64 + 4 * (2 * size + rows + 1)];
        const view = (pointer: number, count: number) => new Float32Array(memory.buffer, pointer, count);
        view(z, size).set(
          Float32Array.from({ length: size }, (_, i) => i < EDGES.length ? EDGES[i] : random() * 12 - 6),
        );
        view(bias, rows).set(Float32Array.from({ length: rows }, (_, r) => r === 0 ? 0 : random() - 0.5));
        view(a + 4 * size, 1)[0] = view(d + 4 * size, 1)[0] = 12345;
        const parts = Math.min(threads, rows);
        pool.run(
          "bias_gelu",
          Array.from(
            { length: parts },
            (
              _,
              t,
            ) => [z, bias, a, d, rows, columns, Math.floor((rows * t) / parts), Math.floor((rows * (t + 1)) / parts)],
          ),
        );
        const expectedA = new Float32Array(size), expectedD = new Float32Array(size);
        biasGeluRows(view(z, size), view(bias, rows), expectedA, expectedD, 0, rows, columns);
        const gotA = view(a, size), gotD = view(d, size);
        for (let i = 0; i < size; i++) {
          const where = `${rows}x${columns} [${i}] u = ${view(z, size)[i] + view(bias, rows)[Math.floor(i / columns)]}`;
          const scale = Math.max(1, Math.abs(expectedA[i]));
          assert.ok(Math.abs(gotA[i] - expectedA[i]) <= 4e-7 * scale, `GELU ${where}: ${gotA[i]} vs ${expectedA[i]}`);
          assert.ok(Math.abs(gotD[i] - expectedD[i]) <= 4e-7, `GELU' ${where}: ${gotD[i]} vs ${expectedD[i]}`);
        }
        assert.equal(view(a + 4 * size, 1)[0], 12345, `${rows}x${columns}: wrote past the end of a`);
        assert.equal(view(d + 4 * size, 1)[0], 12345, `${rows}x${columns}: wrote past the end of d`);
      }
    } finally {
      pool.dispose();
    }
  });
}
