import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildMlp,
  chunkRanges,
  disposeMlp,
  initBackend,
  type Mlp,
  predictProbabilities,
  tensorMemory,
  tf,
  trainStep,
} from "../engine/mod.ts";
import { loadLayersModel, type ModelMetadata, readModelFiles, saveLayersModel } from "../model/mod.ts";
import { DEFAULT_PREPROCESS } from "../pipeline/mod.ts";
import { toLayersModel } from "../train/mod.ts";
import { seededRandom } from "../lib/mod.ts";
import { loadClassifier } from "./mod.ts";
import { netFromModelFiles } from "./net.ts";

await initBackend("wasm");

const INPUTS = 72 * 72; // two column chunks, as part3's first layer has thirteen

/** A net whose BatchNorm statistics are not the initial ones: a few training steps in. */
function trainedNet(batchNorm: boolean): Mlp {
  const mlp = buildMlp({ inputSize: INPUTS, hidden: batchNorm ? [48, 16] : [5, 3], batchNorm, dropout: 0 }, 3);
  const random = seededRandom(4);
  for (let step = 0; step < 3; step++) {
    const chunks = chunkRanges(INPUTS).map(([a, b]) =>
      tf.tensor2d(Float32Array.from({ length: 8 * (b - a) }, () => random()), [8, b - a])
    );
    const labels = tf.tensor2d([0, 1, 0, 1, 1, 0, 1, 0], [1, 8]);
    trainStep(mlp, { chunks, labels }).gradients.forEach((g) => g.dispose());
    chunks.forEach((c) => c.dispose());
    labels.dispose();
  }
  return mlp;
}

/**
 * Asserts that the engine's net loaded from `dir` answers 12 random records exactly as `original` does and as
 * tfjs-layers' own model from the same files does to 1e-5; returns the records and tfjs-layers' answers.
 */
async function assertSameAnswers(dir: string, net: Mlp, original: Mlp, seed: number) {
  const random = seededRandom(seed);
  const records = Array.from({ length: 12 }, () => Float32Array.from({ length: INPUTS }, () => random()));
  const chunks = chunkRanges(INPUTS).map(([a, b]) =>
    tf.tensor2d(Float32Array.from(records.flatMap((r) => Array.from(r.subarray(a, b)))), [12, b - a])
  );
  const [viaNet, viaOriginal] = [net, original].map((m) => predictProbabilities(m, chunks).dataSync());
  const { model } = await loadLayersModel(dir);
  const batch = Float32Array.from(records.flatMap((r) => Array.from(r)));
  const viaLayers = tf.tidy(() => (model.predict(tf.tensor2d(batch, [12, INPUTS])) as tf.Tensor).dataSync());
  for (let i = 0; i < 12; i++) {
    assert.equal(viaNet[i], viaOriginal[i], "the same weights in the same engine");
    assert.ok(Math.abs(viaNet[i] - viaLayers[i]) < 1e-5, `record ${i}: ${viaNet[i]} vs ${viaLayers[i]}`);
  }
  model.dispose();
  chunks.forEach((c) => c.dispose());
  return { records, viaLayers };
}

/** Saves `layers` as the tests' 72×72 gray model of INPUTS values, with `architecture` in its metadata. */
function saveTestModel(dir: string, layers: tf.LayersModel, architecture: ModelMetadata["architecture"]) {
  return saveLayersModel(dir, layers, {
    inputSize: INPUTS,
    classes: ["not_dog", "dog"],
    preprocess: { ...DEFAULT_PREPROCESS, size: 72 },
    standardize: null,
    architecture,
  });
}

for (const batchNorm of [false, true]) {
  Deno.test(`netFromModelFiles() answers as tfjs-layers and the original net do (BatchNorm ${batchNorm})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "net_test" });
    const original = trainedNet(batchNorm);
    const layers = toLayersModel(original);
    await saveTestModel(dir, layers, { model: "custom", hidden: original.spec.hidden, batchNorm, dropout: 0 });
    layers.dispose();
    const net = netFromModelFiles(await readModelFiles(dir))!;
    assert.ok(net, "the project's own chain goes on the engine");
    const { records, viaLayers } = await assertSameAnswers(dir, net, original, 9);
    // And classify() (which now runs on it) gives tfjs-layers' answers to 1e-5.
    const classifier = await loadClassifier(dir);
    const answers = await classifier.classifyBatch(records);
    answers.forEach((a, i) => assert.ok(Math.abs((a as { probability: number }).probability - viaLayers[i]) < 1e-5));
    classifier.dispose();
    disposeMlp(net);
    disposeMlp(original);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("netFromModelFiles() leaves any other topology to tfjs-layers, and classify() still answers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "net_test" });
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 4, activation: "tanh", inputShape: [64] }),
      tf.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  await saveLayersModel(join(dir), model, {
    inputSize: 64,
    classes: ["not_dog", "dog"],
    preprocess: { ...DEFAULT_PREPROCESS, size: 8 },
    standardize: null,
    architecture: { model: "custom", hidden: [4], batchNorm: false, dropout: 0 },
  });
  assert.equal(netFromModelFiles(await readModelFiles(dir)), null);
  const record = new Float32Array(64).fill(0.5);
  const expected = tf.tidy(() => (model.predict(tf.tensor2d(record, [1, 64])) as tf.Tensor).dataSync()[0]);
  const classifier = await loadClassifier(dir);
  assert.ok(Math.abs((await classifier.classify(record)).probability - expected) < 1e-6);
  classifier.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("netFromModelFiles() puts the residual MLP on the engine, answering as tfjs-layers and the original", async () => {
  const dir = await Deno.makeTempDir({ prefix: "net_test" });
  const residual = { width: 24, depth: 2, expansion: 3 };
  const original = buildMlp({ inputSize: INPUTS, hidden: [], batchNorm: false, dropout: 0, residual }, 5);
  const random = seededRandom(6);
  // LayerNorm's scales and shifts and every bias away from their initial 1s and 0s, so each is seen to load.
  const net0 = original.residual!;
  const tensors = [net0.finalNorm.gamma, net0.finalNorm.beta, net0.input.bias!, net0.output.bias!];
  for (const block of net0.blocks) tensors.push(block.norm.gamma, block.norm.beta, block.up.bias!, block.down.bias!);
  for (const t of tensors) tensorMemory(t).set(Float32Array.from({ length: t.size }, () => random() - 0.5));
  const layers = toLayersModel(original);
  await saveTestModel(dir, layers, { model: "resmlp", hidden: [], batchNorm: false, dropout: 0, residual });
  layers.dispose();
  const net = netFromModelFiles(await readModelFiles(dir));
  assert.ok(net?.residual, "the project's residual MLP goes on the engine");
  await assertSameAnswers(dir, net, original, 7);
  disposeMlp(net);
  disposeMlp(original);
  // The same files with the metadata naming another shape are left to tfjs-layers.
  const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
  json.userDefinedMetadata.dognet.architecture.residual.expansion = 4;
  await Deno.writeTextFile(join(dir, "model.json"), JSON.stringify(json));
  assert.equal(netFromModelFiles(await readModelFiles(dir)), null);
  await Deno.remove(dir, { recursive: true });
});
