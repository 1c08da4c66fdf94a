/**
 * The "why not 94%?" study: part3 trained under controlled changes (input scaling,
 * learning rate, L2, dropout, flip augmentation) on a data set, one `deno task train`
 * run per experiment, and a Markdown table and SVG charts of the results.
 *
 * Every run keeps the epoch with the best validation loss and touches the test split
 * once, at the end; every run also reports the test accuracy with BatchNorm left in
 * training mode, which is how the course baseline evaluated.
 * @module
 */
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { renderChart, type Series } from "../lib/svg_chart.ts";
import type { Metrics } from "../train/metrics.ts";
import { loadLayersModel } from "../model/model_files.ts";
import { applyStandardization, shuffled } from "../train/batches.ts";
import { openSplit } from "../pipeline/shard_reader.ts";
import { tf } from "../engine/tf.ts";

/** A data set laid out like ../shared/data/cifar10-dog: CSVs of path,label. */
export interface StudySet {
  /** Folder name under the data root. */
  name: string;
  /** CSV base names to preprocess (train and test, and a validation split when it has one). */
  splits: string[];
  /** Validation split name, or undefined to hold out 10% of train. */
  valSplit?: string;
  /** Epochs per run. */
  epochs: number;
  /** Train on this many records only (keeps the study to about an hour on two cores). */
  limitTrain?: number;
}

/** The sets the study knows. */
export const STUDY_SETS: Record<string, StudySet> = {
  "dogs-vs-cats-4k": {
    name: "dogs-vs-cats-4k",
    splits: ["train", "validation", "test"],
    valSplit: "validation",
    epochs: 8,
  },
  "cifar10-dog": { name: "cifar10-dog", splits: ["train", "test"], epochs: 5, limitTrain: 3000 },
};

/** Which cache an experiment trains on. */
export type StudyCache = "unit" | "raw" | "flip";

/** One controlled change against the baseline. */
export interface Experiment {
  /** Short name (model folder name). */
  name: string;
  /** What it changes, for the table. */
  change: string;
  /** Cache variant. */
  cache: StudyCache;
  /** Extra `deno task train` flags. */
  flags: string[];
}

/** The experiments, baseline first: the PyTorch reference's settings (unit scale, Adam 1e-3 ×0.8 per epoch, batch 64). */
export const EXPERIMENTS: Experiment[] = [
  {
    name: "baseline",
    change: "baseline: /255, standardised per pixel, Adam 1e-3 ×0.8/epoch",
    cache: "unit",
    flags: [],
  },
  {
    name: "raw-input",
    change: "course input: 0..255, not standardised",
    cache: "raw",
    flags: ["--no-standardize"],
  },
  { name: "unit-input", change: "/255, not standardised", cache: "unit", flags: ["--no-standardize"] },
  { name: "course-lr", change: "lr 0.1 (the course's part3 setting)", cache: "unit", flags: ["--lr", "0.1"] },
  { name: "low-lr", change: "lr 1e-4, no decay", cache: "unit", flags: ["--lr", "0.0001", "--decay-rate", "1"] },
  { name: "l2", change: "L2 1e-3 on weights", cache: "unit", flags: ["--l2", "0.001"] },
  { name: "dropout", change: "dropout 0.5 after each hidden layer", cache: "unit", flags: ["--dropout", "0.5"] },
  { name: "flip", change: "horizontal-flip augmentation (train ×2)", cache: "flip", flags: [] },
];

/** The preprocess options of a cache variant. */
export function cacheOptions(cache: StudyCache): { scale: "unit" | "raw"; augment?: "flip" } {
  return cache === "raw" ? { scale: "raw" } : cache === "flip" ? { scale: "unit", augment: "flip" } : { scale: "unit" };
}

/** The `deno task preprocess` flags of a cache variant (beyond the defaults). */
export function cacheFlags(cache: StudyCache): string[] {
  const { scale, augment } = cacheOptions(cache);
  return [...(scale === "raw" ? ["--scale", "raw"] : []), ...(augment ? ["--augment", augment] : [])];
}

/** The `deno task train` arguments of one experiment. */
export function trainArgs(
  set: StudySet,
  experiment: Experiment,
  paths: { cache: string; out: string },
  options: { epochs?: number; hidden?: string; threads?: number } = {},
): string[] {
  return [
    "--data",
    paths.cache,
    "--out",
    paths.out,
    "--model",
    "part3",
    ...(options.hidden ? ["--hidden", options.hidden, "--batch-norm"] : []),
    "--epochs",
    String(options.epochs ?? set.epochs),
    ...(set.valSplit ? ["--val-split", set.valSplit] : []),
    // --limit-train counts records; a flipped cache holds two per image, so the same images need twice as many.
    ...(set.limitTrain ? ["--limit-train", String(set.limitTrain * (experiment.cache === "flip" ? 2 : 1))] : []),
    ...experiment.flags,
    ...(options.threads ? ["--threads", String(options.threads)] : []),
    "--force",
  ];
}

