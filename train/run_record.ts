/**
 * The record a training run leaves in its model directory, beside the model files:
 * `training.json` (configuration, data, kept epoch, final metrics, environment),
 * `history.csv` (one row per epoch), `curves.svg` (the learning curves) and
 * `predictions.csv` (the kept model's P(dog) for every validation and test record,
 * with its source image). This module is the one that writes and reads them.
 * @module
 */
import { isAbsolute, join } from "node:path";
import { parseCsvObjects, toCsv, writeTextFileAtomic } from "../lib/mod.ts";
import { type Manifest, readManifest, resolveImagePath } from "../pipeline/mod.ts";
import type { TrainConfig } from "./config.ts";
import type { Metrics } from "./metrics.ts";
import { learningCurves } from "./curves.ts";

/** File names of the run record inside a model directory. */
export const RUN_FILES = {
  training: "training.json",
  history: "history.csv",
  curves: "curves.svg",
  predictions: "predictions.csv",
} as const;

/** What a run produced. */
export interface TrainResult {
  /** Per-epoch history (including epochs from before a resume). */
  history: EpochRecord[];
  /** Epoch whose weights were kept (best validation loss, or the last without validation). */
  bestEpoch: number;
  /** Whether early stopping ended the run. */
  stoppedEarly: boolean;
  /** Final metrics (see {@linkcode FinalMetrics}). */
  metrics: FinalMetrics;
  /** Wall seconds of this invocation. */
  wallSeconds: number;
  /** Trainable parameters. */
  parameterCount: number;
  /** Class names of label 0 and label 1, from the cache. */
  classes: [string, string];
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
  /** Validation loss (inference mode); NaN without validation. */
  valLoss: number;
  /** Validation accuracy (inference mode); NaN without validation. */
  valAccuracy: number;
  /** Wall seconds of the epoch's training steps. */
  seconds: number;
  /** Training samples per second. */
  samplesPerSecond: number;
  /** Seconds spent waiting for data. */
  dataSeconds: number;
  /** Live tensors after the epoch (constant when nothing leaks); not kept in history.csv. */
  tensors?: number;
}

