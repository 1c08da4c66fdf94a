/**
 * Running the net over a split in inference mode: P(label 1) for each record and the metrics, per epoch on
 * validation and once at the end on every split (with the course's batch-statistics measurement beside it).
 * @module
 */
import { join } from "node:path";
import { type Mlp, predictProbabilities } from "../engine/mod.ts";
import type { TrainConfig, TtaMode } from "./config.ts";
import { type BatchLoader, disposeInput, prefetchBatches, shuffled } from "./batches.ts";
import type { RunData } from "./run_data.ts";
import { computeMetrics, type Metrics } from "./metrics.ts";
import type { FinalMetrics, SplitPredictions } from "./run_record.ts";

/** Metrics of the kept weights on train, validation and test, in inference mode (and with batch statistics). */
export async function evaluateFinal(
  config: TrainConfig,
  mlp: Mlp,
  data: RunData,
): Promise<{ metrics: FinalMetrics; predictions: SplitPredictions[] }> {
  const { indices } = data;
  const tta = { tta: config.tta };
  const validation = indices.validation.length > 0
    ? await predict(mlp, data.validationLoader, indices.validation, config.evalBatchSize, tta)
    : null;
  const test = await predict(mlp, data.testLoader, indices.test, config.evalBatchSize, tta);
  const metrics: FinalMetrics = {
    train: (await predict(mlp, data.trainLoader, indices.train, config.evalBatchSize, tta)).metrics,
    validation: validation?.metrics ?? null,
    test: test.metrics,
    testBatchStatistics: null,
  };
  if (mlp.spec.batchNorm) {
    // What the course baseline measured: BatchNorm still in training mode at test time, batches of the training
    // size. The batches are drawn in a seeded random order, as from the course's interleaved test CSV; a split
    // sorted by label would put one class in each batch, and batch statistics would then erase the class signal.
    const order = shuffled(indices.test, config.seed);
    metrics.testBatchStatistics = (await predict(mlp, data.testLoader, order, config.batchSize, {
      batchStatistics: true,
    })).metrics;
  }
  const predictions: SplitPredictions[] = [{
    split: "test",
    dir: join(config.data, "test"),
    indices: indices.test,
    ...test,
  }];
  if (validation) {
    const split = config.valSplit ?? "train";
    predictions.unshift({
      split: "validation",
      dir: join(config.data, split),
      indices: indices.validation,
      ...validation,
    });
  }
  return { metrics, predictions };
}

/**
 * P(label 1) of the net for records `indices` of a split (sorted indices keep their order), and the metrics.
 * With `tta: "flip"`, each record's P is the mean of its own and its mirror image's.
 */
export async function predict(
  mlp: Mlp,
  loader: BatchLoader,
  indices: Uint32Array,
  batchSize: number,
  options: { batchStatistics?: boolean; tta?: TtaMode } = {},
): Promise<{ probabilities: Float32Array; labels: Uint8Array; metrics: Metrics }> {
  const probabilities = new Float32Array(indices.length), labels = new Uint8Array(indices.length);
  const looks = options.tta === "flip" ? [false, true] : [false];
  for (const mirror of looks) {
    let offset = 0;
    for await (const host of prefetchBatches(loader, indices, batchSize, { mirror })) {
      const batch = loader.toTensors(host);
      const tensor = predictProbabilities(mlp, batch.chunks, options);
      const p = tensor.dataSync();
      tensor.dispose();
      for (let i = 0; i < host.size; i++) probabilities[offset + i] += p[i] / looks.length;
      if (!mirror) labels.set(host.labels, offset);
      offset += host.size;
      disposeInput(batch);
    }
  }
  return { probabilities, labels, metrics: computeMetrics(probabilities, labels) };
}
