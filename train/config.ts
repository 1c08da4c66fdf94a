/**
 * The training configuration: its fields, its defaults, the assignment's two nets, the
 * course preset, and the checks. Everything that starts a training run (the CLI, the
 * study, the demo, the fixtures, the tests) builds its config with {@linkcode makeTrainConfig}.
 * @module
 */
import { join } from "node:path";
import { OptionError, requireInteger } from "../lib/mod.ts";
import { readManifest } from "../pipeline/mod.ts";
import type { AugmentOptions } from "./augment.ts";
import { OPTIMIZER_NAMES, type OptimizerName } from "./optimizers.ts";

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

/** The shape of a net without its input size (filled in from the cache). */
export interface NetShape {
  /** Hidden layer widths. */
  hidden: number[];
  /** Dense -> BatchNorm -> ReLU in every hidden layer (part3), or Dense+bias -> ReLU (part1). */
  batchNorm: boolean;
  /** Dropout rate after each hidden ReLU (0 = none). */
  dropout: number;
}

/** The assignment's two nets. */
export const MODEL_PRESETS: Record<string, NetShape> = {
  part1: { hidden: [5, 3], batchNorm: false, dropout: 0 },
  part3: { hidden: [1024, 2048, 2048, 1024], batchNorm: true, dropout: 0 },
};

/** The defaults of every field a run does not have to name. */
export const TRAIN_DEFAULTS = {
  model: "part1",
  dropout: 0,
  l2: 0,
  epochs: 10,
  batchSize: 64,
  lr: 0.001,
  decayRate: 0.8,
  optimizer: "adam",
  seed: 1,
  valFraction: 0.1,
  standardize: true,
  evalBatchSize: 256,
} as const satisfies Partial<TrainConfig>;

/** Presets of several fields at once. */
export const TRAIN_PRESETS = ["course"] as const;

/** A preset name. */
export type TrainPreset = typeof TRAIN_PRESETS[number];

/**
 * The course baseline's settings: batch 128, 10 epochs, Adam, lr 0.1 decayed 0.8 per epoch for part3
 * and a constant 0.01 for part1, shuffle seed 220 + epoch, raw 0..255 pixels, no standardisation.
 */
function coursePreset(model: string): Partial<TrainConfig> {
  return {
    epochs: 10,
    batchSize: 128,
    lr: model === "part1" ? 0.01 : 0.1,
    decayRate: model === "part1" ? 1 : 0.8,
    seed: 220,
    standardize: false,
  };
}

/** What a run names; everything else comes from the preset, then the defaults. */
export type TrainConfigInput = Pick<TrainConfig, "data" | "out"> & Partial<Omit<TrainConfig, "data" | "out">> & {
  /** A preset of several settings; fields given here still win. */
  preset?: TrainPreset;
};

/**
 * A complete, checked config: the fields given, else the preset's, else {@linkcode TRAIN_DEFAULTS}.
 * `model` names one of {@linkcode MODEL_PRESETS}, whose shape is used; `hidden` widths other than
 * that preset's make a custom net (model "custom" unless named otherwise, BatchNorm only when asked for).
 */
