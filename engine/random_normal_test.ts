import assert from "node:assert/strict";
import { fillRandomNormal } from "./random_normal_source.ts";
import { initBackend, tf } from "./tf.ts";

await initBackend("cpu");

Deno.test("fillRandomNormal gives tf.randomNormal's values bit for bit", () => {
  for (const [seed, count, mean, std] of [[1, 1, 0, 1], [7919, 1001, 0, 0.0062], [123456789, 4097, 0.5, 2]]) {
    const expected = tf.tidy(() => tf.randomNormal([count], mean, std, "float32", seed).dataSync());
    const actual = new Float32Array(count);
    fillRandomNormal(actual, mean, std, seed);
    assert.deepEqual(actual, expected, `seed ${seed}, ${count} values`);
  }
});
