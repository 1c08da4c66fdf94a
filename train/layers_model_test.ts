import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildMlp,
  disposeMlp,
  initBackend,
  type Mlp,
  parameters,
  predictProbabilities,
  tf,
  trainStep,
} from "../engine/mod.ts";
import { Optimizer } from "./optimizers.ts";
import {
  loadLayersModel,
  ModelFileError,
  type ModelMetadata,
  saveLayersModel,
  weightsFingerprint as fingerprint,
} from "../model/mod.ts";
import { toLayersModel } from "./layers_model.ts";
import { DEFAULT_PREPROCESS } from "../pipeline/mod.ts";

await initBackend("wasm");

const fingerprintOf = async (path: string) => fingerprint(await Deno.readFile(path));

function trainedNet(batchNorm: boolean): Mlp {
  const mlp = buildMlp({ inputSize: 4200, hidden: batchNorm ? [40, 6] : [5, 3], batchNorm, dropout: 0 }, 5);
  const optimizer = new Optimizer(parameters(mlp), { name: "adam" });
  const x = tf.randomNormal([16, 4200], 0, 1, "float32", 1) as tf.Tensor2D;
  const chunks = [tf.slice(x, [0, 0], [16, 4096]) as tf.Tensor2D, tf.slice(x, [0, 4096], [16, 104]) as tf.Tensor2D];
  const labels = tf.tensor2d(Array.from({ length: 16 }, (_, i) => i % 2), [1, 16]);
  for (let i = 0; i < 3; i++) {
    const r = trainStep(mlp, { chunks, labels });
    optimizer.apply(r.gradients, 0.01);
    r.gradients.forEach((g) => g.dispose());
  }
  optimizer.dispose();
  return mlp;
}

const metadata = (inputSize: number): ModelMetadata => ({
  inputSize,
  classes: ["not_dog", "dog"],
  preprocess: DEFAULT_PREPROCESS,
  standardize: null,
  architecture: { model: "test", hidden: [], batchNorm: false, dropout: 0 },
});

for (const batchNorm of [false, true]) {
  Deno.test(`saveLayersModel() writes, byte for byte, what tfjs' own model.save() hands its handler (batchNorm ${batchNorm})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "model_files_test" });
    const mlp = trainedNet(batchNorm);
    const model = toLayersModel(mlp);
    await saveLayersModel(dir, model, metadata(4200));
    let artifacts!: tf.io.ModelArtifacts;
    await model.save(tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } });
    }));
    const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
    assert.deepEqual(
      await Deno.readFile(join(dir, "weights.bin")),
      new Uint8Array(artifacts.weightData as ArrayBuffer),
    );
    assert.deepEqual(json.weightsManifest[0].weights, artifacts.weightSpecs);
    assert.deepEqual(json.modelTopology, artifacts.modelTopology);
    assert.equal(json.format, artifacts.format);
    assert.equal(json.generatedBy, artifacts.generatedBy);
    model.dispose();
    disposeMlp(mlp);
    await Deno.remove(dir, { recursive: true });
  });

  Deno.test(`saveLayersModel() round trip: the loaded tfjs model predicts what the net does (batchNorm ${batchNorm})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "model_files_test" });
    const mlp = trainedNet(batchNorm);
    const model = toLayersModel(mlp);
    await saveLayersModel(dir, model, metadata(4200));
    model.dispose();
    const loaded = await loadLayersModel(dir);
    const { weightsFingerprint, ...rest } = loaded.metadata;
    assert.deepEqual(rest, metadata(4200));
    assert.equal(weightsFingerprint, await fingerprintOf(join(dir, "weights.bin")));
    const x = tf.randomNormal([7, 4200], 0, 1, "float32", 2) as tf.Tensor2D;
    const ours = predictProbabilities(mlp, [
      tf.slice(x, [0, 0], [7, 4096]) as tf.Tensor2D,
      tf.slice(x, [0, 4096], [7, 104]) as tf.Tensor2D,
    ]);
    const theirs = loaded.model.predict(x) as tf.Tensor;
    const [a, b] = [ours.dataSync(), theirs.dataSync()];
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `sample ${i}: ${a[i]} vs ${b[i]}`);
    const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
    assert.equal(json.format, "layers-model");
    assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
    loaded.model.dispose();
    disposeMlp(mlp);
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("loadLayersModel() names a missing directory, a missing or truncated weights file and a broken model.json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "model_files_test" });
  await assert.rejects(
    () => loadLayersModel(join(dir, "nope")),
    (e) => e instanceof ModelFileError && /model directory .*nope does not exist/.test(e.message),
  );
  const mlp = trainedNet(false);
  const model = toLayersModel(mlp);
  await saveLayersModel(dir, model, metadata(4200));
  const weights = await Deno.readFile(join(dir, "weights.bin"));
  await Deno.writeFile(join(dir, "weights.bin"), weights.subarray(0, 1000));
  await assert.rejects(
    () => loadLayersModel(dir),
    /weights\.bin is 1000 bytes, .* describes \d+: the files do not belong together or one is truncated/,
  );
  await Deno.remove(join(dir, "weights.bin"));
  await assert.rejects(() => loadLayersModel(dir), /weights\.bin is missing: .* is not a complete model directory/);
  await Deno.writeTextFile(join(dir, "model.json"), '{"modelTopology": {');
  await assert.rejects(() => loadLayersModel(dir), /model\.json is not valid JSON/);
  model.dispose();
  disposeMlp(mlp);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loadLayersModel() refuses weights.bin of another save beside model.json (a model caught mid-replacement)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "model_files_test" });
  const [first, second] = [
    trainedNet(false),
    buildMlp({ inputSize: 4200, hidden: [5, 3], batchNorm: false, dropout: 0 }, 9),
  ];
  for (const [name, mlp] of [["a", first], ["b", second]] as const) {
    const model = toLayersModel(mlp);
    await saveLayersModel(join(dir, name), model, metadata(4200));
    model.dispose();
    disposeMlp(mlp);
  }
  // What a reader sees between the two renames of a save over an older model: new weights, old model.json.
  await Deno.copyFile(join(dir, "b", "weights.bin"), join(dir, "a", "weights.bin"));
  await assert.rejects(
    () => loadLayersModel(join(dir, "a")),
    (e) => e instanceof ModelFileError && /weights\.bin is not the one .*model\.json was written with/.test(e.message),
  );
  const loaded = await loadLayersModel(join(dir, "b"));
  assert.match(loaded.metadata.weightsFingerprint ?? "", /^[0-9a-f]{64}$/);
  loaded.model.dispose();
  await Deno.remove(dir, { recursive: true });
});
