import assert from "node:assert/strict";
import { initBackend, tensorMemory, tf } from "../engine/mod.ts";
import { WeightAverage } from "./weight_average.ts";

await initBackend("wasm", { threads: 2 });

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`WeightAverage follows a ← d·a + (1−d)·w with the warm-up decay, and swaps in and out (${backend})`, async () => {
    await tf.setBackend(backend);
    try {
      // A small tensor and one large enough to be split over the threads, with a tail that is not a multiple of 4.
      const tensors = [tf.tensor1d([1, 2, 3, 4, 5]), tf.randomNormal([70_003], 0, 1, "float32", 4) as tf.Tensor1D];
      const average = new WeightAverage(tensors, 0.9);
      const expected = tensors.map((t) => Array.from(t.dataSync()));
      for (let n = 0; n < 3; n++) {
        for (const [i, t] of tensors.entries()) {
          const w = tensorMemory(t);
          for (let k = 0; k < w.length; k++) w[k] += 0.5 * (i + 1) * (n + 1);
        }
        average.update(tensors);
        const d = Math.min(0.9, (1 + n) / (10 + n));
        expected.forEach((e, i) => {
          const w = tensorMemory(tensors[i]);
          e.forEach((a, k) => e[k] = d * a + (1 - d) * w[k]);
        });
      }
      assert.equal(average.updates, 3);
      average.values.forEach((v, i) => {
        let worst = 0;
        v.forEach((a, k) => worst = Math.max(worst, Math.abs(a - expected[i][k])));
        assert.ok(worst < 1e-5, `tensor ${i}: off by ${worst}`);
      });
      const own = tensors.map((t) => t.dataSync().slice());
      const seen = await average.swapIn(tensors, () => Promise.resolve(tensors[0].dataSync().slice()));
      assert.deepEqual(seen, average.values[0].slice());
      assert.deepEqual(tensors.map((t) => t.dataSync()), own);
      average.dispose();
      tensors.forEach((t) => t.dispose());
    } finally {
      await tf.setBackend("wasm");
    }
  });
}
