/**
 * The training loop: streams batches from the cache, trains with an in-place
 * optimizer and a per-epoch decayed learning rate, validates every epoch,
 * checkpoints, keeps the best epoch by validation loss, and writes the model
 * directory (standard tfjs layers model + training record).
 * @module
 */
import { join } from "node:path";
import { openSplit, type SplitReader } from "../pipeline/shard_reader.ts";
import { type Manifest, SplitFormatError } from "../pipeline/manifest.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../lib/atomic_file.ts";
import { toCsv } from "../lib/csv.ts";
import { createProgress, formatDuration } from "../lib/progress.ts";
import { tensorMemory, tf } from "../engine/tf.ts";
import {
  buildMlp,
  countParameters,
  disposeMlp,
  type Mlp,
  type MlpSpec,
  parameters,
  predictProbabilities,
  stateTensors,
  trainStep,
} from "./mlp.ts";
import { Optimizer, OPTIMIZER_NAMES, type OptimizerName } from "./optimizers.ts";
import {
  BatchLoader,
  disposeInput,
  prefetchBatches,
  shuffled,
  splitTrainValidation,
  type Standardization,
  standardizationFromStats,
  STD_FLOOR_UNIT,
} from "./batches.ts";
import { computeMetrics, type Metrics } from "./metrics.ts";
import { CheckpointError, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { MODEL_FILES, type ModelMetadata, saveLayersModel, toLayersModel } from "../model/model_files.ts";
import { learningCurves } from "./curves.ts";
import { type AugmentOptions, augments, formatAugment } from "./augment.ts";

/** Everything that decides a training run. */
export interface TrainConfig {
  /** Cache folder holding train/ and test/ splits. */
  data: string;
  /** Model directory to write. */
  out: string;
  /** Preset name (part1, part3) or "custom". */
  model: string;
  /** Hidden layer widths. */
  hidden: number[];
  /** BatchNorm in hidden layers. */
  batchNorm: boolean;
  /** Dropout rate after hidden ReLUs. */
  dropout: number;
  /** L2 penalty on weights. */
  l2: number;
  /** Epochs. */
  epochs: number;
  /** Samples per step. */
  batchSize: number;
  /** Initial learning rate. */
  lr: number;
  /** Learning rate multiplier per epoch: lr·decay^epoch. */
  decayRate: number;
  /** Optimizer. */
  optimizer: OptimizerName;
  /** Seed of initialisation, validation split, shuffles (seed + epoch) and dropout. */
  seed: number;
  /** Fraction of train held out (stratified) for validation. */
  valFraction: number;
  /** Validate on this split of the cache (e.g. "validation") instead of holding out part of train. */
  valSplit?: string;
  /** Use only this many train records (stratified). */
  limitTrain?: number;
  /** Use only this many test records (stratified). */
  limitTest?: number;
  /** Standardise each pixel with the train split's mean and std. */
  standardize: boolean;
  /** Training-time augmentation (random flips and shifts drawn per record and epoch); none when absent. */
  augment?: AugmentOptions;
  /** Stop after this many epochs without a better validation loss. */
  patience?: number;
  /** Samples per evaluation batch. */
  evalBatchSize: number;
}

/** One epoch's numbers. */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Learning rate used. */
  lr: number;
  /** Mean training loss (training mode, over the epoch). */
  loss: number;
  /** Training accuracy (training mode, over the epoch). */
  accuracy: number;
  /** Validation loss (inference mode). */
  valLoss: number;
  /** Validation accuracy (inference mode). */
  valAccuracy: number;
  /** Wall seconds of the epoch's training steps. */
  seconds: number;
  /** Training samples per second. */
  samplesPerSecond: number;
  /** Seconds spent waiting for data. */
  dataSeconds: number;
  /** Live tensors after the epoch (constant when nothing leaks). */
  tensors: number;
}

