import assert from "node:assert/strict";
import { initBackend, tf } from "./tf.ts";
import { transpose2d } from "./transpose.ts";
import { seededRandom } from "../lib/mod.ts";

await initBackend("wasm", { threads: 2 });

// Odd shapes (rows and columns not multiples of 4, a tile of 64 and a bit), big enough to be split.
const SHAPES = [[1, 1], [3, 5], [4, 4], [7, 65], [64, 130], [130, 64], [257, 263], [2, 40000]];

for (const [rows, columns] of SHAPES) {
  Deno.test(`transpose2d() of [${rows}, ${columns}] equals tf.transpose bit for bit`, () => {
    const random = seededRandom(rows * 1000 + columns);
    const x = tf.tensor2d(Float32Array.from({ length: rows * columns }, () => random() * 2 - 1), [rows, columns]);
    const ours = transpose2d(x), theirs = tf.transpose(x);
    assert.deepEqual(ours.shape, [columns, rows]);
    assert.deepEqual(Array.from(ours.dataSync()), Array.from(theirs.dataSync()));
    tf.dispose([x, ours, theirs]);
  });
}
