/**
 * `deno task train`: trains part1, part3 or the residual MLP on a preprocessed cache and writes a model directory.
 * @module
 */
import { defineCommand, runCli, UsageError } from "../lib/mod.ts";
import { describeBackend, initBackend, stopBackendThreads } from "../engine/mod.ts";
import {
  checkPresetFitsCache,
  type LrSchedule,
  makeTrainConfig,
  modernCacheNote,
  parseWidths,
  presetCacheInfo,
  type TrainPreset,
  type TtaMode,
} from "./config.ts";
import { formatEpoch, train } from "./fit.ts";
import { parseAugment } from "./augment.ts";
import { formatConfusion, type Metrics } from "./metrics.ts";
import type { OptimizerName } from "./optimizers.ts";
import { runEnvironment } from "./run_record.ts";

const TRAIN_COMMAND = defineCommand({
  usage: "deno task train --data CACHE --out MODEL_DIR [options]",
  description:
    "Trains on CACHE/train (a stratified part held out for validation), evaluates on CACHE/test once at the end.",
  flags: {
    data: { type: "string", value: "CACHE", required: true, help: "the folder `deno task preprocess` wrote" },
    out: { type: "string", value: "MODEL_DIR", required: true, help: "the model directory to write" },
    model: {
      type: "string",
      value: "NAME",
      help: "part1: inputs -> 5 -> 3 -> 1 (ReLU); part3: inputs -> 1024 -> 2048 -> 2048 -> 1024 -> 1\n" +
        "(Dense -> BatchNorm -> ReLU); resmlp: inputs -> 512 -> 4 residual blocks\n" +
        "x + Linear(GELU(Linear(LayerNorm(x)))) widening 4x -> LayerNorm -> 1; default part1",
    },
    width: { type: "string", value: "N", help: "resmlp: the residual stream's width, default 512" },
    depth: { type: "string", value: "N", help: "resmlp: residual blocks, default 4" },
    expansion: { type: "string", value: "N", help: "resmlp: each block widens by N, default 4" },
    hidden: { type: "string", value: "512,256", help: "custom hidden widths (with --batch-norm to add BatchNorm)" },
    "batch-norm": { type: "boolean", help: "BatchNorm in hidden layers of a --hidden net" },
    epochs: { type: "string", value: "N", help: "default 10" },
    "batch-size": { type: "string", value: "N", help: "default 64" },
    lr: { type: "string", value: "X", help: "initial learning rate, default 0.001" },
    "decay-rate": { type: "string", value: "X", help: "lr * decay^epoch, default 0.8 (the exponential schedule)" },
    schedule: {
      type: "string",
      value: "NAME",
      help: "exponential (default: lr * decay^epoch, the assignment's) or cosine (per step,\n" +
        "from lr down to 0 along half a cosine)",
    },
    warmup: { type: "string", value: "X", help: "share of all steps to raise lr linearly from 0 first, default 0" },
    optimizer: {
      type: "string",
      value: "NAME",
      help: "adam (default), adamw, lion, sgd, momentum, rmsprop (adamw and lion decay\n" +
        "weights decoupled, by --weight-decay)",
    },
    "weight-decay": {
      type: "string",
      value: "X",
      help: "decoupled weight decay, w <- w(1 - lr X) each step; default 0.01 for adamw and\n" +
        "lion (PyTorch's AdamW default), else 0",
    },
    seed: { type: "string", value: "N", help: "initialisation, validation split, shuffles, dropout; default 1" },
    "val-fraction": { type: "string", value: "X", help: "share of train held out for validation, default 0.1" },
    "val-split": {
      type: "string",
      value: "NAME",
      help: "validate on CACHE/NAME (a split of its own, e.g. validation) instead",
    },
    "limit-train": {
      type: "string",
      value: "N",
      help: "use only N train records (stratified); the course's debugging trick",
    },
    "limit-test": { type: "string", value: "N", help: "use only N test records (stratified)" },
    "no-standardize": {
      type: "boolean",
      option: "standardize",
      help: "feed pixels as cached; by default each pixel is standardised with the train\n" +
        "split's mean and std (without it part1 often collapses to one class)",
    },
    dropout: { type: "string", value: "X", help: "dropout rate after hidden ReLUs, default 0" },
    l2: { type: "string", value: "X", help: "L2 penalty on weights, default 0" },
    augment: {
      type: "string",
      value: "LIST",
      help: "training-time augmentation, drawn afresh per record and epoch: flip (mirror\n" +
        "half the records), shift:N (move by up to N pixels each way, edges repeated: a\n" +
        "pad-and-crop), crop:S (a random resized crop keeping S..1 of the area), e.g.\n" +
        "flip,shift:4. Validation and test records are never augmented",
    },
    mixup: {
      type: "string",
      value: "ALPHA",
      help: "MixUp: mix each batch with itself reversed, lambda ~ Beta(ALPHA, ALPHA)",
    },
    "label-smoothing": { type: "string", value: "E", help: "labels y become y(1 - E) + E/2, default 0" },
    ema: {
      type: "string",
      value: "DECAY",
      help: "keep an average of the weights (a <- DECAY a + (1 - DECAY) w each step); it is\n" +
        "what validation measures, what is kept and what is saved",
    },
    tta: {
      type: "string",
      value: "none|flip",
      help: "flip: P(dog) of each image averaged with its mirror image's, at evaluation and\n" +
        "whenever the saved model classifies; default none",
    },
    patience: { type: "string", value: "N", help: "stop after N epochs without a better validation loss" },
    "eval-batch-size": { type: "string", value: "N", help: "records per evaluation batch, default 256" },
    preset: {
      type: "string",
      value: "NAME",
      help: "course: the course baseline's settings (batch 128, 10 epochs, Adam, lr 0.1\n" +
        "decayed 0.8 for part3, constant 0.01 for part1, shuffle seed 220 + epoch, no\n" +
        "standardisation; needs a --scale raw cache); modern: the residual MLP with AdamW,\n" +
        "warmup + cosine, label smoothing, flips and shifts or crops, an average of the\n" +
        "weights and flip averaging, sized from the cache. Flags given as well still win",
    },
    "no-verify": {
      type: "boolean",
      option: "verify",
      help: "skip checking each shard's sha256 against the cache's manifest before first use\n" +
        "(values are still checked for being finite); for disks you trust",
    },
    resume: { type: "boolean", help: "continue from MODEL_DIR's checkpoint" },
    force: { type: "boolean", help: "replace an existing MODEL_DIR" },
    backend: { type: "string", value: "wasm|cpu", help: "default wasm (cpu is ~10x slower)" },
    threads: {
      type: "string",
      value: "N",
      help: `threads for the WASM matrix products (default: one per core, ${navigator.hardwareConcurrency}\n` +
        "here; on 2 cores part3 steps are ~1.5x faster than with 1). More than one starts\n" +
        "tfjs' threaded build (engine/wasm_threads.ts); --threads 1 is the plain build",
    },
  },
});

