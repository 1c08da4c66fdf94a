/**
 * The training configuration: its fields, its defaults, the assignment's two nets, the
 * course preset, and the checks. Everything that starts a training run (the CLI, the
 * study, the demo, the fixtures, the tests) builds its config with {@linkcode makeTrainConfig}.
 * @module
 */
import { join } from "node:path";
import { OptionError, requireInteger } from "../lib/mod.ts";
import { readManifest } from "../pipeline/mod.ts";
import type { ResidualShape } from "../engine/mod.ts";
import type { AugmentOptions } from "./augment.ts";
import { OPTIMIZER_NAMES, type OptimizerName } from "./optimizers.ts";

/** Everything that decides a training run. */
export interface TrainConfig {
  /** Cache folder holding train/ and test/ splits. */
  data: string;
  /** Model directory to write. */
  out: string;
  /** Preset name (part1, part3, resmlp) or "custom". */
  model: string;
  /** Hidden layer widths. */
  hidden: number[];
  /** BatchNorm in hidden layers. */
  batchNorm: boolean;
  /** Dropout rate after hidden ReLUs. */
  dropout: number;
  /** The residual MLP's width, depth and expansion (model resmlp); absent for the other nets. */
  residual?: ResidualShape;
  /** L2 penalty on weights. */
  l2: number;
  /** Decoupled weight decay on weights, w ← w·(1 − lr·weightDecay) each step (AdamW's, Lion's). */
  weightDecay: number;
  /** Epochs. */
  epochs: number;
  /** Samples per step. */
  batchSize: number;
  /** Initial learning rate. */
  lr: number;
  /** Learning rate multiplier per epoch: lr·decay^epoch (the exponential schedule). */
  decayRate: number;
  /**
   * `exponential`: lr·decayRate^epoch, the assignment's; `cosine`: per step, from lr down to 0 along half a
   * cosine over the whole run (after the warmup).
   */
  schedule: LrSchedule;
  /** Share of all steps over which the learning rate rises linearly from 0 to lr first (0: none). */
  warmup: number;
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
  /** Training-time augmentation (random flips, shifts and crops drawn per record and epoch); none when absent. */
  augment?: AugmentOptions;
  /** MixUp's α (0: none): each batch mixed with itself reversed, λ ~ Beta(α, α). */
  mixup: number;
  /** Label smoothing ε (0: none): labels become y·(1−ε) + ε/2. */
  labelSmoothing: number;
  /**
   * Decay of an exponential moving average of the weights, updated every step (0: none). With it, validation,
   * the choice of epoch, the final metrics and the saved model are the average's.
   */
  ema: number;
  /** Test-time augmentation: `flip` averages P(dog) of each record and its mirror image, at evaluation and in the saved model's use. */
  tta: TtaMode;
  /** Stop after this many epochs without a better validation loss. */
  patience?: number;
  /** Samples per evaluation batch. */
  evalBatchSize: number;
}

/** The learning-rate schedules. */
export const LR_SCHEDULES = ["exponential", "cosine"] as const;

/** A learning-rate schedule. */
export type LrSchedule = typeof LR_SCHEDULES[number];

/** Test-time augmentation modes. */
export const TTA_MODES = ["none", "flip"] as const;

/** A test-time augmentation mode. */
export type TtaMode = typeof TTA_MODES[number];

/** The shape of a net without its input size (filled in from the cache). */
export interface NetShape {
  /** Hidden layer widths. */
  hidden: number[];
  /** Dense -> BatchNorm -> ReLU in every hidden layer (part3), or Dense+bias -> ReLU (part1). */
  batchNorm: boolean;
  /** Dropout rate after each hidden ReLU (0 = none). */
  dropout: number;
  /** The residual MLP's shape, for resmlp. */
  residual?: ResidualShape;
}

/**
 * The assignment's two nets, and the residual MLP of Bachmann et al. (2023): inputs -> 512, four blocks of
 * x + Linear(GELU(Linear(LayerNorm(x)))) widening 4x, LayerNorm, -> 1.
 */
export const MODEL_PRESETS: Record<string, NetShape> = {
  part1: { hidden: [5, 3], batchNorm: false, dropout: 0 },
  part3: { hidden: [1024, 2048, 2048, 1024], batchNorm: true, dropout: 0 },
  resmlp: { hidden: [], batchNorm: false, dropout: 0, residual: { width: 512, depth: 4, expansion: 4 } },
};

