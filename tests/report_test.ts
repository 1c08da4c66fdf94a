import assert from "node:assert/strict";
import { join } from "node:path";
import { computeMetrics, type EpochRecord, makeTrainConfig, type RunRecord, writeRunRecord } from "../train/mod.ts";
import { readReportRun, renderReport } from "../experiments/mod.ts";

/** A run record as train() writes it, made directly: the page is tested, not training. */
function runRecord(model: string, hidden: number[], epochs: number, test: [number[], number[]]): RunRecord {
  const history: EpochRecord[] = Array.from({ length: epochs }, (_, i) => ({
    epoch: i + 1,
    lr: 0.01 * 0.8 ** i,
    loss: 0.69 - 0.05 * i,
    accuracy: 0.55 + 0.05 * i,
    valLoss: 0.7 - 0.03 * i,
    valAccuracy: 0.52 + 0.04 * i,
    seconds: 2,
    samplesPerSecond: 30,
    dataSeconds: 0.1,
  }));
  const metrics = computeMetrics(...test);
  return {
    training: {
      config: makeTrainConfig({ data: "cache", out: model, model, hidden, epochs }),
      preprocess: {} as never,
      data: { manifestTrain: {} as never, classes: ["not_dog", "dog"] },
      bestEpoch: epochs - 1,
      stoppedEarly: false,
      parameterCount: 100,
      metrics: { train: metrics, validation: metrics, test: metrics, testBatchStatistics: null },
      wallSeconds: 30,
    },
    history,
  };
}

Deno.test("renderReport() compares runs read back from their model directories on one self-contained page", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report_test" });
  const first = runRecord("part1", [5, 3], 3, [[0.9, 0.2, 0.7, 0.4, 0.6], [1, 0, 1, 0, 0]]);
  const second = runRecord("custom", [6], 4, [[0.8, 0.3, 0.2, 0.1], [1, 0, 1, 0]]);
  for (const [name, record] of [["first", first], ["second", second]] as const) {
    await Deno.mkdir(join(dir, name));
    await writeRunRecord(join(dir, name), record);
  }
  const runs = await Promise.all([join(dir, "first"), join(dir, "second")].map(readReportRun));
  assert.deepEqual(runs.map((r) => [r.name, r.history.length, r.bestEpoch]), [["first", 3, 2], ["second", 4, 3]]);
  assert.deepEqual(runs[1].history[3].valAccuracy, second.history[3].valAccuracy);
  const html = renderReport(runs, "fixture runs");
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<h2>first<\/h2>[\s\S]*<h2>second<\/h2>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  // 0.9, 0.7 above 0.5 with label 1; 0.6 above with label 0: 4 of 5 right.
  assert.ok(html.includes("<b>80.0%</b>"), "first run's test accuracy");
  const c = first.training.metrics.test.confusion;
  assert.deepEqual([c.trueNegative, c.falsePositive], [2, 1]);
  assert.ok(html.includes(`<td>${c.trueNegative}</td><td>${c.falsePositive}</td>`));
  assert.ok(html.includes("<b>75.0%</b>"), "second run's test accuracy");
  // Self-contained: no scripts, no external resources.
  assert.doesNotMatch(html, /<script|<link|src=|href=/);
  await assert.rejects(() => readReportRun(join(dir, "nowhere")), /not a trained model directory/);
  await Deno.remove(dir, { recursive: true });
});