await runCli(TRAIN_COMMAND, async (flags) => {
  const widths = flags.string("hidden");
  const hidden = widths === undefined ? undefined : parseWidths(widths);
  const preset = flags.string("preset") as TrainPreset | undefined;
  const data = flags.string("data")!;
  const cache = preset === "modern" ? await presetCacheInfo(data) : undefined;
  const note = cache && modernCacheNote(cache);
  if (note) console.error(note);
  const residual = {
    width: flags.integer("width"),
    depth: flags.integer("depth"),
    expansion: flags.integer("expansion"),
  };
  const config = makeTrainConfig({
    data,
    out: flags.string("out")!,
    preset,
    cache,
    residual: Object.values(residual).some((v) => v !== undefined) ? residual : undefined,
    model: flags.string("model"),
    hidden,
    batchNorm: hidden ? flags.boolean("batch-norm") : undefined,
    dropout: flags.number("dropout"),
    l2: flags.number("l2"),
    epochs: flags.integer("epochs"),
    batchSize: flags.integer("batch-size"),
    lr: flags.number("lr"),
    decayRate: flags.number("decay-rate"),
    schedule: flags.string("schedule") as LrSchedule | undefined,
    warmup: flags.number("warmup"),
    optimizer: flags.string("optimizer") as OptimizerName | undefined,
    weightDecay: flags.number("weight-decay"),
    seed: flags.integer("seed"),
    valFraction: flags.number("val-fraction"),
    valSplit: flags.string("val-split"),
    limitTrain: flags.integer("limit-train"),
    limitTest: flags.integer("limit-test"),
    standardize: flags.boolean("no-standardize") ? false : undefined,
    augment: mapDefined(flags.string("augment"), parseAugment),
    mixup: flags.number("mixup"),
    labelSmoothing: flags.number("label-smoothing"),
    ema: flags.number("ema"),
    tta: flags.string("tta") as TtaMode | undefined,
    patience: flags.integer("patience"),
    evalBatchSize: flags.integer("eval-batch-size"),
  });
  await checkPresetFitsCache(preset, config.data);
  const backendName = flags.string("backend") ?? "wasm";
  if (backendName !== "wasm" && backendName !== "cpu") {
    throw new UsageError(`--backend must be wasm or cpu, got "${backendName}"`);
  }
  const backend = await initBackend(backendName, {
    threads: flags.integer("threads") ?? navigator.hardwareConcurrency,
  });
  console.error(`train: ${describeBackend(backend)}`);
  console.error(`config: ${JSON.stringify(config)}`);
  const verify = !flags.boolean("no-verify");
  if (!verify) {
    console.error("warning: --no-verify: the cache's shards are not checked against their sha256 digests");
  }
  const result = await train(config, {
    resume: flags.boolean("resume"),
    force: flags.boolean("force"),
    verify,
    progress: true,
    environment: await runEnvironment(backend),
    hooks: { log: (line) => console.error(line) },
  });
  const last = result.history.at(-1);
  console.log(
    `\n${config.model}: ${result.history.length} epochs, kept epoch ${result.bestEpoch}${
      result.stoppedEarly ? " (stopped early)" : ""
    }`,
  );
  if (last) console.log(`last epoch: ${formatEpoch(last, config.epochs)}`);
  const names: Record<string, string> = {
    testBatchStatistics: "test with BatchNorm in training mode (the course's bug)",
  };
  for (const [key, m] of Object.entries(result.metrics) as [string, Metrics | null][]) {
    if (!m) continue;
    const name = names[key] ?? key;
    console.log(
      `${name.padEnd(10)} accuracy ${(100 * m.accuracy).toFixed(2)}% (majority class ${
        (100 * m.majorityAccuracy).toFixed(1)
      }%), ` +
        `loss ${m.loss.toFixed(4)}, precision ${m.precision.toFixed(3)}, recall ${m.recall.toFixed(3)}, ROC-AUC ${
          m.rocAuc.toFixed(3)
        }, n=${m.count}`,
    );
  }
  console.log(`test confusion matrix (rows: true class):\n${formatConfusion(result.metrics.test, result.classes)}`);
  console.log(
    `wall time ${
      result.wallSeconds.toFixed(1)
    } s; model written to ${config.out} (model.json, weights.bin, training.json, history.csv, curves.svg)`,
  );
  stopBackendThreads();
});

function mapDefined<T, R>(value: T | undefined, map: (value: T) => R): R | undefined {
  return value === undefined ? undefined : map(value);
}
