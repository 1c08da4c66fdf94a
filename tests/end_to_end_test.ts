/**
 * End to end, through the public entry points of each stage: preprocess a generated
 * image set, train on the cache, and classify the source images with infer/mod.ts,
 * which knows nothing of the size, scale or statistics the model was trained with.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeJpeg, makeLabelledCache, renderTaskImage } from "../demo/mod.ts";
import { seededRandom } from "../lib/mod.ts";
import { openSplit } from "../pipeline/mod.ts";
import { initBackend, tf } from "../engine/mod.ts";
import { makeTrainConfig, train } from "../train/mod.ts";
import { loadLayersModel } from "../model/mod.ts";
import { classify } from "../infer/mod.ts";

await initBackend("wasm");

Deno.test("preprocess -> train -> classify: classify() repeats the model's preprocessing (20x20, raw scale) and matches its prediction on the cache", async () => {
  const dir = await Deno.makeTempDir({ prefix: "classify_test" });
  const { test } = await makeLabelledCache(dir, { train: 120, test: 20, width: 40, height: 30, seed: 4 }, {
    params: { size: 20, scale: "raw" },
  });
  await train(makeTrainConfig({
    data: join(dir, "cache"),
    out: join(dir, "model"),
    hidden: [8],
    batchNorm: true,
    epochs: 5,
    batchSize: 16,
    lr: 0.01,
    decayRate: 1,
    seed: 2,
    evalBatchSize: 64,
  }));
  // The model's own prediction on record 3 of the cached test split...
  const split = await openSplit(join(dir, "cache", "test"));
  const record = await split.readRecord(3);
  split.close();
  // (The saved model takes the record as the cache stores it: its first layer holds the standardisation.)
  const { model } = await loadLayersModel(join(dir, "model"));
  const expected = tf.tidy(() => (model.predict(tf.tensor2d(record, [1, 400])) as tf.Tensor).dataSync()[0]);
  model.dispose();
  // ...equals classify() on the source image, which knows nothing of size, scale or statistics.
  const result = await classify(join(dir, test[3].path), { model: join(dir, "model") });
  assert.ok(Math.abs(result.probability - expected) < 1e-5, `${result.probability} vs ${expected}`);
  // And a new photo of each class is labelled right.
  const random = seededRandom(77);
  const dog = await encodeJpeg(renderTaskImage(1, 80, 60, random), 80, 60);
  const other = await encodeJpeg(renderTaskImage(0, 80, 60, random), 80, 60);
  assert.equal((await classify(dog, { model: join(dir, "model") })).isDog, true);
  assert.equal((await classify(other, { model: join(dir, "model") })).isDog, false);
  await Deno.remove(dir, { recursive: true });
});
