import assert from "node:assert/strict";
import { OptionError } from "../lib/mod.ts";
import { buildMlp, countParameters, disposeMlp, initBackend } from "../engine/mod.ts";
import { makeTrainConfig, MODEL_PRESETS, modernCacheNote, resumeKey, TRAIN_DEFAULTS } from "./config.ts";

await initBackend("wasm");

const paths = { data: "cache", out: "models/m" };

Deno.test("makeTrainConfig() fills in the defaults and the named net's shape", () => {
  const config = makeTrainConfig(paths);
  assert.deepEqual(config, {
    ...paths,
    model: "part1",
    hidden: [5, 3],
    batchNorm: false,
    dropout: 0,
    residual: undefined,
    l2: 0,
    weightDecay: 0,
    epochs: 10,
    batchSize: 64,
    lr: 0.001,
    decayRate: 0.8,
    schedule: "exponential",
    warmup: 0,
    optimizer: "adam",
    seed: 1,
    valFraction: 0.1,
    valSplit: undefined,
    limitTrain: undefined,
    limitTest: undefined,
    standardize: true,
    augment: undefined,
    mixup: 0,
    labelSmoothing: 0,
    ema: 0,
    tta: "none",
    patience: undefined,
    evalBatchSize: 256,
  });
  // The field order is fixed, whatever order the input had: training.json and checkpoints read the same.
  const reordered = makeTrainConfig({ seed: 1, out: paths.out, data: paths.data });
  assert.equal(JSON.stringify(reordered), JSON.stringify(config));
  const part3 = makeTrainConfig({ ...paths, model: "part3" });
  assert.deepEqual([part3.hidden, part3.batchNorm], [MODEL_PRESETS.part3.hidden, true]);
  assert.equal(TRAIN_DEFAULTS.batchSize, config.batchSize);
});

Deno.test("makeTrainConfig(): other widths make a custom net, BatchNorm only when asked", () => {
  const custom = makeTrainConfig({ ...paths, hidden: [512, 256] });
  assert.deepEqual([custom.model, custom.hidden, custom.batchNorm], ["custom", [512, 256], false]);
  // --model part3 --hidden 64: the widths win, and the net is no longer part3.
  const overridden = makeTrainConfig({ ...paths, model: "part3", hidden: [64] });
  assert.deepEqual([overridden.model, overridden.batchNorm], ["custom", false]);
  const named = makeTrainConfig({ ...paths, model: "part3-narrow", hidden: [8, 8], batchNorm: true });
  assert.deepEqual([named.model, named.batchNorm], ["part3-narrow", true]);
  // The preset's own widths keep the preset.
  assert.equal(makeTrainConfig({ ...paths, model: "part1", hidden: [5, 3] }).model, "part1");
});

Deno.test("makeTrainConfig(): the course preset's settings, and flags given as well still win", () => {
  const course3 = makeTrainConfig({ ...paths, model: "part3", preset: "course" });
  assert.deepEqual(
    [course3.epochs, course3.batchSize, course3.lr, course3.decayRate, course3.seed, course3.standardize],
    [10, 128, 0.1, 0.8, 220, false],
  );
  const course1 = makeTrainConfig({ ...paths, preset: "course" });
  assert.deepEqual([course1.lr, course1.decayRate], [0.01, 1]);
  assert.equal(makeTrainConfig({ ...paths, preset: "course", lr: 0.5 }).lr, 0.5);
});

Deno.test("makeTrainConfig() names the option a bad value came from", () => {
  const cases: [Parameters<typeof makeTrainConfig>[0], RegExp, string][] = [
    [{ ...paths, model: "part9" }, /model must be part1, part3 or resmlp .*got "part9"/, "{model}"],
    [{ ...paths, batchSize: 0 }, /batchSize must be a positive integer, got 0/, "{batchSize}"],
    [{ ...paths, lr: -1 }, /lr must be positive/, "{lr}"],
    [{ ...paths, valSplit: "test" }, /validation never comes from test/, "{valSplit}"],
    [{ ...paths, optimizer: "adagrad" as never }, /optimizer must be one of adam/, "{optimizer}"],
    [{ ...paths, preset: "fast" as never }, /preset must be "course"/, "{preset}"],
  ];
  for (const [input, message, marker] of cases) {
    assert.throws(() => makeTrainConfig(input), (e) => {
      assert.ok(e instanceof OptionError);
      assert.match(e.message, message);
      assert.ok(e.template.includes(marker), e.template);
      return true;
    });
  }
});

