import assert from "node:assert/strict";
import { join } from "node:path";
import { makeLabelledCache } from "../demo/mod.ts";
import { CorruptShardError, preprocess, SplitFormatError } from "../pipeline/mod.ts";
import { initBackend } from "../engine/mod.ts";
import { acquireLock, LockedError, OptionError } from "../lib/mod.ts";
import { learningRate, train, TrainingDivergedError } from "./fit.ts";
import { makeTrainConfig, type TrainConfig } from "./config.ts";
import { CheckpointError } from "./checkpoint.ts";
import { readPredictions } from "./run_record.ts";
import { computeMetrics } from "./metrics.ts";
import { loadLayersModel } from "../model/mod.ts";
import { batchStatisticsAccuracy } from "../experiments/mod.ts";

await initBackend("wasm");

/** A cached, learnable fixture: 16x16 gray, top-bright = dog. */
async function cache(size = 16) {
  const dir = await Deno.makeTempDir({ prefix: "train_test" });
  await makeLabelledCache(dir, { train: 160, test: 60, width: 24, height: 24, seed: 11 }, { params: { size } });
  return dir;
}

/** Runs `config` until its epoch `epoch` is checkpointed, then crashes, as a killed run would stop. */
async function crashAfterEpoch(config: TrainConfig, epoch: number): Promise<void> {
  const hooks = {
    onEpoch: (r: { epoch: number }) => {
      if (r.epoch === epoch) throw new Error("simulated crash");
    },
  };
  await assert.rejects(() => train(config, { hooks }), /simulated crash/);
}

const base = (dir: string, out: string): TrainConfig =>
  makeTrainConfig({
    data: join(dir, "cache"),
    out: join(dir, out),
    epochs: 6,
    batchSize: 16,
    lr: 0.01,
    decayRate: 0.9,
    seed: 3,
    valFraction: 0.2,
    evalBatchSize: 64,
  });

