/**
 * A single self-contained HTML page comparing trained model directories:
 * configuration, learning curves (inline SVG), final metrics and confusion
 * matrices. No scripts, no network: it opens from disk anywhere.
 * @module
 */
import { basename, resolve } from "node:path";
import { escapeHtml as escape, percent } from "../lib/mod.ts";
import { type EpochRecord, learningCurves, type Metrics, readRunRecord, type TrainConfig } from "../train/mod.ts";

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
}

/** Reads a model directory's run record for the report. */
export async function readReportRun(dir: string): Promise<ReportRun> {
  const { training, history } = await readRunRecord(dir);
  return {
    dir: resolve(dir),
    name: basename(resolve(dir)),
    config: training.config,
    classes: training.data?.classes ?? ["not_dog", "dog"],
    bestEpoch: training.bestEpoch,
    metrics: training.metrics,
    history,
    wallSeconds: training.wallSeconds,
  };
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
    }</table></div></div></section>`;
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