/** What a run produced. */
export interface TrainResult {
  /** Per-epoch history (including epochs from before a resume). */
  history: EpochRecord[];
  /** Epoch whose weights were kept (best validation loss, or the last without validation). */
  bestEpoch: number;
  /** Whether early stopping ended the run. */
  stoppedEarly: boolean;
  /**
   * Final metrics in inference mode; `testBatchStatistics` is the test split again with BatchNorm left in
   * training mode (batch statistics over seeded random batches of the training batch size), as the course
   * baseline evaluated.
   */
  metrics: { train: Metrics; validation: Metrics | null; test: Metrics; testBatchStatistics: Metrics | null };
  /** Wall seconds of this invocation. */
  wallSeconds: number;
  /** Trainable parameters. */
  parameterCount: number;
  /** Class names of label 0 and label 1, from the cache. */
  classes: [string, string];
}

/** Hooks for progress and logs. */
export interface TrainHooks {
  /** A line of log output (default: nothing). */
  log?: (line: string) => void;
  /** Show a progress bar per epoch on stderr. */
  progress?: boolean;
  /** Continue from the checkpoint in `out`. */
  resume?: boolean;
  /** Replace an existing model directory. */
  force?: boolean;
  /** Extra fields for training.json (backend, commit, ...). */
  record?: Record<string, unknown>;
  /** Called after each epoch (tests use it to stop a run part-way). */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
}

/** Raised for a configuration that cannot train, before any training starts. */
export class TrainConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TrainConfigError";
  }
}

const CHECKPOINT_DIR = "checkpoint";
/** Every file a run writes into its model directory. */
const OUTPUT_FILES = [
  MODEL_FILES.model,
  MODEL_FILES.weights,
  MODEL_FILES.stats,
  "training.json",
  "history.csv",
  "curves.svg",
];

/** Checks numbers and names of a configuration; throws {@linkcode TrainConfigError}. */
export function validateConfig(config: TrainConfig): void {
  const positiveInteger = (name: string, value: number | undefined) => {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new TrainConfigError(`${name} must be a positive integer, got ${value}`);
    }
  };
  positiveInteger("--epochs", config.epochs);
  positiveInteger("--batch-size", config.batchSize);
  positiveInteger("--limit-train", config.limitTrain);
  positiveInteger("--limit-test", config.limitTest);
  positiveInteger("--patience", config.patience);
  if (!(config.lr > 0)) throw new TrainConfigError(`--lr must be positive, got ${config.lr}`);
  if (!(config.decayRate > 0 && config.decayRate <= 1)) {
    throw new TrainConfigError(`--decay-rate must be in (0, 1], got ${config.decayRate}`);
  }
  if (!(config.valFraction >= 0 && config.valFraction < 1)) {
    throw new TrainConfigError(`--val-fraction must be in [0, 1), got ${config.valFraction}`);
  }
  if (config.valSplit === "test" || config.valSplit === "train") {
    throw new TrainConfigError(
      `--val-split must name a third split, not "${config.valSplit}": validation never comes from test`,
    );
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new TrainConfigError(`--dropout must be in [0, 1), got ${config.dropout}`);
  }
  if (config.augment && !(Number.isInteger(config.augment.shift) && config.augment.shift >= 0)) {
    throw new TrainConfigError(`--augment shift must be a whole number of pixels >= 0, got ${config.augment.shift}`);
  }
  if (!(config.l2 >= 0)) throw new TrainConfigError(`--l2 must be >= 0, got ${config.l2}`);
  if (config.hidden.length === 0 || config.hidden.some((h) => !(Number.isInteger(h) && h > 0))) {
    throw new TrainConfigError(`hidden layer widths must be positive integers, got "${config.hidden.join(",")}"`);
  }
  if (!OPTIMIZER_NAMES.includes(config.optimizer)) {
    throw new TrainConfigError(`unknown optimizer "${config.optimizer}": use ${OPTIMIZER_NAMES.join(", ")}`);
  }
}