export function makeTrainConfig(input: TrainConfigInput): TrainConfig {
  const { preset, ...given } = input;
  if (preset !== undefined && !TRAIN_PRESETS.includes(preset)) {
    throw new OptionError(`{preset} must be ${TRAIN_PRESETS.map((p) => `"${p}"`).join(" or ")}, got "${preset}"`);
  }
  const named = given.model ?? TRAIN_DEFAULTS.model;
  const presetWidths = MODEL_PRESETS[named]?.hidden.join(",");
  // Widths other than the named preset's make a custom net, named as given unless that name is a preset's.
  const custom = given.hidden !== undefined && given.hidden.join(",") !== presetWidths;
  const model = custom ? (presetWidths === undefined && given.model ? given.model : "custom") : named;
  if (!custom && !(model in MODEL_PRESETS)) {
    throw new OptionError(
      `{model} must be ${
        Object.keys(MODEL_PRESETS).join(" or ")
      } (or give {hidden} widths for a custom net), got "${model}"`,
    );
  }
  const shape = custom ? { hidden: given.hidden!, batchNorm: false } : MODEL_PRESETS[model];
  const merged: TrainConfig = {
    ...TRAIN_DEFAULTS,
    hidden: shape.hidden,
    batchNorm: shape.batchNorm,
    ...(preset === "course" ? coursePreset(model) : {}),
    ...withoutUndefined(given),
    data: given.data,
    out: given.out,
    model,
  };
  const config = inFieldOrder(merged);
  validateConfig(config);
  return config;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The config with its fields in one fixed order, so its JSON (training.json, checkpoints) reads the same every run. */
function inFieldOrder(c: TrainConfig): TrainConfig {
  return {
    data: c.data,
    out: c.out,
    model: c.model,
    hidden: c.hidden,
    batchNorm: c.batchNorm,
    dropout: c.dropout,
    l2: c.l2,
    epochs: c.epochs,
    batchSize: c.batchSize,
    lr: c.lr,
    decayRate: c.decayRate,
    optimizer: c.optimizer,
    seed: c.seed,
    valFraction: c.valFraction,
    valSplit: c.valSplit,
    limitTrain: c.limitTrain,
    limitTest: c.limitTest,
    standardize: c.standardize,
    augment: c.augment,
    patience: c.patience,
    evalBatchSize: c.evalBatchSize,
  };
}

/** Reads hidden widths written as "512,256"; throws an {@linkcode OptionError} naming `hidden` otherwise. */
export function parseWidths(text: string): number[] {
  const parts = text.split(",").map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part))) {
    throw new OptionError(`{hidden} takes widths like 512,256; got "${text}"`);
  }
  return parts.map(Number);
}

/** Checks the numbers and names of a configuration; throws an {@linkcode OptionError} naming the field. */
export function validateConfig(config: TrainConfig): void {
  for (const field of ["epochs", "batchSize", "evalBatchSize", "limitTrain", "limitTest", "patience"] as const) {
    if (config[field] !== undefined) requireInteger(field, config[field], 1);
  }
  if (!(config.lr > 0)) throw new OptionError(`{lr} must be positive, got ${config.lr}`);
  if (!(config.decayRate > 0 && config.decayRate <= 1)) {
    throw new OptionError(`{decayRate} must be in (0, 1], got ${config.decayRate}`);
  }
  if (!(config.valFraction >= 0 && config.valFraction < 1)) {
    throw new OptionError(`{valFraction} must be in [0, 1), got ${config.valFraction}`);
  }
  if (config.valSplit === "test" || config.valSplit === "train") {
    throw new OptionError(
      `{valSplit} must name a third split, not "${config.valSplit}": validation never comes from test`,
    );
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new OptionError(`{dropout} must be in [0, 1), got ${config.dropout}`);
  }
  if (config.augment && !(Number.isInteger(config.augment.shift) && config.augment.shift >= 0)) {
    throw new OptionError(`{augment} shift must be a whole number of pixels >= 0, got ${config.augment.shift}`);
  }
  if (!(config.l2 >= 0)) throw new OptionError(`{l2} must be >= 0, got ${config.l2}`);
  if (config.hidden.length === 0 || config.hidden.some((h) => !(Number.isInteger(h) && h > 0))) {
    throw new OptionError(`{hidden} layer widths must be positive integers, got "${config.hidden.join(",")}"`);
  }
  if (!OPTIMIZER_NAMES.includes(config.optimizer)) {
    throw new OptionError(`{optimizer} must be one of ${OPTIMIZER_NAMES.join(", ")}, got "${config.optimizer}"`);
  }
}

/** Throws unless the cache suits the preset: the course preset trains on raw 0..255 pixels. */
export async function checkPresetFitsCache(preset: TrainPreset | undefined, data: string): Promise<void> {
  if (preset !== "course") return;
  const manifest = await readManifest(join(data, "train"));
  if (manifest.scale !== "raw") {
    throw new OptionError(
      `{preset} course trains on raw 0..255 pixels, but ${data} was preprocessed at ${manifest.scale} scale; ` +
        "preprocess again at raw scale (deno task preprocess --scale raw) into another folder",
    );
  }
}

/** The config fields that must match for a run to resume another's checkpoint. */
export function resumeKey(config: TrainConfig): Omit<TrainConfig, "out" | "epochs" | "patience" | "evalBatchSize"> {
  const { out: _out, epochs: _epochs, patience: _patience, evalBatchSize: _eval, ...rest } = config;
  return rest;
}
