/**
 * Learning curves as SVG: loss and accuracy per epoch, train against validation.
 * @module
 */
import type { EpochRecord } from "./fit.ts";
import { renderChart } from "../lib/svg_chart.ts";

/** Loss and accuracy per epoch, train against validation, as SVG. */
export function learningCurves(history: EpochRecord[], title: string): string {
  const series = (key: keyof EpochRecord, name: string, color: string, dashed = false) => ({
    name,
    color,
    dashed,
    points: history.map((r) => [r.epoch, Number(r[key])] as [number, number]),
  });
  return renderChart([
    {
      title: `${title}: loss`,
      xLabel: "epoch",
      yLabel: "binary cross-entropy",
      series: [series("loss", "train", "#1f77b4"), series("valLoss", "validation", "#d62728", true)],
    },
    {
      title: `${title}: accuracy`,
      xLabel: "epoch",
      yLabel: "accuracy",
      series: [series("accuracy", "train", "#1f77b4"), series("valAccuracy", "validation", "#d62728", true)],
    },
  ]);
}