/** The defaults of every field a run does not have to name. */
export const TRAIN_DEFAULTS = {
  model: "part1",
  dropout: 0,
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
  standardize: true,
  mixup: 0,
  labelSmoothing: 0,
  ema: 0,
  tta: "none",
  evalBatchSize: 256,
} as const satisfies Partial<TrainConfig>;

/** Weight decay of the optimizers that decouple it, when none is given (PyTorch's AdamW default). */
export const DEFAULT_DECOUPLED_WEIGHT_DECAY = 0.01;

/** Presets of several fields at once. */
export const TRAIN_PRESETS = ["course", "modern"] as const;

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

/**
 * The modern recipe for a fully-connected net (Bachmann et al.'s, as issue #22 measured it in PyTorch): the
 * residual MLP, AdamW 1e-3 with weight decay 0.05, 5% warmup then cosine, label smoothing 0.1, random flips and
 * crops, batch 128, an average of the weights, flip averaging at test time. No MixUp: at α = 0.8 it cost 1.9
 * points on cifar10-dog's validation split and bought nothing on dogs-vs-cats-4k's (means of three seeds,
 * docs/results.md); `--mixup 0.8` brings it back.
 * `records` (train records) and `side` (the cache's image side) size the run: small images (32×32 and less)
 * get shifts of 1/8 of their side, larger ones random resized crops;
 * epochs set so that a run sees about 600,000 samples (under 20 minutes on two cores for 32×32 colour), at
 * least 40 and at most 150 epochs.
 */
export function modernPreset(cache: { records: number; side: number }): Partial<TrainConfig> {
  return {
    model: "resmlp",
    optimizer: "adamw",
    lr: 1e-3,
    weightDecay: 0.05,
    schedule: "cosine",
    warmup: 0.05,
    labelSmoothing: 0.1,
    mixup: 0,
    // Small images get pad-and-crop shifts of 1/8 of their side (torchvision's RandomCrop(32, padding=4)),
    // photos a random resized crop keeping 35-100% of the area, as Bachmann et al. train both.
    augment: cache.side <= 32
      ? { flip: true, shift: Math.max(1, Math.round(cache.side / 8)) }
      : { flip: true, shift: 0, crop: 0.35 },
    batchSize: 128,
    epochs: Math.min(150, Math.max(40, Math.round(6e5 / Math.max(1, cache.records)))),
    ema: 0.999,
    tta: "flip",
  };
}

/** What a run names; everything else comes from the preset, then the defaults. */
export type TrainConfigInput =
  & Pick<TrainConfig, "data" | "out">
  & Partial<Omit<TrainConfig, "data" | "out" | "residual">>
  & {
    /** A preset of several settings; fields given here still win. */
    preset?: TrainPreset;
    /** For `preset: "modern"`: the cache's train records and image side (see {@linkcode presetCacheInfo}). */
    cache?: { records: number; side: number };
    /** The residual MLP's shape, any part of it (the rest from the resmlp preset). */
    residual?: Partial<ResidualShape>;
  };

/**
 * A complete, checked config: the fields given, else the preset's, else {@linkcode TRAIN_DEFAULTS}.
 * `model` names one of {@linkcode MODEL_PRESETS}, whose shape is used; `hidden` widths other than
 * that preset's make a custom net (model "custom" unless named otherwise, BatchNorm only when asked for).
 */