/** history.csv's columns, in order. */
const HISTORY_COLUMNS = [
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

/**
 * Final metrics in inference mode; `testBatchStatistics` is the test split again with BatchNorm left in
 * training mode (batch statistics over seeded random batches of the training batch size), as the course
 * baseline evaluated.
 */
export interface FinalMetrics {
  /** The training records used. */
  train: Metrics;
  /** The validation records, when there were any. */
  validation: Metrics | null;
  /** The test split. */
  test: Metrics;
  /** The test split with batch statistics (nets with BatchNorm only). */
  testBatchStatistics: Metrics | null;
}

/** training.json. */
export interface TrainingRecord {
  /** The configuration the run had. */
  config: TrainConfig;
  /** The cache's preprocessing. */
  preprocess: Manifest["preprocess"];
  /** Where the training data came from, and its class names. */
  data: { manifestTrain: Manifest["source"]; classes: [string, string] };
  /** Epoch whose weights were kept (best validation loss, or the last without validation). */
  bestEpoch: number;
  /** Whether early stopping ended the run. */
  stoppedEarly: boolean;
  /** Trainable parameters. */
  parameterCount: number;
  /** Final metrics. */
  metrics: FinalMetrics;
  /** Wall seconds of the run. */
  wallSeconds: number;
  /** Where it ran (backend, commit, Deno version), as the caller recorded it. */
  [environment: string]: unknown;
}

/** The kept model's answers on one split's records, as training computed them. */
export interface SplitPredictions {
  /** Which records these are. */
  split: "validation" | "test";
  /** The cache split folder the records are in. */
  dir: string;
  /** Record indices in that folder. */
  indices: Uint32Array;
  /** P(label 1) per record. */
  probabilities: Float32Array;
  /** True label per record. */
  labels: Uint8Array;
}

/** One row of predictions.csv. */
export interface PredictionRow {
  /** `validation` or `test`. */
  split: "validation" | "test";
  /** Record index in the split folder of the cache. */
  index: number;
  /** The source image's path, resolved as preprocessing resolved it. */
  path: string;
  /** True label, 0 or 1. */
  label: number;
  /** The model's P(label 1). */
  probability: number;
}

/** A run's whole record. */
export interface RunRecord {
  /** training.json. */
  training: TrainingRecord;
  /** history.csv, one row per epoch (including epochs before a resume). */
  history: EpochRecord[];
  /** What predictions.csv is made from (written when given). */
  predictions?: SplitPredictions[];
}

/** Writes training.json, history.csv and curves.svg into `dir`, each atomically. */
export async function writeRunRecord(dir: string, record: RunRecord): Promise<void> {
  await writeTextFileAtomic(
    join(dir, RUN_FILES.history),
    toCsv([...HISTORY_COLUMNS], record.history.map((r) => HISTORY_COLUMNS.map((c) => r[c]))),
  );
  await writeTextFileAtomic(join(dir, RUN_FILES.curves), learningCurves(record.history, record.training.config.model));
  if (record.predictions) {
    const rows = (await Promise.all(record.predictions.map(predictionRows))).flat();
    await writeTextFileAtomic(
      join(dir, RUN_FILES.predictions),
      toCsv(
        ["split", "index", "path", "label", "probability"],
        rows.map((r) => [
          r.split,
          r.index,
          r.path,
          r.label,
          r.probability,
        ]),
      ),
    );
  }
  await writeTextFileAtomic(join(dir, RUN_FILES.training), JSON.stringify(record.training, null, 2) + "\n");
}

/** The rows of one split's predictions, each with its source image from the split's records.csv. */
async function predictionRows(predictions: SplitPredictions): Promise<PredictionRow[]> {
  const manifest = await readManifest(predictions.dir);
  const records = parseCsvObjects(await Deno.readTextFile(join(predictions.dir, manifest.files.records)));
  return Array.from(predictions.indices, (index, i) => ({
    split: predictions.split,
    index,
    path: sourceImagePath(records[index]?.path ?? "", manifest.source.root),
    label: predictions.labels[i],
    probability: predictions.probabilities[i],
  }));
}

/**
 * Where a records.csv path points, resolved as preprocessing resolved it (`resolveImagePath`). The manifest keeps the
 * root but not whether `--root` was given, which decides absolute paths (the course's `/dataSet/...`): under the
 * root when the file is there, else as written.
 */
function sourceImagePath(path: string, root: string): string {
  const underRoot = resolveImagePath(path, root, true);
  if (!isAbsolute(path)) return underRoot;
  try {
    Deno.statSync(underRoot);
    return underRoot;
  } catch {
    return resolveImagePath(path, root, false);
  }
}

/** Reads predictions.csv of the model directory `dir`. */
export async function readPredictions(dir: string): Promise<PredictionRow[]> {
  const rows = parseCsvObjects(await Deno.readTextFile(join(dir, RUN_FILES.predictions)));
  return rows.map((r) => ({
    split: r.split as PredictionRow["split"],
    index: Number(r.index),
    path: r.path,
    label: Number(r.label),
    probability: Number(r.probability),
  }));
}

/** Reads the run record of the model directory `dir`. */
export async function readRunRecord(dir: string): Promise<RunRecord> {
  let training: TrainingRecord;
  let historyText: string;
  try {
    training = JSON.parse(await Deno.readTextFile(join(dir, RUN_FILES.training)));
    historyText = await Deno.readTextFile(join(dir, RUN_FILES.history));
  } catch (error) {
    throw new Error(`${dir} is not a trained model directory: ${(error as Error).message}`, { cause: error });
  }
  const history = parseCsvObjects(historyText).map((row) =>
    Object.fromEntries(HISTORY_COLUMNS.map((c) => [c, Number(row[c])])) as unknown as EpochRecord
  );
  return { training, history };
}

/** Where a run ran, for training.json: the backend, the git commit of the code (when in a repository), Deno's version. */
export async function runEnvironment(backend: unknown): Promise<Record<string, unknown>> {
  return { backend, commit: await gitCommit(), deno: Deno.version.deno };
}

async function gitCommit(): Promise<string | null> {
  try {
    const { code, stdout } = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return code === 0 ? new TextDecoder().decode(stdout).trim() : null;
  } catch {
    return null;
  }
}
