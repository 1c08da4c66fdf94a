/**
 * A single self-contained HTML page comparing trained model directories:
 * configuration, learning curves (inline SVG), final metrics and confusion
 * matrices, and for each model what it learned: ROC curve, P(dog) histogram,
 * its most confidently wrong and right test images, its first-layer weights
 * as pictures. No scripts, no network, images inline: it opens from disk anywhere.
 * @module
 */
import { basename, join, resolve } from "node:path";
import { escapeHtml as escape, percent } from "../lib/mod.ts";
import {
  type EpochRecord,
  learningCurves,
  type Metrics,
  readPredictions,
  readRunRecord,
  type TrainConfig,
} from "../train/mod.ts";
import {
  extremes,
  firstLayerImages,
  type GalleryImage,
  galleryImages,
  probabilityHistogram,
  rocChart,
  type UnitImage,
} from "./report_visuals.ts";

/** One run as the report shows it. */
export interface ReportRun {
  /** Directory. */
  dir: string;
  /** Display name (the directory's name). */
  name: string;
  /** training.json's configuration. */
  config: TrainConfig;
  /** Class names. */
  classes: [string, string];
  /** Epoch kept. */
  bestEpoch: number;
  /** Final metrics. */
  metrics: { train: Metrics; validation: Metrics | null; test: Metrics };
  /** Per-epoch history. */
  history: EpochRecord[];
  /** Wall seconds. */
  wallSeconds: number;
  /** What the net learned, where the model folder has predictions.csv and model files. */
  visuals?: ReportVisuals;
}

/** The pictures of one run (see report_visuals.ts). */
export interface ReportVisuals {
  /** ROC curve SVG. */
  roc: string;
  /** Histogram SVG of P(dog) per true class. */
  histogram: string;
  /** The most confidently wrong test images, worst first. */
  wrong: GalleryImage[];
  /** The most confidently right. */
  right: GalleryImage[];
  /** First-layer units as images. */
  units: UnitImage[];
  /** Units in the first layer in all. */
  unitCount: number;
  /** Whether the net takes colour (its units are drawn as colours, not blue-white-red). */
  colour: boolean;
}

/** Reads a model directory's run record for the report. */
export async function readReportRun(dir: string): Promise<ReportRun> {
  const { training, history } = await readRunRecord(dir);
  const run: ReportRun = {
    dir: resolve(dir),
    name: basename(resolve(dir)),
    config: training.config,
    classes: training.data?.classes ?? ["not_dog", "dog"],
    bestEpoch: training.bestEpoch,
    metrics: training.metrics,
    history,
    wallSeconds: training.wallSeconds,
  };
  // Runs recorded before predictions.csv existed are shown with their numbers and curves only.
  const predictions = await readPredictions(dir).catch(() => null);
  if (predictions) {
    const { wrong, right } = extremes(predictions);
    const testDir = join(training.config.data, "test");
    const { units, unitCount, colour } = await firstLayerImages(dir);
    run.visuals = {
      roc: rocChart(predictions, run.name, training.metrics.test.rocAuc),
      histogram: probabilityHistogram(predictions, run.name, run.classes),
      wrong: await galleryImages(wrong, testDir),
      right: await galleryImages(right, testDir),
      units,
      unitCount,
      colour,
    };
  }
  return run;
}

function gallery(images: GalleryImage[], classes: [string, string]): string {
  if (images.length === 0) return "<p>none</p>";
  return `<div class="gallery">${
    images.map((g) =>
      `<figure><img src="${g.dataUri}" alt="${escape(g.path)}" title="${escape(g.path)}"><figcaption>true ${
        escape(classes[g.label])
      }<br>P(${escape(classes[1])}) ${g.probability.toFixed(3)}${
        g.from === "cached record" ? "<br><i>cached record</i>" : ""
      }</figcaption></figure>`
    ).join("")
  }</div>`;
}

