/**
 * Classification metrics from predicted probabilities and true labels.
 * @module
 */

/** Binary classification results at threshold 0.5. */
export interface Metrics {
  /** Samples. */
  count: number;
  /** Mean binary cross-entropy. */
  loss: number;
  /** Fraction correct. */
  accuracy: number;
  /** Confusion matrix counts (positive = label 1). */
  confusion: { truePositive: number; falsePositive: number; trueNegative: number; falseNegative: number };
  /** TP / (TP + FP); 0 when nothing is predicted positive. */
  precision: number;
  /** TP / (TP + FN). */
  recall: number;
  /** Area under the ROC curve (ties counted half). */
  rocAuc: number;
  /** Accuracy of always predicting the most common label. */
  majorityAccuracy: number;
}

/** Computes {@linkcode Metrics} for probabilities P(label 1) against labels. */
export function computeMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>): Metrics {
  const n = labels.length;
  if (probabilities.length !== n) throw new RangeError(`${probabilities.length} predictions for ${n} labels`);
  let tp = 0, fp = 0, tn = 0, fn = 0, loss = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max(probabilities[i], 1e-7), 1 - 1e-7);
    const y = labels[i];
    loss -= y === 1 ? Math.log(p) : Math.log(1 - p);
    const predicted = probabilities[i] > 0.5;
    if (predicted && y === 1) tp++;
    else if (predicted) fp++;
    else if (y === 1) fn++;
    else tn++;
  }
  const positives = tp + fn;
  return {
    count: n,
    loss: n > 0 ? loss / n : NaN,
    accuracy: n > 0 ? (tp + tn) / n : NaN,
    confusion: { truePositive: tp, falsePositive: fp, trueNegative: tn, falseNegative: fn },
    precision: tp + fp > 0 ? tp / (tp + fp) : 0,
    recall: positives > 0 ? tp / positives : 0,
    rocAuc: rocAuc(probabilities, labels),
    majorityAccuracy: n > 0 ? Math.max(positives, n - positives) / n : NaN,
  };
}

/** ROC-AUC by the rank-sum (Mann-Whitney) formula, with average ranks for ties. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0, rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Formats a confusion matrix as two text lines. */
export function formatConfusion(m: Metrics, classes: [string, string]): string {
  const { truePositive: tp, falsePositive: fp, trueNegative: tn, falseNegative: fn } = m.confusion;
  const w = Math.max(...classes.map((c) => c.length), 9);
  const pad = (s: string | number) => String(s).padStart(w);
  return [
    `${pad("")}  ${pad("pred " + classes[0])} ${pad("pred " + classes[1])}`,
    `${pad(classes[0])}  ${pad(tn)} ${pad(fp)}`,
    `${pad(classes[1])}  ${pad(fn)} ${pad(tp)}`,
  ].join("\n");
}