/** What the study reads back from a finished run's model folder. */
export interface StudyRun {
  /** Experiment. */
  experiment: Experiment;
  /** Epoch kept (best validation loss). */
  bestEpoch: number;
  /** Epochs run. */
  epochs: number;
  /** Final metrics (inference mode) and the test split with BatchNorm in training mode. */
  metrics: { train: Metrics; validation: Metrics | null; test: Metrics; testBatchStatistics: Metrics | null };
  /** Per-epoch rows of history.csv. */
  history: { epoch: number; accuracy: number; valAccuracy: number; loss: number; valLoss: number; seconds: number }[];
  /** Test accuracy of the saved model with BatchNorm in training mode ({@linkcode batchStatisticsAccuracy}). */
  batchStatisticsAccuracy?: number;
}

/**
 * Test accuracy of a saved model with its BatchNorm layers in training mode, as the course baseline
 * evaluated: tfjs-layers' `apply(x, { training: true })` normalises with each batch's own statistics.
 * Batches of `batchSize` are drawn in a seeded random order (the course's test CSV is interleaved;
 * ../shared/data's are sorted by label, which would put one class in each batch).
 */
export async function batchStatisticsAccuracy(
  modelDir: string,
  splitDir: string,
  options: { batchSize: number; seed: number },
): Promise<number> {
  const { model, metadata, standardization } = await loadLayersModel(modelDir);
  using split = await openSplit(splitDir);
  try {
    const order = shuffled(Array.from({ length: split.count }, (_, i) => i), options.seed);
    let correct = 0;
    for (let start = 0; start < order.length; start += options.batchSize) {
      const indices = order.subarray(start, start + options.batchSize);
      const batch = await split.readBatch(indices);
      const size = metadata.inputSize;
      if (standardization) {
        for (let i = 0; i < indices.length; i++) {
          applyStandardization(batch.values.subarray(i * size, (i + 1) * size), standardization);
        }
      }
      const p = tf.tidy(() =>
        (model.apply(tf.tensor2d(batch.values, [indices.length, size]), { training: true }) as tf.Tensor).dataSync()
      );
      for (let i = 0; i < indices.length; i++) correct += Number((p[i] > 0.5 ? 1 : 0) === batch.labels[i]);
    }
    return correct / order.length;
  } finally {
    model.dispose();
  }
}

/** Reads training.json and history.csv of a finished run. */
export async function readRun(dir: string, experiment: Experiment): Promise<StudyRun> {
  const training = JSON.parse(await Deno.readTextFile(join(dir, "training.json")));
  const rows = parse(await Deno.readTextFile(join(dir, "history.csv")), { columns: true }) as Record<string, string>[];
  const history = rows.map((r) => ({
    epoch: Number(r.epoch),
    accuracy: Number(r.accuracy),
    valAccuracy: Number(r.valAccuracy),
    loss: Number(r.loss),
    valLoss: Number(r.valLoss),
    seconds: Number(r.seconds),
  }));
  return { experiment, bestEpoch: training.bestEpoch, epochs: history.length, metrics: training.metrics, history };
}

const percent = (x: number | undefined) => x === undefined || !Number.isFinite(x) ? "–" : `${(100 * x).toFixed(1)}%`;

/** The results of one set as a Markdown table, baseline first. */
export function studyTable(runs: StudyRun[]): string {
  const lines = [
    "| experiment | change | kept epoch | train acc | validation acc | **test acc** | test acc, BN in training mode (random batches of 64) | last-epoch train acc (training mode) | s/epoch |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const run of runs) {
    const last = run.history.at(-1);
    const meanSeconds = run.history.reduce((s, r) => s + r.seconds, 0) / Math.max(1, run.history.length);
    lines.push(
      `| ${run.experiment.name} | ${run.experiment.change} | ${run.bestEpoch} of ${run.epochs} | ${
        percent(run.metrics.train.accuracy)
      } | ${percent(run.metrics.validation?.accuracy)} | **${percent(run.metrics.test.accuracy)}** | ${
        percent(run.batchStatisticsAccuracy ?? run.metrics.testBatchStatistics?.accuracy)
      } | ${percent(last?.accuracy)} | ${meanSeconds.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

const COLORS = ["#000000", "#d62728", "#ff7f0e", "#2ca02c", "#17becf", "#9467bd", "#8c564b", "#1f77b4"];

/** Validation and training accuracy per epoch of every experiment on one set, as SVG. */
export function studyChart(setName: string, runs: StudyRun[]): string {
  const series = (key: "valAccuracy" | "accuracy"): Series[] =>
    runs.map((run, i) => ({
      name: run.experiment.name,
      color: COLORS[i % COLORS.length],
      dashed: i === 0 ? false : i % 2 === 0,
      points: run.history.map((r) => [r.epoch, r[key]] as [number, number]),
    }));
  return renderChart([
    {
      title: `${setName}: validation accuracy (inference mode)`,
      xLabel: "epoch",
      yLabel: "accuracy",
      series: series("valAccuracy"),
      legendBeside: true,
    },
    {
      title: `${setName}: training accuracy (training mode)`,
      xLabel: "epoch",
      yLabel: "accuracy",
      series: series("accuracy"),
      legendBeside: true,
    },
  ], { width: 560 });
}
