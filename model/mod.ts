/**
 * The contract between training and inference: the model directory's files
 * (a standard tfjs layers model plus what inference needs to repeat the
 * preprocessing) and the per-pixel standardisation both sides apply.
 *
 * Training writes with {@linkcode saveLayersModel}; inference reads with
 * {@linkcode loadLayersModel}; neither knows how the other works.
 * @module
 */
export {
  type LoadedModel,
  loadLayersModel,
  MODEL_FILES,
  ModelFileError,
  type ModelFiles,
  type ModelMetadata,
  readModelFiles,
  saveLayersModel,
  weightsFingerprint,
  type WeightSpec,
} from "./model_files.ts";
export {
  applyStandardization,
  type Standardization,
  standardizationFromStats,
  STD_FLOOR_UNIT,
  stdFloorFor,
} from "./standardization.ts";