Deno.test("train() learns the fixture task, keeps the tensor count flat and writes a loadable model", async () => {
  const dir = await cache();
  const result = await train(base(dir, "model"));
  assert.ok(result.metrics.test.accuracy >= 0.9, `test accuracy ${result.metrics.test.accuracy}`);
  assert.ok(result.metrics.train.accuracy >= 0.9);
  assert.equal(result.history.length, 6);
  assert.ok(
    result.history.every((r) => r.tensors === result.history[0].tensors),
    `tensors per epoch: ${result.history.map((r) => r.tensors)}`,
  );
  // The learning rate decays per epoch: lr * decay^epoch.
  assert.ok(Math.abs(result.history[2].lr - 0.01 * 0.9 ** 2) < 1e-12);
  const loaded = await loadLayersModel(join(dir, "model"));
  assert.equal(loaded.metadata.inputSize, 256);
  assert.deepEqual(loaded.metadata.classes, ["not_dog", "dog"]);
  loaded.model.dispose();
  for (const file of ["model.json", "weights.bin", "training.json", "history.csv", "curves.svg", "pixel-stats.f32"]) {
    assert.ok((await Deno.stat(join(dir, "model", file))).size > 0, file);
  }
  const record = JSON.parse(await Deno.readTextFile(join(dir, "model", "training.json")));
  assert.equal(record.config.batchSize, 16);
  assert.equal(record.preprocess.size, 16);
  assert.match(
    await Deno.readTextFile(join(dir, "model", "curves.svg")),
    /^<svg[^>]+>[\s\S]*validation[\s\S]*<\/svg>\n$/,
  );
  // predictions.csv: every validation and test record, its source photo, and the kept model's P(dog), from which
  // the recorded test metrics follow.
  const rows = await readPredictions(join(dir, "model"));
  const test = rows.filter((r) => r.split === "test"), validation = rows.filter((r) => r.split === "validation");
  assert.equal(test.length, result.metrics.test.count);
  assert.equal(validation.length, result.metrics.validation!.count);
  assert.deepEqual(test.map((r) => r.index), [...Array(test.length).keys()]);
  const fromRows = computeMetrics(test.map((r) => r.probability), test.map((r) => r.label));
  assert.ok(Math.abs(fromRows.loss - result.metrics.test.loss) < 1e-6);
  assert.equal(test[7].path, join(dir, "images", "test", "00007.jpg"));
  assert.equal(test[7].label, 1);
  for (const row of [...test.slice(0, 3), ...validation.slice(0, 3)]) assert.ok((await Deno.stat(row.path)).isFile);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train() with --resume after an interruption ends with the same weights as an uninterrupted run", async () => {
  const dir = await cache();
  // Dropout and augmentation draw random numbers every epoch: a resumed run must draw the same ones.
  const config = { ...base(dir, "whole"), epochs: 4, dropout: 0.2, augment: { flip: true, shift: 2 } };
  await train(config);
  const interrupted = { ...config, out: join(dir, "interrupted") };
  await crashAfterEpoch(interrupted, 2);
  const resumed = await train(interrupted, { resume: true });
  assert.equal(resumed.history.length, 4);
  // Resuming with other settings would not continue the same run: refused, naming both.
  await assert.rejects(
    () => train({ ...interrupted, lr: 0.5 }, { resume: true }),
    (e) =>
      e instanceof CheckpointError && /made with different settings:\n {2}checkpoint: .*"lr":0\.01/.test(e.message),
  );
  const [a, b] = await Promise.all(["whole", "interrupted"].map((d) => Deno.readFile(join(dir, d, "weights.bin"))));
  assert.deepEqual(a, b);
  // The augmentation really changed what was trained on.
  await train({ ...config, augment: undefined, out: join(dir, "plain") });
  assert.notDeepEqual(await Deno.readFile(join(dir, "plain", "weights.bin")), a);
  const record = JSON.parse(await Deno.readTextFile(join(dir, "whole", "training.json")));
  assert.deepEqual(record.config.augment, { flip: true, shift: 2 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train() resumes the residual net's recipe exactly: crops, MixUp, cosine steps, the average of the weights", async () => {
  const dir = await cache();
  const { hidden: _hidden, batchNorm: _batchNorm, ...plain } = base(dir, "whole");
  const config = makeTrainConfig({
    ...plain,
    model: "resmlp",
    residual: { width: 8, depth: 2, expansion: 2 },
    epochs: 4,
    optimizer: "lion",
    lr: 1e-3,
    schedule: "cosine",
    warmup: 0.2,
    mixup: 0.5,
    labelSmoothing: 0.1,
    augment: { flip: true, shift: 1, crop: 0.6 },
    ema: 0.95,
    tta: "flip",
  });
  const whole = await train(config);
  const interrupted = { ...config, out: join(dir, "interrupted") };
  await crashAfterEpoch(interrupted, 2);
  const resumed = await train(interrupted, { resume: true });
  assert.deepEqual(resumed.history.map((r) => r.valLoss), whole.history.map((r) => r.valLoss));
  const [a, b] = await Promise.all(["whole", "interrupted"].map((d) => Deno.readFile(join(dir, d, "weights.bin"))));
  assert.deepEqual(a, b);
  // The learning rate rose through the warmup, then fell along the cosine.
  const lrs = whole.history.map((r) => r.lr);
  assert.ok(lrs[0] < lrs[1] && lrs[1] > lrs[2] && lrs[2] > lrs[3], `lr per epoch ${lrs}`);
  // The kept model is the average: without it, the same run keeps other weights.
  await train({ ...config, ema: 0, out: join(dir, "no-average") });
  assert.notDeepEqual(await Deno.readFile(join(dir, "no-average", "weights.bin")), a);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("learningRate() warms up linearly, then decays per epoch or along a cosine to 0", () => {
  const config = makeTrainConfig({ data: "c", out: "o", lr: 1, epochs: 10, warmup: 0.1, schedule: "cosine" });
  assert.equal(learningRate(config, 0, 0, 10), 0.1); // step 1 of 10 warmup steps
  assert.equal(learningRate(config, 0, 9, 10), 1);
  assert.ok(Math.abs(learningRate(config, 5, 5, 10) - 0.5) < 0.02); // half way through the cosine
  assert.ok(learningRate(config, 9, 9, 10) < 1e-3);
  const exponential = makeTrainConfig({ data: "c", out: "o", lr: 1, decayRate: 0.5 });
  assert.equal(learningRate(exponential, 3, 7, 10), 0.125); // the assignment's: per epoch, whatever the step
});

Deno.test("train() refuses bad settings and bad caches before training", async () => {
  const dir = await cache();
  await assert.rejects(
    () => train({ ...base(dir, "m"), batchSize: 0 }),
    (e) => e instanceof OptionError && /batchSize must be a positive integer, got 0/.test(e.message),
  );
  await assert.rejects(() => train({ ...base(dir, "m"), data: join(dir, "nowhere") }), /manifest\.json is missing/);
  await train({ ...base(dir, "m"), epochs: 1 });
  await assert.rejects(
    () => train({ ...base(dir, "m"), epochs: 1 }),
    /already holds a model .*set force to replace it/,
  );
  // A test split of another size.
  await preprocess({ csvs: [join(dir, "test.csv")], out: join(dir, "cache"), params: { size: 12 } });
  await assert.rejects(
    () => train({ ...base(dir, "m2") }),
    (e) => e instanceof SplitFormatError && /train records are 16x16 but test records are 12x12/.test(e.message),
  );
  // A shard that disagrees with its manifest.
  await preprocess({ csvs: [join(dir, "test.csv")], out: join(dir, "cache"), params: { size: 16 } });
  await Deno.writeFile(join(dir, "cache", "train", "shard-00000.f32"), new Uint8Array(100));
  await assert.rejects(() => train({ ...base(dir, "m3") }), /shard-00000\.f32 is 100 bytes, manifest says 160 records/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train() can validate on a split of its own (--val-split), never on test", async () => {
  const dir = await cache();
  await Deno.copyFile(join(dir, "test.csv"), join(dir, "validation.csv"));
  await preprocess({ csvs: [join(dir, "validation.csv")], out: join(dir, "cache"), params: { size: 16 } });
  const result = await train({ ...base(dir, "m"), epochs: 2, valSplit: "validation" });
  assert.equal(result.metrics.validation?.count, 60);
  assert.equal(result.metrics.train.count, 160); // nothing held out of train
  await assert.rejects(() => train({ ...base(dir, "m2"), valSplit: "test" }), /validation never comes from test/);
  // The assignment's debugging trick: --limit-train 100 --limit-test 10 --batch-size 10, stratified.
  const small = await train({
    ...base(dir, "m3"),
    epochs: 1,
    batchSize: 10,
    limitTrain: 100,
    limitTest: 10,
    valFraction: 0.1,
  });
  assert.equal(small.metrics.train.count + small.metrics.validation!.count, 100);
  assert.equal(small.metrics.test.count, 10);
  assert.equal(small.metrics.test.majorityAccuracy, 0.5);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("test accuracy with BatchNorm in training mode: train() and the saved tfjs-layers model agree", async () => {
  const dir = await cache();
  // Barely trained, so that accuracies are far from 100% and the comparison means something.
  const config = { ...base(dir, "bn"), hidden: [12, 8], batchNorm: true, epochs: 1, lr: 1e-4, batchSize: 8 };
  const result = await train(config);
  const viaFit = result.metrics.testBatchStatistics!;
  assert.equal(viaFit.count, 60);
  // Same batches (seeded order, training batch size) through tfjs-layers' BatchNormalization in training mode.
  const viaLayers = await batchStatisticsAccuracy(join(dir, "bn"), join(dir, "cache", "test"), {
    batchSize: config.batchSize,
    seed: config.seed,
  });
  assert.ok(Math.abs(viaLayers - viaFit.accuracy) <= 1 / 60, `layers ${viaLayers} vs fit ${viaFit.accuracy}`);
  const part1 = await train({ ...base(dir, "p1"), epochs: 1 });
  assert.equal(part1.metrics.testBatchStatistics, null);
  await Deno.remove(dir, { recursive: true });
});

/** Overwrites four bytes at `offset` of a shard with `value` as float32. */
async function poke(path: string, record: number, recordSize: number, value: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  new DataView(bytes.buffer).setFloat32((record * recordSize + 17) * 4, value, true);
  await Deno.writeFile(path, bytes);
}

Deno.test("train() refuses a shard that changed after preprocessing, naming split, shard and record", async () => {
  const dir = await cache();
  const shard = join(dir, "cache", "train", "shard-00000.f32");
  // A finite value changed in the middle of the shard: only its digest tells.
  await poke(shard, 80, 256, 3.4e38);
  await assert.rejects(
    () => train({ ...base(dir, "m"), epochs: 1 }),
    (e) =>
      e instanceof CorruptShardError &&
      /train\/shard-00000\.f32 \(split .*cache\/train\) has sha256 /.test(e.message) &&
      /rerun `deno task preprocess`/.test(e.message),
  );
  // Unverified, the 3.4e38 pixel reaches the net, and blows it up: even so the run stops rather than save it.
  await assert.rejects(
    () => train({ ...base(dir, "m"), epochs: 1 }, { verify: false, force: true }),
    TrainingDivergedError,
  );
  // ...but a value that is not finite never reaches the net, verified or not.
  await poke(shard, 80, 256, NaN);
  for (const verify of [true, false]) {
    await assert.rejects(
      () => train({ ...base(dir, "m"), epochs: 1 }, { verify, force: true }),
      (e) => e instanceof CorruptShardError && /shard-00000\.f32: record 80 .* holds NaN at pixel 17/.test(e.message),
      `verify ${verify}`,
    );
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train() stops a run whose loss stops being finite, naming epoch, batch and learning rate", async () => {
  const dir = await cache();
  const lines: string[] = [];
  const config = { ...base(dir, "m"), lr: 1e20, optimizer: "sgd" as const, standardize: false };
  await assert.rejects(
    () => train(config, { hooks: { log: (line) => lines.push(line) } }),
    (e) =>
      e instanceof TrainingDivergedError &&
      /diverged at epoch 1, batch \d+, learning rate 1\.00e\+20: the loss \(NaN\) stopped being finite/.test(
        e.message,
      ) && /nothing was saved\. Try a learning rate ten times lower \(lr 1\.00e\+19\)/.test(e.message),
  );
  // Nothing that looks like a model or a checkpoint is left.
  const names = [...Deno.readDirSync(join(dir, "m"))].map((e) => e.name);
  assert.deepEqual(names.filter((n) => n !== ".lock"), []);
  // A loss that climbs far above its start but stays finite warns, once.
  const climbing = { ...base(dir, "m2"), lr: 1e6, standardize: false, epochs: 2 };
  const warned: string[] = [];
  await train(climbing, { hooks: { log: (line) => warned.push(line) } });
  const warnings = warned.filter((l) => l.startsWith("warning:"));
  assert.equal(warnings.length, 1, warned.join("\n"));
  assert.match(warnings[0], /over 100 times where it started .* learning rate \(1\.00e\+6\) is probably too high/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train() holds the model folder's lock for the length of a run", async () => {
  const dir = await cache();
  await using _holder = await acquireLock(join(dir, "m"), "another run");
  await assert.rejects(
    () => train({ ...base(dir, "m"), epochs: 1 }),
    (e) => e instanceof LockedError && /in use by another run \(another run, pid \d+/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
