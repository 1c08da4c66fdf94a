/**
 * Learning curves as SVG: loss and accuracy per epoch, train against validation.
 * @module
 */
import { renderChart } from "../lib/mod.ts";

/** The per-epoch numbers a learning curve plots. */
export interface CurvePoint {
  /** 1-based epoch. */
  epoch: number;
  /** Training loss. */
  loss: number;
  /** Training accuracy. */
  accuracy: number;
  /** Validation loss (NaN: none). */
  valLoss: number;
  /** Validation accuracy (NaN: none). */
  valAccuracy: number;
}

/** Loss and accuracy per epoch, train against validation, as SVG. */
export function learningCurves(history: CurvePoint[], title: string): string {
  const series = (key: Exclude<keyof CurvePoint, "epoch">, name: string, color: string, dashed = false) => ({
    name,
    color,
    dashed,
    points: history.map((r) => [r.epoch, r[key]] as [number, number]),
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
