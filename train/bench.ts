/**
 * Training speed: samples/s of part1 and part3 steps on synthetic batches of the
 * real input size (51,529), split into input upload, forward+backward and
 * optimizer time, with peak memory. Part of `deno task bench`.
 *
 * `--models part1,part3 --batch 64 --steps-part1 200 --steps-part3 20`
 * @module
 */
import { parseArgs } from "node:util";
import { describeBackend, initBackend, tf } from "./tf.ts";
import { buildMlp, chunkRanges, disposeMlp, MODEL_PRESETS, parameters, trainStep } from "./mlp.ts";
import { Optimizer } from "./optimizers.ts";
import { seededRandom } from "./random.ts";

/** One measured configuration. */
export interface TrainBenchResult {
  /** Model preset. */
  model: string;
  /** Batch size. */
  batchSize: number;
  /** Timed steps. */
  steps: number;
  /** Samples per second over the timed steps. */
  samplesPerSecond: number;
  /** Mean milliseconds per step: input upload, forward+backward, optimizer. */
  ms: { input: number; forwardBackward: number; optimizer: number; total: number };
  /** Peak resident memory in MB. */
  peakRssMb: number;
}

/** Times `steps` training steps (after 2 untimed warm-up steps) of `model` at `batchSize`. */
export function benchTrainStep(model: string, batchSize: number, steps: number, inputSize = 51529): TrainBenchResult {
  const mlp = buildMlp({ inputSize, ...MODEL_PRESETS[model] }, 1);
  const optimizer = new Optimizer(parameters(mlp), { name: "adam" });
  const random = seededRandom(5);
  const values = Float32Array.from({ length: batchSize * inputSize }, () => random() * 2 - 1);
  const labels = Float32Array.from({ length: batchSize }, (_, i) => i % 2);
  const ranges = chunkRanges(inputSize);
  const totals = { input: 0, forwardBackward: 0, optimizer: 0 };
  let peak = 0;
  for (let step = 0; step < steps + 2; step++) {
    const t0 = performance.now();
    const chunks = ranges.map(([a, b]) =>
      tf.tensor2d(values.subarray(a * batchSize, b * batchSize), [batchSize, b - a])
    );
    const y = tf.tensor2d(labels, [1, batchSize]);
    const t1 = performance.now();
    const result = trainStep(mlp, { chunks, labels: y });
    const t2 = performance.now();
    optimizer.apply(result.gradients, 1e-4);
    const t3 = performance.now();
    result.gradients.forEach((g) => g.dispose());
    chunks.forEach((c) => c.dispose());
    y.dispose();
    peak = Math.max(peak, Deno.memoryUsage().rss);
    if (step >= 2) {
      totals.input += t1 - t0;
      totals.forwardBackward += t2 - t1;
      totals.optimizer += t3 - t2;
    }
  }
  disposeMlp(mlp);
  const total = totals.input + totals.forwardBackward + totals.optimizer;
  return {
    model,
    batchSize,
    steps,
    samplesPerSecond: (steps * batchSize) / (total / 1000),
    ms: {
      input: totals.input / steps,
      forwardBackward: totals.forwardBackward / steps,
      optimizer: totals.optimizer / steps,
      total: total / steps,
    },
    peakRssMb: peak / 2 ** 20,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      models: { type: "string", default: "part1,part3" },
      batch: { type: "string", default: "64" },
      "steps-part1": { type: "string", default: "200" },
      "steps-part3": { type: "string", default: "20" },
    },
  });
  const info = await initBackend("wasm");
  console.log(`training bench (${describeBackend(info)}), synthetic batches of 51,529 inputs, Adam:`);
  for (const batch of values.batch.split(",").map(Number)) {
    for (const model of values.models.split(",")) {
      const steps = Number(model === "part1" ? values["steps-part1"] : values["steps-part3"]);
      const r = benchTrainStep(model, batch, steps);
      console.log(
        `  ${model} batch ${batch}: ${r.samplesPerSecond.toFixed(1)} samples/s; per step ${
          r.ms.total.toFixed(1)
        } ms = ` +
          `input ${r.ms.input.toFixed(1)} + forward/backward ${r.ms.forwardBackward.toFixed(1)} + optimizer ${
            r.ms.optimizer.toFixed(1)
          }; ` +
          `peak RSS ${r.peakRssMb.toFixed(0)} MB (${r.steps} steps)`,
      );
    }
  }
}