/** Throws unless `other` has the same record size and scale as `train`. */
function checkCompatible(dir: string, train: SplitReader, other: SplitReader, name: string): void {
  if (train.recordSize !== other.recordSize) {
    throw new SplitFormatError(
      `${dir}: train records are ${train.manifest.width}x${train.manifest.height} but ${name} records are ` +
        `${other.manifest.width}x${other.manifest.height}; preprocess both with the same --size`,
    );
  }
  if (train.manifest.scale !== other.manifest.scale) {
    throw new SplitFormatError(
      `${dir}: train is --scale ${train.manifest.scale} but ${name} is --scale ${other.manifest.scale}`,
    );
  }
}

/** Opens train, test and (optionally) a validation split, checking they fit together. */
async function openData(dir: string, valSplit?: string): Promise<SplitReader[]> {
  const readers: SplitReader[] = [];
  try {
    for (const name of ["train", "test", ...(valSplit ? [valSplit] : [])]) {
      readers.push(await openSplit(join(dir, name)));
      if (readers.length > 1) checkCompatible(dir, readers[0], readers.at(-1)!, name);
    }
  } catch (error) {
    readers.forEach((r) => r.close());
    throw error;
  }
  return readers;
}

/** The smallest std used in standardisation: 1/255 of a gray level on a unit-scale cache, 1 on a raw one. */
function stdFloor(manifest: Manifest): number {
  return manifest.scale === "unit" ? STD_FLOOR_UNIT : 1;
}

/** Probabilities for `indices` of a split, in inference mode. */
async function predictIndices(
  mlp: Mlp,
  loader: BatchLoader,
  indices: Uint32Array,
  batchSize: number,
  options: { batchStatistics?: boolean } = {},
) {
  const probabilities = new Float32Array(indices.length), labels = new Uint8Array(indices.length);
  let offset = 0;
  for await (const host of prefetchBatches(loader, indices, batchSize)) {
    const batch = loader.toTensors(host);
    const p = predictProbabilities(mlp, batch.chunks, options);
    probabilities.set(p.dataSync(), offset);
    labels.set(host.labels, offset);
    offset += host.size;
    p.dispose();
    disposeInput(batch);
  }
  return { probabilities, labels };
}

/** Copies the net's tensors out (for best weights and checkpoints). */
function snapshot(mlp: Mlp): Float32Array[] {
  return stateTensors(mlp).map((t) => tensorMemory(t).slice());
}

/** Writes saved values back into the net's tensors, in place. */
function restore(mlp: Mlp, values: Float32Array[]): void {
  const tensors = stateTensors(mlp);
  if (values.length !== tensors.length || values.some((v, i) => v.length !== tensors[i].size)) {
    throw new CheckpointError("the checkpoint's tensors do not match this net's shape");
  }
  tensors.forEach((t, i) => tensorMemory(t).set(values[i]));
}

/** The config fields that must match for --resume. */
function resumeKey(config: TrainConfig) {
  const { out: _out, epochs: _epochs, patience: _patience, evalBatchSize: _eval, ...rest } = config;
  return rest;
}