Deno.test("resumeKey() leaves out what a resumed run may change", () => {
  const config = makeTrainConfig({ ...paths, patience: 3 });
  const key = resumeKey(config);
  for (const field of ["out", "epochs", "patience", "evalBatchSize"]) assert.ok(!(field in key), field);
  assert.equal(JSON.stringify(resumeKey({ ...config, epochs: 99, out: "elsewhere" })), JSON.stringify(key));
});

Deno.test("the part1 and part3 presets have the assignment's shapes", () => {
  const part1 = buildMlp({ inputSize: 51529, ...MODEL_PRESETS.part1 }, 1);
  assert.deepEqual(part1.layers.map((l) => [l.inputSize, l.outputSize]), [[51529, 5], [5, 3], [3, 1]]);
  assert.equal(countParameters(part1), 51529 * 5 + 5 + 5 * 3 + 3 + 3 + 1);
  disposeMlp(part1);
  // part3 at a small input size (the shape rule is the same; 51,529 inputs would allocate 211 MB).
  const part3 = buildMlp({ inputSize: 100, ...MODEL_PRESETS.part3 }, 1);
  assert.deepEqual(part3.layers.map((l) => [l.inputSize, l.outputSize]), [[100, 1024], [1024, 2048], [2048, 2048], [
    2048,
    1024,
  ], [1024, 1]]);
  assert.ok(part3.layers.slice(0, 4).every((l) => l.gamma && !l.bias));
  disposeMlp(part3);
});

Deno.test("makeTrainConfig() builds the resmlp net, the modern preset from the cache, and lets given fields win", () => {
  const resmlp = makeTrainConfig({ ...paths, model: "resmlp", residual: { width: 256 } });
  assert.deepEqual(resmlp.residual, { width: 256, depth: 4, expansion: 4 });
  assert.throws(
    () => makeTrainConfig({ ...paths, model: "part3", residual: { depth: 2 } }),
    /width, depth and expansion are for model resmlp, not part3/,
  );
  assert.throws(() => makeTrainConfig({ ...paths, preset: "modern" }), /sizes the run from the cache/);
  const modern = makeTrainConfig({ ...paths, preset: "modern", cache: { records: 9000, side: 32 }, lr: 5e-4 });
  assert.equal(modern.model, "resmlp");
  assert.deepEqual(modern.augment, { flip: true, shift: 4 });
  assert.equal(modern.epochs, 67); // about 600,000 samples
  assert.equal(modern.lr, 5e-4); // given wins
  assert.equal(modern.mixup, 0); // measured not to pay (docs/results.md)
  assert.equal(
    makeTrainConfig({ ...paths, preset: "modern", cache: { records: 9000, side: 32 }, mixup: 0.8 }).mixup,
    0.8,
  );
  assert.deepEqual([modern.optimizer, modern.weightDecay, modern.schedule, modern.tta], [
    "adamw",
    0.05,
    "cosine",
    "flip",
  ]);
  const photos = makeTrainConfig({ ...paths, preset: "modern", cache: { records: 200, side: 64 } });
  assert.equal(photos.epochs, 150);
  assert.deepEqual(photos.augment, { flip: true, shift: 0, crop: 0.35 });
  // AdamW and Lion decay weights by PyTorch's AdamW default unless told otherwise.
  assert.equal(makeTrainConfig({ ...paths, optimizer: "adamw" }).weightDecay, 0.01);
  assert.equal(makeTrainConfig({ ...paths, optimizer: "lion", weightDecay: 0 }).weightDecay, 0);
  assert.throws(() => makeTrainConfig({ ...paths, model: "resmlp", dropout: 0.2 }), /not offered for the resmlp/);
  assert.throws(() => makeTrainConfig({ ...paths, schedule: "step" as "cosine" }), /schedule must be/);
  // A resmlp net of the config's shape has the parameters the paper's formula gives.
  const mlp = buildMlp({ inputSize: 100, hidden: [], batchNorm: false, dropout: 0, residual: resmlp.residual }, 1);
  const [w, e] = [256, 4];
  assert.equal(countParameters(mlp), 100 * w + w + 4 * (2 * w + w * e * w + w * e + w * e * w + w) + 2 * w + w + 1);
  disposeMlp(mlp);
});

Deno.test("modernCacheNote() speaks up for gray or large caches only", () => {
  assert.equal(modernCacheNote({ side: 32, channels: 3 }), null);
  assert.equal(modernCacheNote({ side: 64, channels: 3 }), null);
  assert.match(modernCacheNote({ side: 227, channels: 1 })!, /227x227 gray here/);
});
