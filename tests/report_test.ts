import assert from "node:assert/strict";
import { join } from "node:path";
import { makeLabelledSet } from "../fixtures/make_fixtures.ts";
import { preprocess } from "../pipeline/preprocess.ts";
import { initBackend } from "../engine/tf.ts";
import { train, type TrainConfig } from "../train/fit.ts";
import { readRun, renderReport } from "../experiments/report.ts";

await initBackend("wasm");

Deno.test("renderReport() compares runs on one self-contained page", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report_test" });
  await makeLabelledSet(dir, { train: 60, test: 20, width: 16, height: 16, seed: 5 });
  await preprocess({
    csvs: [join(dir, "train.csv"), join(dir, "test.csv")],
    out: join(dir, "cache"),
    params: { size: 8 },
  });
  const config: TrainConfig = {
    data: join(dir, "cache"),
    out: join(dir, "first"),
    model: "part1",
    hidden: [5, 3],
    batchNorm: false,
    dropout: 0,
    l2: 0,
    epochs: 3,
    batchSize: 10,
    lr: 0.01,
    decayRate: 0.8,
    optimizer: "adam",
    seed: 1,
    valFraction: 0.2,
    standardize: true,
    evalBatchSize: 32,
  };
  const a = await train(config);
  await train({ ...config, out: join(dir, "second"), hidden: [6], batchNorm: true, model: "custom" });
  const runs = await Promise.all([join(dir, "first"), join(dir, "second")].map(readRun));
  assert.equal(runs[0].history.length, 3);
  const html = renderReport(runs, "fixture runs");
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<h2>first<\/h2>[\s\S]*<h2>second<\/h2>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.ok(html.includes(`<b>${(100 * a.metrics.test.accuracy).toFixed(1)}%</b>`));
  const c = a.metrics.test.confusion;
  assert.ok(html.includes(`<td>${c.trueNegative}</td><td>${c.falsePositive}</td>`));
  // Self-contained: no scripts, no external resources.
  assert.doesNotMatch(html, /<script|<link|src=|href=/);
  await assert.rejects(() => readRun(join(dir, "cache")), /not a trained model directory/);
  await Deno.remove(dir, { recursive: true });
});