/** Trains per `config`, writing the model directory; returns the history and final metrics. */
export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const started = performance.now();
  const log = hooks.log ?? (() => {});
  validateConfig(config);
  const outExists = await Deno.stat(join(config.out, MODEL_FILES.model)).then(() => true, () => false) ||
    await Deno.stat(join(config.out, CHECKPOINT_DIR)).then(() => true, () => false);
  if (outExists && !hooks.force && !hooks.resume) {
    throw new TrainConfigError(
      `${config.out} already holds a model or checkpoint; pass --force to replace it or --resume to continue`,
    );
  }
  const [trainSplit, testSplit, validationSplit] = await openData(config.data, config.valSplit);
  const inputSize = trainSplit.recordSize;
  const manifest = trainSplit.manifest;
  let standardization: Standardization | undefined;
  let stats: Float32Array | null = null;
  if (config.standardize) {
    const bytes = await Deno.readFile(join(config.data, "train", manifest.pixelStats.file));
    stats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    standardization = standardizationFromStats(stats, inputSize, stdFloor(manifest));
  }
  const trainLoader = await BatchLoader.create(join(config.data, "train"), inputSize, standardization);
  const testLoader = await BatchLoader.create(join(config.data, "test"), inputSize, standardization);
  const validationLoader = validationSplit
    ? await BatchLoader.create(join(config.data, config.valSplit!), inputSize, standardization)
    : trainLoader;
  const split = splitTrainValidation(trainSplit.labels, {
    fraction: validationSplit ? 0 : config.valFraction,
    seed: config.seed,
    limit: config.limitTrain,
    // A flipped split stores each image and its mirror side by side: they stay on the same side of the split.
    groupSize: manifest.augmentation === "flip" ? 2 : 1,
  });
  if (validationSplit) split.validation = Uint32Array.from({ length: validationSplit.count }, (_, i) => i);
  const testIndices =
    splitTrainValidation(testSplit.labels, { fraction: 0, seed: config.seed, limit: config.limitTest }).train;
  if (split.train.length === 0) {
    throw new TrainConfigError("no training records left after --limit-train / --val-fraction");
  }

  const spec: MlpSpec = { inputSize, hidden: config.hidden, batchNorm: config.batchNorm, dropout: config.dropout };
  const mlp = buildMlp(spec, config.seed);
  const params = parameters(mlp);
  const optimizer = new Optimizer(params, { name: config.optimizer, l2: config.l2 });
  const checkpointDir = join(config.out, CHECKPOINT_DIR);
  let history: EpochRecord[] = [];
  let best: { epoch: number; validationLoss: number; epochsSince: number } | null = null;
  let bestWeights: Float32Array[] | null = null;
  let startEpoch = 0;
  try {
    if (hooks.resume) {
      const checkpoint = await loadCheckpoint<ReturnType<typeof resumeKey>, EpochRecord>(
        checkpointDir,
        params.map((p) => p.tensor.size),
      );
      if (JSON.stringify(checkpoint.state.config) !== JSON.stringify(resumeKey(config))) {
        throw new CheckpointError(
          `the checkpoint in ${checkpointDir} was made with different settings:\n  checkpoint: ${
            JSON.stringify(checkpoint.state.config)
          }\n  this run:   ${JSON.stringify(resumeKey(config))}`,
        );
      }
      restore(mlp, checkpoint.tensors);
      optimizer.restore({ step: checkpoint.state.optimizerStep, slots: checkpoint.optimizerSlots });
      history = checkpoint.state.history;
      best = checkpoint.state.best;
      bestWeights = checkpoint.best;
      startEpoch = checkpoint.state.epoch;
      log(`resuming after epoch ${startEpoch} (optimizer step ${optimizer.step})`);
    } else if (outExists) {
      // --force: remove only what a run writes, never the folder itself (it may hold other things).
      for (const name of [...OUTPUT_FILES, CHECKPOINT_DIR]) {
        await Deno.remove(join(config.out, name), { recursive: true }).catch(() => {});
      }
    }
    await Deno.mkdir(config.out, { recursive: true });
    log(
      `data: ${split.train.length} train, ${split.validation.length} validation${
        validationSplit ? ` (split "${config.valSplit}")` : ""
      }, ${testIndices.length} test records of ` +
        `${manifest.width}x${manifest.height} (${manifest.scale} scale${config.standardize ? ", standardised" : ""}${
          config.augment && augments(config.augment) ? `, augmented: ${formatAugment(config.augment)}` : ""
        })`,
    );
    log(
      `net: ${[inputSize, ...config.hidden, 1].join(" -> ")}${config.batchNorm ? " with BatchNorm" : ""}, ${
        countParameters(mlp).toLocaleString("en")
      } parameters`,
    );

    let stoppedEarly = false;
    const stepsPerEpoch = Math.ceil(split.train.length / config.batchSize);
    for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
      if (config.patience !== undefined && best && best.epochsSince >= config.patience) {
        stoppedEarly = true;
        break;
      }
      const lr = config.lr * config.decayRate ** epoch;
      const order = shuffled(split.train, config.seed + epoch);
      const bar = hooks.progress
        ? createProgress({ total: stepsPerEpoch, label: `epoch ${epoch + 1}/${config.epochs}`, unit: "batches" })
        : undefined;
      let lossSum = 0, correct = 0, seen = 0, dataSeconds = 0, step = 0;
      const epochStart = performance.now();
      let waitStart = performance.now();
      const augment = config.augment && augments(config.augment)
        ? { options: config.augment, seed: config.seed * 1_000_003 + epoch * 7_919 }
        : undefined;
      for await (const host of prefetchBatches(trainLoader, order, config.batchSize, { augment })) {
        dataSeconds += (performance.now() - waitStart) / 1000;
        const batch = trainLoader.toTensors(host);
        const result = trainStep(mlp, batch, { dropoutSeed: config.seed * 1_000_003 + epoch * 100_003 + step });
        optimizer.apply(result.gradients, lr);
        result.gradients.forEach((g) => g.dispose());
        disposeInput(batch);
        lossSum += result.loss * host.size;
        correct += result.correct;
        seen += host.size;
        step++;
        bar?.tick(1, `loss ${(lossSum / seen).toFixed(4)}`);
        waitStart = performance.now();
      }
      bar?.done();
      const seconds = (performance.now() - epochStart) / 1000;
      let valLoss = NaN, valAccuracy = NaN;
      if (split.validation.length > 0) {
        const v = await predictIndices(mlp, validationLoader, split.validation, config.evalBatchSize);
        const m = computeMetrics(v.probabilities, v.labels);
        [valLoss, valAccuracy] = [m.loss, m.accuracy];
      }
      const record: EpochRecord = {
        epoch: epoch + 1,
        lr,
        loss: lossSum / seen,
        accuracy: correct / seen,
        valLoss,
        valAccuracy,
        seconds,
        samplesPerSecond: seen / seconds,
        dataSeconds,
        tensors: tf.memory().numTensors,
      };
      history.push(record);
      // One copy of the weights per epoch serves both the checkpoint and, when it improved, the best weights.
      const weights = snapshot(mlp);
      let bestChanged = false;
      if (split.validation.length > 0) {
        if (!best || valLoss < best.validationLoss) {
          best = { epoch: epoch + 1, validationLoss: valLoss, epochsSince: 0 };
          bestWeights = weights;
          bestChanged = true;
        } else {
          best.epochsSince++;
        }
      }
      log(formatEpoch(record, config.epochs) + (bestChanged ? "  *best" : ""));
      await saveCheckpoint(checkpointDir, {
        epoch: epoch + 1,
        config: resumeKey(config),
        history,
        best,
        optimizerStep: optimizer.step,
      }, { tensors: weights, optimizerSlots: optimizer.state().slots, best: bestWeights, bestChanged });
      await hooks.onEpoch?.(record);
    }

    // Keep the best epoch by validation loss; evaluate once, in inference mode.
    const bestEpoch = best?.epoch ?? history.length;
    if (bestWeights && best) restore(mlp, bestWeights);
    const evaluate = async (loader: BatchLoader, indices: Uint32Array) => {
      const r = await predictIndices(mlp, loader, indices, config.evalBatchSize);
      return computeMetrics(r.probabilities, r.labels);
    };
    const metrics = {
      train: await evaluate(trainLoader, split.train),
      validation: split.validation.length > 0 ? await evaluate(validationLoader, split.validation) : null,
      test: await evaluate(testLoader, testIndices),
      testBatchStatistics: null as Metrics | null,
    };
    if (mlp.spec.batchNorm) {
      // What the course baseline measured: BatchNorm still in training mode at test time, batches of the training
      // size. The batches are drawn in a seeded random order, as from the course's interleaved test CSV; a split
      // sorted by label would put one class in each batch, and batch statistics would then erase the class signal.
      const order = shuffled(testIndices, config.seed);
      const r = await predictIndices(mlp, testLoader, order, config.batchSize, { batchStatistics: true });
      metrics.testBatchStatistics = computeMetrics(r.probabilities, r.labels);
    }
    const result: TrainResult = {
      history,
      bestEpoch,
      stoppedEarly,
      metrics,
      wallSeconds: (performance.now() - started) / 1000,
      parameterCount: countParameters(mlp),
      classes: manifest.classes,
    };
    await writeModelDirectory(config, manifest, mlp, result, stats, hooks.record ?? {});
    return result;
  } finally {
    optimizer.dispose();
    disposeMlp(mlp);
    for (const loader of new Set([trainLoader, testLoader, validationLoader])) loader.close();
    for (const reader of [trainSplit, testSplit, validationSplit]) reader?.close();
  }
}

