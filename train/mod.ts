/**
 * Training the assignment's fully-connected nets on a preprocessed cache.
 *
 * What other folders use:
 * - {@linkcode makeTrainConfig} and {@linkcode train}: a run, from a config built with the defaults,
 *   the presets and the checks in one place (`deno task train` is train/cli.ts);
 * - {@linkcode readRunRecord}: what a finished run recorded (training.json, history.csv);
 * - {@linkcode toLayersModel}, the optimizers and the metrics, for benchmarks and experiments (the net
 *   itself, `buildMlp` and `trainStep`, is engine/mlp.ts).
 *
 * @example Train part1 on a cache for two epochs
 * ```ts ignore
 * import { makeTrainConfig, train } from "./mod.ts";
 * import { initBackend } from "../engine/mod.ts";
 *
 * await initBackend("wasm");
 * const result = await train(makeTrainConfig({ data: "cache", out: "models/part1", epochs: 2 }));
 * console.log(result.metrics.test.accuracy);
 * ```
 * @module
 */
export {
  checkPresetFitsCache,
  makeTrainConfig,
  MODEL_PRESETS,
  type NetShape,
  parseWidths,
  resumeKey,
  TRAIN_DEFAULTS,
  TRAIN_PRESETS,
  type TrainConfig,
  type TrainConfigInput,
  type TrainPreset,
  validateConfig,
} from "./config.ts";
export {
  formatEpoch,
  LOSS_WARNING_FACTOR,
  train,
  type TrainHooks,
  TrainingDivergedError,
  type TrainOptions,
} from "./fit.ts";
export { type IsolatedOptions, trainIsolated } from "./isolated.ts";
export {
  type EpochRecord,
  type FinalMetrics,
  type PredictionRow,
  readPredictions,
  readRunRecord,
  RUN_FILES,
  runEnvironment,
  type RunRecord,
  type SplitPredictions,
  type TrainingRecord,
  type TrainResult,
  writeRunRecord,
} from "./run_record.ts";
export { type CurvePoint, learningCurves } from "./curves.ts";
export { computeMetrics, formatConfusion, type Metrics, rocAuc } from "./metrics.ts";
export { toLayersModel } from "./layers_model.ts";
export { Optimizer, OPTIMIZER_NAMES, type OptimizerName } from "./optimizers.ts";
export { type AugmentOptions, formatAugment, parseAugment } from "./augment.ts";
export { shuffled, splitTrainValidation } from "./batches.ts";
export { openData, type RunData } from "./run_data.ts";
export { lrFind, type LrFindOptions, type LrFindPoint, type LrFindResult, suggest } from "./lr_find.ts";
