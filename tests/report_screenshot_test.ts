import assert from "node:assert/strict";
import { join } from "node:path";
import { renderReport, type ReportRun } from "../experiments/mod.ts";
import { computeMetrics } from "../train/mod.ts";
import { loadSharp } from "../lib/mod.ts";
import { CHROMIUM, headless } from "../fixtures/chromium.ts";

const sharp = await loadSharp();

function fakeRun(name: string, accuracy: number): ReportRun {
  const history = Array.from({ length: 5 }, (_, i) => ({
    epoch: i + 1,
    lr: 0.001 * 0.8 ** i,
    loss: 0.7 - 0.05 * i,
    accuracy: accuracy - 0.1 + 0.02 * i,
    valLoss: 0.68 - 0.02 * i,
    valAccuracy: accuracy - 0.05 + 0.01 * i,
    seconds: 10,
    samplesPerSecond: 100,
    dataSeconds: 0.1,
    tensors: 20,
  }));
  const metrics = computeMetrics([0.9, 0.2, 0.7, 0.4, 0.6, 0.1], [1, 0, 1, 0, 0, 0]);
  return {
    dir: `/models/${name}`,
    name,
    config: { model: name, hidden: [5, 3], batchNorm: false } as unknown as ReportRun["config"],
    classes: ["not_dog", "dog"],
    bestEpoch: 4,
    metrics: { train: metrics, validation: metrics, test: metrics },
    history,
    wallSeconds: 60,
  };
}

// CI installs Debian's chromium (.ci/run); on a machine without it this test is skipped, and says so.
Deno.test({
  name: "the report renders in headless Chromium: a screenshot shows its tables and charts",
  ignore: CHROMIUM === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "report_screenshot_test" });
    const page = join(dir, "report.html");
    await Deno.writeTextFile(page, renderReport([fakeRun("part1", 0.6), fakeRun("part3", 0.7)]));
    const shot = join(dir, "shot.png");
    const { code, stderr } = await headless(dir, ["--window-size=1200,900", `--screenshot=${shot}`, `file://${page}`]);
    assert.equal(code, 0, stderr);
    const image = sharp(await Deno.readFile(shot));
    const { width, height } = await image.metadata();
    assert.deepEqual([width, height], [1200, 900]);
    // A blank or error page is nearly uniform; the report has text, tables and coloured lines.
    const stats = await image.stats();
    assert.ok(stats.channels[0].stdev > 20, `screenshot looks blank (stdev ${stats.channels[0].stdev})`);
    const { data } = await sharp(await Deno.readFile(shot)).raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    for (let i = 0; i < data.length; i += 3) if (data[i] > 180 && data[i + 1] < 90 && data[i + 2] < 90) red++;
    assert.ok(red > 50, `no red validation curve visible (${red} red pixels)`);
    await Deno.remove(dir, { recursive: true });
  },
});