/** One log line for an epoch. */
export function formatEpoch(r: EpochRecord, epochs: number): string {
  const val = Number.isFinite(r.valLoss)
    ? `, val loss ${r.valLoss.toFixed(4)} acc ${(100 * r.valAccuracy).toFixed(1)}%`
    : "";
  return `epoch ${r.epoch}/${epochs}: loss ${r.loss.toFixed(4)} acc ${(100 * r.accuracy).toFixed(1)}%${val}, lr ${
    r.lr.toPrecision(3)
  }, ${formatDuration(r.seconds)} (${r.samplesPerSecond.toFixed(1)} samples/s, data ${
    (100 * r.dataSeconds / r.seconds).toFixed(1)
  }%)`;
}

/** Writes model.json, weights.bin, pixel stats, training.json, history.csv and curves.svg. */
async function writeModelDirectory(
  config: TrainConfig,
  manifest: Manifest,
  mlp: Mlp,
  result: TrainResult,
  stats: Float32Array | null,
  record: Record<string, unknown>,
): Promise<void> {
  if (stats) {
    await writeFileAtomic(
      join(config.out, MODEL_FILES.stats),
      new Uint8Array(stats.buffer, stats.byteOffset, stats.byteLength),
    );
  }
  const metadata: ModelMetadata = {
    inputSize: mlp.spec.inputSize,
    classes: manifest.classes,
    preprocess: manifest.preprocess,
    standardize: stats ? { file: MODEL_FILES.stats, stdFloor: stdFloor(manifest) } : null,
    architecture: { model: config.model, hidden: config.hidden, batchNorm: config.batchNorm, dropout: config.dropout },
  };
  const model = toLayersModel(mlp);
  try {
    await saveLayersModel(config.out, model, metadata);
  } finally {
    model.dispose();
  }
  const columns = [
    "epoch",
    "lr",
    "loss",
    "accuracy",
    "valLoss",
    "valAccuracy",
    "seconds",
    "samplesPerSecond",
    "dataSeconds",
  ] as const;
  await writeTextFileAtomic(
    join(config.out, "history.csv"),
    toCsv([...columns], result.history.map((r) => columns.map((c) => String(r[c])))),
  );
  await writeTextFileAtomic(join(config.out, "curves.svg"), learningCurves(result.history, config.model));
  await writeTextFileAtomic(
    join(config.out, "training.json"),
    JSON.stringify(
      {
        config,
        preprocess: manifest.preprocess,
        data: { manifestTrain: manifest.source, classes: manifest.classes },
        bestEpoch: result.bestEpoch,
        stoppedEarly: result.stoppedEarly,
        parameterCount: result.parameterCount,
        metrics: result.metrics,
        wallSeconds: result.wallSeconds,
        ...record,
      },
      null,
      2,
    ) + "\n",
  );
}