export function makeTrainConfig(input: TrainConfigInput): TrainConfig {
  const { preset, cache, residual: givenResidual, ...given } = input;
  if (preset === "modern" && !cache) {
    throw new OptionError("{preset} modern sizes the run from the cache: read it with presetCacheInfo() first");
  }
  if (preset !== undefined && !TRAIN_PRESETS.includes(preset)) {
    throw new OptionError(`{preset} must be ${TRAIN_PRESETS.map((p) => `"${p}"`).join(" or ")}, got "${preset}"`);
  }
  const named = given.model ?? (preset === "modern" ? "resmlp" : TRAIN_DEFAULTS.model);
  const presetWidths = MODEL_PRESETS[named]?.hidden.join(",");
  // Widths other than the named preset's make a custom net, named as given unless that name is a preset's.
  const custom = given.hidden !== undefined && given.hidden.join(",") !== presetWidths;
  const model = custom ? (presetWidths === undefined && given.model ? given.model : "custom") : named;
  if (!custom && !(model in MODEL_PRESETS)) {
    throw new OptionError(
      `{model} must be ${
        Object.keys(MODEL_PRESETS).join(", ").replace(/, ([^,]*)$/, " or $1")
      } (or give {hidden} widths for a custom net), got "${model}"`,
    );
  }
  const presetFields = preset === "course" ? coursePreset(model) : preset === "modern" ? modernPreset(cache!) : {};
  delete presetFields.model;
  const shape: NetShape = custom ? { hidden: given.hidden!, batchNorm: false, dropout: 0 } : MODEL_PRESETS[model];
  if (givenResidual && !shape.residual) {
    throw new OptionError(`{width}, {depth} and {expansion} are for {model} resmlp, not ${model}`);
  }
  const optimizer = given.optimizer ?? presetFields.optimizer ?? TRAIN_DEFAULTS.optimizer;
  const merged: TrainConfig = {
    ...TRAIN_DEFAULTS,
    hidden: shape.hidden,
    batchNorm: shape.batchNorm,
    ...(optimizer === "adamw" || optimizer === "lion" ? { weightDecay: DEFAULT_DECOUPLED_WEIGHT_DECAY } : {}),
    ...presetFields,
    ...withoutUndefined(given),
    ...(shape.residual ? { residual: { ...shape.residual, ...withoutUndefined(givenResidual ?? {}) } } : {}),
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
    residual: c.residual,
    l2: c.l2,
    weightDecay: c.weightDecay,
    epochs: c.epochs,
    batchSize: c.batchSize,
    lr: c.lr,
    decayRate: c.decayRate,
    schedule: c.schedule,
    warmup: c.warmup,
    optimizer: c.optimizer,
    seed: c.seed,
    valFraction: c.valFraction,
    valSplit: c.valSplit,
    limitTrain: c.limitTrain,
    limitTest: c.limitTest,
    standardize: c.standardize,
    augment: c.augment,
    mixup: c.mixup,
    labelSmoothing: c.labelSmoothing,
    ema: c.ema,
    tta: c.tta,
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
  if (!(config.weightDecay >= 0)) throw new OptionError(`{weightDecay} must be >= 0, got ${config.weightDecay}`);
  if (!(config.warmup >= 0 && config.warmup < 1)) {
    throw new OptionError(`{warmup} must be in [0, 1), got ${config.warmup}`);
  }
  if (!(config.mixup >= 0)) throw new OptionError(`{mixup} must be >= 0 (MixUp's alpha), got ${config.mixup}`);
  if (!(config.labelSmoothing >= 0 && config.labelSmoothing < 1)) {
    throw new OptionError(`{labelSmoothing} must be in [0, 1), got ${config.labelSmoothing}`);
  }
  if (!(config.ema >= 0 && config.ema < 1)) throw new OptionError(`{ema} must be in [0, 1), got ${config.ema}`);
  if (!LR_SCHEDULES.includes(config.schedule)) {
    throw new OptionError(`{schedule} must be ${LR_SCHEDULES.join(" or ")}, got "${config.schedule}"`);
  }
  if (!TTA_MODES.includes(config.tta)) {
    throw new OptionError(`{tta} must be ${TTA_MODES.join(" or ")}, got "${config.tta}"`);
  }
  if (config.residual) {
    for (const field of ["width", "depth", "expansion"] as const) requireInteger(field, config.residual[field], 1);
    if (config.dropout > 0) {
      throw new OptionError("{dropout} is not offered for the resmlp net: its recipe regularises otherwise");
    }
  }
  if (!config.residual && (config.hidden.length === 0 || config.hidden.some((h) => !(Number.isInteger(h) && h > 0)))) {
    throw new OptionError(`{hidden} layer widths must be positive integers, got "${config.hidden.join(",")}"`);
  }
  if (!OPTIMIZER_NAMES.includes(config.optimizer)) {
    throw new OptionError(`{optimizer} must be one of ${OPTIMIZER_NAMES.join(", ")}, got "${config.optimizer}"`);
  }
}

/** What {@linkcode modernPreset} needs of a cache: its train records, its image side and its channels. */
export async function presetCacheInfo(data: string): Promise<{ records: number; side: number; channels: number }> {
  const manifest = await readManifest(join(data, "train"));
  return { records: manifest.count, side: manifest.width, channels: manifest.channels ?? 1 };
}

/** A note for a modern run on a cache it was not made for (gray, or larger than 64×64), else null. */
export function modernCacheNote(cache: { side: number; channels: number }): string | null {
  if (cache.channels === 3 && cache.side <= 64) return null;
  return `note: --preset modern is made for colour at a native size (${cache.side}x${cache.side} ` +
    `${cache.channels === 3 ? "colour" : "gray"} here): preprocess with --color and --size 32 for small images, ` +
    "--size 64 --resize-kernel opencv-area for photos (docs/train.md)";
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
