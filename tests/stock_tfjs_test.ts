/**
 * A trained model means what it says in stock TensorFlow.js: model.json + weights.bin loaded with nothing but
 * `tf.loadLayersModel`, fed a record's pixels exactly as the cache stores them, answers as `classify()`
 * does. The standardisation training applied lives in the first layer, for nets with and without BatchNorm,
 * for a raw-scale cache and for a colour one (whose photos classify() also answers from the files).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeLabelledCache } from "../demo/mod.ts";
import { mirrored, openSplit } from "../pipeline/mod.ts";
import { initBackend, tf } from "../engine/mod.ts";
import { computeMetrics, makeTrainConfig, train, type TrainConfig } from "../train/mod.ts";
import { loadClassifier } from "../infer/mod.ts";

await initBackend("wasm");

/** Loads a model folder the way any tfjs user would, from its two files alone. */
async function loadStock(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
  const weights = await Deno.readFile(join(dir, json.weightsManifest[0].paths[0]));
  return await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
  }));
}

interface StockCase {
  name: string;
  scale: "unit" | "raw";
  hidden?: number[];
  batchNorm?: boolean;
  channels: 1 | 3;
  /** The rest of the config (the residual net and its recipe). */
  recipe?: Partial<TrainConfig>;
}

const cases: StockCase[] = [
  { name: "unit scale, no BatchNorm", scale: "unit" as const, hidden: [6, 3], batchNorm: false, channels: 1 as const },
  { name: "unit scale, BatchNorm", scale: "unit" as const, hidden: [12, 6], batchNorm: true, channels: 1 as const },
  { name: "raw scale, BatchNorm", scale: "raw" as const, hidden: [12, 6], batchNorm: true, channels: 1 as const },
  {
    name: "colour, area kernel, BatchNorm",
    scale: "unit" as const,
    hidden: [12, 6],
    batchNorm: true,
    channels: 3 as const,
  },
  {
    name: "colour, residual MLP with its recipe: AdamW, cosine, MixUp, label smoothing, crops, average, flip averaging",
    scale: "unit",
    channels: 3,
    recipe: {
      model: "resmlp",
      optimizer: "adamw",
      schedule: "cosine",
      warmup: 0.1,
      mixup: 0.4,
      labelSmoothing: 0.1,
      augment: { flip: true, shift: 2, crop: 0.5 },
      ema: 0.9,
      tta: "flip",
    },
  },
];

for (const c of cases) {
  Deno.test(`stock tfjs and classify() agree on cached records (${c.name})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "stock_tfjs_test" });
    const resizeKernel = c.channels === 3 ? "opencv-area" as const : "opencv-linear" as const;
    const { test } = await makeLabelledCache(dir, { train: 120, test: 40, width: 40, height: 30, seed: 12 }, {
      params: { size: 24, scale: c.scale, channels: c.channels, resizeKernel },
    });
    const length = 24 * 24 * c.channels;
    const out = join(dir, "model");
    const result = await train(makeTrainConfig({
      data: join(dir, "cache"),
      out,
      hidden: c.hidden,
      batchNorm: c.batchNorm,
      epochs: 4,
      batchSize: 16,
      lr: 0.01,
      evalBatchSize: 64,
      ...c.recipe,
      ...(c.recipe?.model === "resmlp" ? { residual: { width: 16, depth: 2, expansion: 2 } } : {}),
    }));
    using split = await openSplit(join(dir, "cache", "test"));
    const { values } = await split.readBatch(Array.from({ length: split.count }, (_, i) => i));
    const stock = await loadStock(out);
    const stockPredict = (records: Float32Array) =>
      tf.tidy(() =>
        (stock.predict(tf.tensor2d(records, [split.count, length])) as tf.Tensor).dataSync() as Float32Array
      );
    const viaStock = stockPredict(values);
    if (c.recipe?.tta === "flip") {
      // Flip averaging, as a stock tfjs user would write it: the mean of each record's and its mirror's answers.
      const mirrors = new Float32Array(values.length);
      for (let i = 0; i < split.count; i++) {
        mirrors.set(mirrored(values.subarray(i * length, (i + 1) * length), 24, c.channels), i * length);
      }
      const viaMirrors = stockPredict(mirrors);
      viaStock.forEach((p, i) => viaStock[i] = (p + viaMirrors[i]) / 2);
    }
    stock.dispose();
    const classifier = await loadClassifier(out);
    let worst = 0;
    for (let i = 0; i < split.count; i++) {
      const p = (await classifier.classify(values.slice(i * length, (i + 1) * length))).probability;
      worst = Math.max(worst, Math.abs(p - viaStock[i]));
    }
    assert.equal(classifier.inputSize, length);
    // From the photo itself: the model's stored preprocessing (channels and kernel too) rebuilds the record.
    const fromFile = await classifier.classify(join(dir, test[0].path));
    assert.ok(Math.abs(fromFile.probability - viaStock[0]) < 1e-4, `${fromFile.probability} vs ${viaStock[0]}`);
    classifier.dispose();
    assert.ok(worst < 1e-4, `largest difference ${worst}`);
    // The folded first layer is the trained net: its test metrics, computed by train() on standardised records
    // with the unfolded net, come out the same from stock tfjs on the records as stored.
    const viaTrain = result.metrics.test;
    const stockMetrics = computeMetrics(
      viaStock,
      await split.readBatch([...Array(split.count).keys()]).then((b) => b.labels),
    );
    assert.ok(Math.abs(stockMetrics.loss - viaTrain.loss) < 1e-5, `loss ${stockMetrics.loss} vs ${viaTrain.loss}`);
    assert.equal(stockMetrics.accuracy, viaTrain.accuracy);
    // The answers mean something: not all one class.
    assert.ok(viaStock.some((p) => p > 0.5) && viaStock.some((p) => p < 0.5));
    await Deno.remove(dir, { recursive: true });
  });
}
