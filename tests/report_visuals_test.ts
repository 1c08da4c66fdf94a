/**
 * The report shows what a net learned, from a real run on the fixture task: ROC and histogram, the most
 * confidently wrong and right test images (the cached record where a photo is gone), the first layer's
 * weights as pictures; the page stays self-contained; it, and the lr-find chart, render in headless Chromium.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeLabelledCache } from "../demo/mod.ts";
import { initBackend } from "../engine/mod.ts";
import { makeTrainConfig, type PredictionRow, readPredictions, train } from "../train/mod.ts";
import { readReportRun, renderReport } from "../experiments/mod.ts";
import { divergingColours, extremes, rocChart, weightColours } from "../experiments/report_visuals.ts";
import { CHROMIUM, headless } from "../fixtures/chromium.ts";

await initBackend("wasm");

const row = (label: number, probability: number, index = 0): PredictionRow => ({
  split: "test",
  index,
  path: `p${index}.jpg`,
  label,
  probability,
});

Deno.test("extremes() orders mistakes by confidence, worst first, and leaves validation rows out", () => {
  const rows = [row(1, 0.3, 0), row(0, 0.99, 1), row(1, 0.97, 2), row(0, 0.6, 3), row(0, 0.01, 4), {
    ...row(1, 0, 5),
    split: "validation" as const,
  }];
  const { wrong, right } = extremes(rows, 16, 8);
  assert.deepEqual(wrong.map((r) => r.index), [1, 0, 3]);
  assert.deepEqual(right.map((r) => r.index), [4, 2]);
});

Deno.test("divergingColours() maps 0 to white and the extremes to full red and blue", () => {
  const rgb = divergingColours(Float32Array.from([0, 2, -2, 1]));
  assert.deepEqual(Array.from(rgb), [255, 255, 255, 255, 0, 0, 0, 0, 255, 255, 128, 128]);
});

Deno.test("weightColours() maps 0 to mid-gray and the extremes to full and no light, per channel", () => {
  assert.deepEqual(Array.from(weightColours(Float32Array.from([0, 2, -2, 1, 0, 0]))), [128, 255, 1, 192, 128, 128]);
});

Deno.test("rocChart() draws one point per distinct threshold, from (0,0) to (1,1)", () => {
  const svg = rocChart([row(1, 0.9), row(0, 0.8), row(1, 0.8), row(0, 0.1)], "m", 0.875);
  assert.match(svg, /AUC 0\.875/);
  assert.match(svg, /<path d="M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){3}"/, "4 points: origin, 0.9, the 0.8 tie, 0.1");
});

Deno.test("the report shows a run's ROC, histogram, galleries and first-layer units, self-contained", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report_visuals_test" });
  await makeLabelledCache(dir, { train: 120, test: 40, width: 24, height: 24, seed: 17 }, { params: { size: 16 } });
  const out = join(dir, "part1");
  await train(makeTrainConfig({ data: join(dir, "cache"), out, epochs: 3, batchSize: 16, lr: 0.01 }));
  // The photo of the most confidently right test record is gone: the report falls back to its cached record.
  const { right } = extremes(await readPredictions(out));
  await Deno.remove(right[0].path);
  const run = await readReportRun(out);
  const visuals = run.visuals!;
  assert.equal(visuals.right[0].path, right[0].path);
  assert.equal(visuals.right[0].from, "cached record");
  assert.ok(visuals.right.slice(1).every((g) => g.from === "photo"));
  assert.ok(visuals.right.length === Math.min(8, right.length) && visuals.wrong.length <= 16);
  assert.equal(visuals.unitCount, 5);
  assert.deepEqual(visuals.units.map((u) => u.unit).sort(), [0, 1, 2, 3, 4]);
  assert.ok(visuals.units.every((u) => u.norm > 0 && u.dataUri.startsWith("data:image/jpeg;base64,")));
  const html = renderReport([run], "visuals");
  assert.match(html, /ROC on test \(AUC/);
  assert.match(html, /P\(dog\) on test, by true class/);
  assert.match(
    html,
    /Most confidently wrong on test[\s\S]*Most confidently right on test[\s\S]*First-layer weights \(all 5 units\)/,
  );
  assert.match(html, /<i>cached record<\/i>/);
  // One file, no scripts, nothing fetched: every image is inline.
  assert.doesNotMatch(html, /<script|<link|href=|src="(?!data:)/);
  assert.ok(html.length < 5e6);
  const page = join(dir, "report.html");
  await Deno.writeTextFile(page, html);

  if (CHROMIUM) {
    const shot = join(dir, "shot.png");
    const { code } = await headless(dir, ["--window-size=1200,2400", `--screenshot=${shot}`, `file://${page}`]);
    assert.equal(code, 0);
    assert.ok((await Deno.stat(shot)).size > 20_000, "the screenshot shows the page");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "deno task lr-find writes its CSV, SVG and PNG, prints both suggestions, and its chart renders in Chromium",
  ignore: CHROMIUM === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "report_visuals_test" });
    await makeLabelledCache(dir, { train: 120, test: 20, width: 24, height: 24, seed: 19 }, { params: { size: 16 } });
    const cli = fileURLToPath(new URL("../train/lr_find_cli.ts", import.meta.url));
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-ffi",
        "--allow-env",
        "--allow-sys",
        cli,
        "--data",
        join(dir, "cache"),
        "--out",
        join(dir, "lr"),
        "--hidden",
        "16,8",
        "--batch-norm",
        "--batch-size",
        "16",
        "--steps",
        "40",
        "--threads",
        "1",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(
      new TextDecoder().decode(stdout),
      /suggested lr: [\d.e-]+ \(steepest descent of the smoothed loss\), [\d.e-]+ \(the lr at its minimum, divided by 10\)/,
    );
    const csv = (await Deno.readTextFile(join(dir, "lr", "lr-find.csv"))).trim().split("\n");
    assert.equal(csv[0], "step,lr,loss,smoothed");
    assert.ok(csv.length > 11);
    assert.ok((await Deno.stat(join(dir, "lr", "lr-find.png"))).size > 5000);
    const shot = join(dir, "shot.png");
    const rendered = await headless(dir, [
      "--window-size=740,440",
      `--screenshot=${shot}`,
      `file://${join(dir, "lr", "lr-find.svg")}`,
    ]);
    assert.equal(rendered.code, 0);
    assert.ok((await Deno.stat(shot)).size > 5000);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("the report draws a colour net's units as colours and its cached records in colour", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report_colour_test" });
  await makeLabelledCache(dir, { train: 80, test: 24, width: 24, height: 24, seed: 18 }, {
    params: { size: 12, channels: 3 },
  });
  const out = join(dir, "net");
  await train(makeTrainConfig({ data: join(dir, "cache"), out, hidden: [4], epochs: 2, batchSize: 16, lr: 0.01 }));
  const { right } = extremes(await readPredictions(out));
  await Deno.remove(right[0].path);
  const run = await readReportRun(out);
  assert.equal(run.visuals!.colour, true);
  assert.equal(run.visuals!.right[0].from, "cached record");
  assert.equal(run.visuals!.units.length, 4);
  assert.match(renderReport([run], "colour"), /R, G and B brighter where that channel raises/);
  await Deno.remove(dir, { recursive: true });
});
