/**
 * The cache as a run uses it: train, test and (optionally) validation splits opened and checked against
 * each other, their batch loaders started, the validation records held out, and the standardisation.
 * Training and the learning-rate finder open their data and build their net here.
 * @module
 */
import { join } from "node:path";
import { OptionError } from "../lib/mod.ts";
import { type Manifest, openSplit, SplitFormatError, type SplitReader } from "../pipeline/mod.ts";
import { type Standardization, standardizationFromStats, stdFloorFor } from "../model/mod.ts";
import type { TrainConfig } from "./config.ts";
import { BatchLoader, splitTrainValidation } from "./batches.ts";
import { buildMlp, disposeMlp, type Mlp, parameters } from "../engine/mod.ts";
import { Optimizer } from "./optimizers.ts";

/** The cache opened for a run: its splits, their batch loaders and the record indices each phase uses. */
export interface RunData {
  manifest: Manifest;
  inputSize: number;
  /** The train split's pixel statistics (mean then std), when standardising. */
  stats: Float32Array | null;
  /** The standardisation made from them, which the loaders apply and the saved model folds in. */
  standardization: Standardization | undefined;
  trainLoader: BatchLoader;
  validationLoader: BatchLoader;
  testLoader: BatchLoader;
  /** Training records, and the validation records (of train, or of the validation split). */
  indices: { train: Uint32Array; validation: Uint32Array; test: Uint32Array };
  /** Whether validation comes from a split of its own. */
  validationSplit: boolean;
  close(): void;
}

/** Opens train, test and (optionally) a validation split, checks they fit together, and starts their loaders. */
export async function openData(config: TrainConfig, verify: boolean): Promise<RunData> {
  const readers: SplitReader[] = [];
  const loaders: BatchLoader[] = [];
  const close = () => {
    loaders.forEach((loader) => loader.close());
    readers.forEach((reader) => reader.close());
  };
  try {
    for (const name of ["train", "test", ...(config.valSplit ? [config.valSplit] : [])]) {
      readers.push(await openSplit(join(config.data, name)));
      if (readers.length > 1) checkCompatible(config.data, readers[0], readers.at(-1)!, name);
    }
    const [trainSplit, testSplit, validationSplit] = readers;
    const manifest = trainSplit.manifest;
    const inputSize = trainSplit.recordSize;
    let stats: Float32Array | null = null;
    let standardization: Standardization | undefined;
    if (config.standardize) {
      const bytes = await Deno.readFile(join(config.data, "train", manifest.pixelStats.file));
      stats = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      standardization = standardizationFromStats(stats, inputSize, stdFloorFor(manifest.scale));
    }
    const limit = inMemoryLimit();
    const load = async (name: string, reader: SplitReader, everyEpoch: boolean) => {
      // Splits read every epoch are held in the loader's memory as they are read, when they fit.
      const inMemory = everyEpoch && reader.count * reader.recordSize * 4 <= limit;
      const loader = await BatchLoader.create(join(config.data, name), inputSize, {
        standardization,
        verify,
        inMemory,
      });
      loaders.push(loader);
      return loader;
    };
    const trainLoader = await load("train", trainSplit, true);
    const testLoader = await load("test", testSplit, false);
    const validationLoader = validationSplit ? await load(config.valSplit!, validationSplit, true) : trainLoader;
    const split = splitTrainValidation(trainSplit.labels, {
      fraction: validationSplit ? 0 : config.valFraction,
      seed: config.seed,
      limit: config.limitTrain,
      // A flipped split stores each image and its mirror side by side: they stay on the same side of the split.
      groupSize: manifest.augmentation === "flip" ? 2 : 1,
    });
    if (split.train.length === 0) {
      throw new OptionError("Cannot train: no training records are left after {limitTrain} and {valFraction}");
    }
    const validation = validationSplit
      ? Uint32Array.from({ length: validationSplit.count }, (_, i) => i)
      : split.validation;
    const test =
      splitTrainValidation(testSplit.labels, { fraction: 0, seed: config.seed, limit: config.limitTest }).train;
    return {
      manifest,
      inputSize,
      stats,
      standardization,
      trainLoader,
      validationLoader,
      testLoader,
      indices: { train: split.train, validation, test },
      validationSplit: validationSplit !== undefined,
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

/**
 * How big a split the batch loader may hold in memory: a quarter of the machine's memory, at most 4 GiB
 * (1 GiB when the memory cannot be read). Bigger splits are read from their shards every epoch.
 */
function inMemoryLimit(): number {
  try {
    return Math.min(4 * 2 ** 30, Deno.systemMemoryInfo().total / 4);
  } catch {
    return 2 ** 30;
  }
}

/** Throws unless `other` has the same record size and scale as `train`. */
function checkCompatible(dir: string, train: SplitReader, other: SplitReader, name: string): void {
  if (train.recordSize !== other.recordSize) {
    throw new SplitFormatError(
      `${dir}: train records are ${train.manifest.width}x${train.manifest.height} but ${name} records are ` +
        `${other.manifest.width}x${other.manifest.height}; preprocess both at the same size`,
    );
  }
  if (train.manifest.scale !== other.manifest.scale) {
    throw new SplitFormatError(
      `${dir}: train is at ${train.manifest.scale} scale but ${name} is at ${other.manifest.scale} scale`,
    );
  }
}

/** What a run trains: the data, the net built from the config's shape and seed, and its optimizer. */
export interface RunSetup {
  data: RunData;
  mlp: Mlp;
  optimizer: Optimizer;
}

/**
 * Opens the data and builds the net and its optimizer, each adopted by `resources` so that they are freed in
 * reverse order however the run ends: optimizer state, the net, then the data's readers and workers.
 * `beforeNet` is called with the data before the net is built (to start reading batches meanwhile).
 */
export async function setUpRun(
  config: TrainConfig,
  verify: boolean,
  resources: DisposableStack,
  beforeNet?: (data: RunData) => void,
): Promise<RunSetup> {
  const data = resources.adopt(await openData(config, verify), (d) => d.close());
  beforeNet?.(data);
  const { hidden, batchNorm, dropout, residual } = config;
  const mlp = resources.adopt(
    buildMlp({ inputSize: data.inputSize, hidden, batchNorm, dropout, ...(residual ? { residual } : {}) }, config.seed),
    disposeMlp,
  );
  const optimizer = resources.adopt(
    new Optimizer(parameters(mlp), { name: config.optimizer, l2: config.l2, weightDecay: config.weightDecay }),
    (o) => o.dispose(),
  );
  return { data, mlp, optimizer };
}
