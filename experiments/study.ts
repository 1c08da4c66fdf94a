/**
 * The "why not 94%?" study: part3 trained under controlled changes (input scaling,
 * learning rate, L2, dropout, stored flips) on a data set, one training run per
 * experiment, and a Markdown table and SVG charts of the results.
 *
 * Every run keeps the epoch with the best validation loss and touches the test split
 * once, at the end; every run also reports the test accuracy with BatchNorm left in
 * training mode, which is how the course baseline evaluated.
 * @module
 */
import { percent, renderChart, type Series } from "../lib/mod.ts";
import { openSplit, type PixelScale } from "../pipeline/mod.ts";
import { tf } from "../engine/mod.ts";
import { applyStandardization, loadLayersModel } from "../model/mod.ts";
import {
  type EpochRecord,
  type FinalMetrics,
  makeTrainConfig,
  readRunRecord,
  shuffled,
  type TrainConfig,
} from "../train/mod.ts";

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
  /** What it sets differently from the baseline's training config. */
  overrides: Partial<TrainConfig>;
}

/** The experiments, baseline first: the PyTorch reference's settings (unit scale, Adam 1e-3 ×0.8 per epoch, batch 64). */
export const EXPERIMENTS: Experiment[] = [
  {
    name: "baseline",
    change: "baseline: /255, standardised per pixel, Adam 1e-3 ×0.8/epoch",
    cache: "unit",
    overrides: {},
  },
  {
    name: "raw-input",
    change: "course input: 0..255, not standardised",
    cache: "raw",
    overrides: { standardize: false },
  },
  { name: "unit-input", change: "/255, not standardised", cache: "unit", overrides: { standardize: false } },
  { name: "course-lr", change: "lr 0.1 (the course's part3 setting)", cache: "unit", overrides: { lr: 0.1 } },
  { name: "low-lr", change: "lr 1e-4, no decay", cache: "unit", overrides: { lr: 0.0001, decayRate: 1 } },
  { name: "l2", change: "L2 1e-3 on weights", cache: "unit", overrides: { l2: 0.001 } },
  { name: "dropout", change: "dropout 0.5 after each hidden layer", cache: "unit", overrides: { dropout: 0.5 } },
  { name: "flip", change: "horizontal-flip augmentation (train ×2)", cache: "flip", overrides: {} },
];

/** The preprocess options of a cache variant. */
export function cacheOptions(cache: StudyCache): { scale: PixelScale; storeFlipped: boolean } {
  return { scale: cache === "raw" ? "raw" : "unit", storeFlipped: cache === "flip" };
}

/** The `deno task preprocess` flags that make a cache variant (beyond the defaults), for the log. */
export function cacheFlags(cache: StudyCache): string[] {
  const { scale, storeFlipped } = cacheOptions(cache);
  return [...(scale === "raw" ? ["--scale", "raw"] : []), ...(storeFlipped ? ["--store-flipped"] : [])];
}

/** The training config of one experiment: part3 (or `hidden` with BatchNorm), the set's epochs and validation. */
export function experimentConfig(
  set: StudySet,
  experiment: Experiment,
  paths: { cache: string; out: string },
  options: { epochs?: number; hidden?: number[] } = {},
): TrainConfig {
  return makeTrainConfig({
    data: paths.cache,
    out: paths.out,
    model: "part3",
    ...(options.hidden ? { hidden: options.hidden, batchNorm: true } : {}),
    epochs: options.epochs ?? set.epochs,
    valSplit: set.valSplit,
    // limitTrain counts records; a flipped cache holds two per image, so the same images need twice as many.
    limitTrain: set.limitTrain ? set.limitTrain * (experiment.cache === "flip" ? 2 : 1) : undefined,
    ...experiment.overrides,
  });
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
  metrics: FinalMetrics;
  /** Per-epoch rows of history.csv. */
  history: EpochRecord[];
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

/** Reads the run record of a finished experiment. */
export async function readStudyRun(dir: string, experiment: Experiment): Promise<StudyRun> {
  const { training, history } = await readRunRecord(dir);
  return { experiment, bestEpoch: training.bestEpoch, epochs: history.length, metrics: training.metrics, history };
}

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
