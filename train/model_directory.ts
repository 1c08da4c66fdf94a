/**
 * What a finished run leaves in its model directory: the standard tfjs model (model.json, weights.bin), the
 * pixel statistics its first layer folds in, and the run record (training.json, history.csv, curves.svg,
 * predictions.csv).
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../lib/mod.ts";
import type { Mlp } from "../engine/mod.ts";
import { MODEL_FILES, type ModelMetadata, saveLayersModel, stdFloorFor } from "../model/mod.ts";
import type { TrainConfig } from "./config.ts";
import type { RunData } from "./run_data.ts";
import { toLayersModel } from "./layers_model.ts";
import { type SplitPredictions, type TrainResult, writeRunRecord } from "./run_record.ts";

/** Writes the model (model.json, weights.bin, pixel stats) and the run record. */
export async function writeModelDirectory(
  config: TrainConfig,
  data: RunData,
  mlp: Mlp,
  outcome: { result: TrainResult; predictions: SplitPredictions[] },
  environment: Record<string, unknown>,
): Promise<void> {
  const { result, predictions } = outcome;
  const { manifest, stats } = data;
  if (stats) {
    await writeFileAtomic(
      join(config.out, MODEL_FILES.stats),
      new Uint8Array(stats.buffer, stats.byteOffset, stats.byteLength),
    );
  }
  const stdFloor = stdFloorFor(manifest.scale);
  const metadata: ModelMetadata = {
    inputSize: mlp.spec.inputSize,
    classes: manifest.classes,
    preprocess: manifest.preprocess,
    // The model takes pixels as the cache stores them: its first layer holds the standardisation.
    standardize: null,
    foldedStandardization: stats ? { file: MODEL_FILES.stats, stdFloor } : null,
    architecture: {
      model: config.model,
      hidden: config.hidden,
      batchNorm: config.batchNorm,
      dropout: config.dropout,
      ...(config.residual ? { residual: config.residual } : {}),
    },
    tta: config.tta,
  };
  const model = toLayersModel(mlp, { standardization: data.standardization });
  try {
    await saveLayersModel(config.out, model, metadata);
  } finally {
    model.dispose();
  }
  await writeRunRecord(config.out, {
    training: {
      config,
      preprocess: manifest.preprocess,
      data: { manifestTrain: manifest.source, classes: manifest.classes },
      bestEpoch: result.bestEpoch,
      stoppedEarly: result.stoppedEarly,
      parameterCount: result.parameterCount,
      metrics: result.metrics,
      wallSeconds: result.wallSeconds,
      ...environment,
    },
    history: result.history,
    predictions,
  });
}
