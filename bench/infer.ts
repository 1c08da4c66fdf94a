/**
 * Inference speed: single-image latency (decode of a ~500x375 JPEG included,
 * median and p95) and batch throughput, for part1- and part3-shaped models with
 * random weights. Part of `deno task bench`.
 * @module
 */
import { join } from "node:path";
import { buildMlp, disposeMlp, initBackend } from "../engine/mod.ts";
import { MODEL_PRESETS, toLayersModel } from "../train/mod.ts";
import { saveLayersModel } from "../model/mod.ts";
import { DEFAULT_PREPROCESS } from "../pipeline/mod.ts";
import { encodeJpeg, renderTaskImage } from "../demo/mod.ts";
import { seededRandom } from "../lib/mod.ts";
import { loadClassifier } from "../infer/mod.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Measures one model shape; returns a report line. */
async function benchModel(name: string, dir: string, photos: Uint8Array[]): Promise<string> {
  const mlp = buildMlp({ inputSize: 227 * 227, ...MODEL_PRESETS[name] }, 1);
  const model = toLayersModel(mlp);
  await saveLayersModel(join(dir, name), model, {
    inputSize: 227 * 227,
    classes: ["not_dog", "dog"],
    preprocess: DEFAULT_PREPROCESS,
    standardize: null,
    architecture: { model: name, ...MODEL_PRESETS[name] },
  });
  model.dispose();
  disposeMlp(mlp);
  const loadStart = performance.now();
  const classifier = await loadClassifier(join(dir, name));
  const loadMs = performance.now() - loadStart;
  const firstStart = performance.now();
  await classifier.classify(photos[0]);
  const firstMs = performance.now() - firstStart;
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    await classifier.classify(photos[i % photos.length]);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const batch = Array.from({ length: 64 }, (_, i) => photos[i % photos.length]);
  const t = performance.now();
  await classifier.classifyBatch(batch);
  const batchRate = batch.length / ((performance.now() - t) / 1000);
  classifier.dispose();
  return `  ${name}: load ${loadMs.toFixed(0)} ms, first answer ${firstMs.toFixed(0)} ms; single 500x375 JPEG median ` +
    `${percentile(times, 0.5).toFixed(1)} ms, p95 ${percentile(times, 0.95).toFixed(1)} ms; batch of 64: ${
      batchRate.toFixed(0)
    } images/s`;
}

if (import.meta.main) {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir({ prefix: "bench_infer" });
  const random = seededRandom(3);
  const photos = await Promise.all(
    Array.from({ length: 8 }, (_, i) => encodeJpeg(renderTaskImage((i % 2) as 0 | 1, 500, 375, random), 500, 375)),
  );
  console.log("inference bench (classify() through infer/mod.ts, decoding included):");
  for (const name of ["part1", "part3"]) console.log(await benchModel(name, dir, photos));
  await Deno.remove(dir, { recursive: true });
}