function visualsSection(r: ReportRun): string {
  const v = r.visuals;
  if (!v) return "";
  const svg = (text: string) => text.replace(/<\?xml[^>]*>/, "");
  const units = v.units.map((u) =>
    `<figure><img src="${u.dataUri}" alt="unit ${u.unit}"><figcaption>unit ${u.unit}</figcaption></figure>`
  ).join("");
  const which = v.units.length < v.unitCount
    ? `the ${v.units.length} of ${v.unitCount} units with the largest weights`
    : `all ${v.unitCount} units`;
  return `<div class="row"><div>${svg(v.roc)}</div><div>${svg(v.histogram)}</div></div>
<h3>Most confidently wrong on test</h3>${gallery(v.wrong, r.classes)}
<h3>Most confidently right on test</h3>${gallery(v.right, r.classes)}
<h3>First-layer weights (${which})</h3>
<p class="note">Each unit's weights over the input's pixels, as trained (on standardised
pixels): ${
    v.colour
      ? "each pixel's R, G and B brighter where that channel raises the unit's input, darker where it lowers it, " +
        "mid-gray near 0"
      : "red where a bright pixel raises the unit's input, blue where it lowers it, white near 0"
  }; each picture is scaled to its own largest weight.</p><div class="gallery units">${units}</div>`;
}

function confusionTable(m: Metrics, classes: [string, string]): string {
  const c = m.confusion;
  return `<table class="confusion"><tr><th></th><th>pred ${escape(classes[0])}</th><th>pred ${
    escape(classes[1])
  }</th></tr>` +
    `<tr><th>${escape(classes[0])}</th><td>${c.trueNegative}</td><td>${c.falsePositive}</td></tr>` +
    `<tr><th>${escape(classes[1])}</th><td>${c.falseNegative}</td><td>${c.truePositive}</td></tr></table>`;
}

/** Renders the comparison page for `runs`. */
export function renderReport(runs: ReportRun[], title = "dognet training report"): string {
  const summary = runs.map((r) =>
    `<tr><td>${escape(r.name)}</td><td>${escape(r.config.model)}</td><td>${escape([...r.config.hidden].join("-"))}${
      r.config.batchNorm ? " BN" : ""
    }</td>` +
    `<td>${r.history.length}</td><td>${r.bestEpoch}</td><td>${percent(r.metrics.train.accuracy)}</td><td>${
      percent(r.metrics.validation?.accuracy)
    }</td>` +
    `<td><b>${percent(r.metrics.test.accuracy)}</b></td><td>${r.metrics.test.rocAuc.toFixed(3)}</td><td>${
      r.metrics.test.precision.toFixed(3)
    }</td>` +
    `<td>${r.metrics.test.recall.toFixed(3)}</td><td>${(r.wallSeconds / 60).toFixed(1)} min</td></tr>`
  ).join("\n");
  const sections = runs.map((r) => {
    const config = Object.entries(r.config).filter(([k]) => k !== "out")
      .map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(Array.isArray(v) ? v.join(",") : v)}</td></tr>`).join("");
    return `<section><h2>${escape(r.name)}</h2><p class="dir">${escape(r.dir)}</p>
<div class="row"><div>${learningCurves(r.history, r.name).replace(/<\?xml[^>]*>/, "")}</div></div>
<div class="row"><div><h3>Configuration</h3><table>${config}</table></div>
<div><h3>Test confusion matrix</h3>${confusionTable(r.metrics.test, r.classes)}
<h3>Metrics (inference mode)</h3><table><tr><th></th><th>n</th><th>loss</th><th>accuracy</th><th>ROC-AUC</th></tr>${
      (["train", "validation", "test"] as const).map((k) => r.metrics[k]).map((m, i) =>
        m
          ? `<tr><th>${["train", "validation", "test"][i]}</th><td>${m.count}</td><td>${m.loss.toFixed(4)}</td><td>${
            percent(m.accuracy)
          }</td><td>${m.rocAuc.toFixed(3)}</td></tr>`
          : ""
      ).join("")
    }</table></div></div>${visualsSection(r)}</section>`;
  }).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; }
section { border-top: 2px solid #888; margin-top: 28px; }
.row { display: flex; gap: 32px; flex-wrap: wrap; }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; }
.gallery figure { margin: 0; font-size: 11px; text-align: center; width: 100px; }
.gallery img { width: 96px; height: 96px; display: block; margin: 0 auto 2px; image-rendering: auto; }
.units img { width: 96px; height: 96px; }
.note { color: #555; font-size: 13px; max-width: 900px; }
.dir { color: #777; font-size: 12px; }
.confusion td { min-width: 60px; }
</style></head><body>
<h1>${escape(title)}</h1>
<table><tr><th>run</th><th>model</th><th>hidden</th><th>epochs</th><th>kept</th><th>train acc</th><th>val acc</th><th>test acc</th><th>test ROC-AUC</th><th>precision</th><th>recall</th><th>wall</th></tr>
${summary}
</table>
${sections}
</body></html>
`;
}
