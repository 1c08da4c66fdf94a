import assert from "node:assert/strict";
import { computeMetrics, rocAuc } from "./metrics.ts";

Deno.test("computeMetrics() counts the confusion matrix, precision, recall and loss", () => {
  const m = computeMetrics([0.9, 0.2, 0.6, 0.4, 0.1], [1, 1, 0, 0, 0]);
  assert.deepEqual(m.confusion, { truePositive: 1, falsePositive: 1, trueNegative: 2, falseNegative: 1 });
  assert.equal(m.accuracy, 3 / 5);
  assert.equal(m.precision, 1 / 2);
  assert.equal(m.recall, 1 / 2);
  assert.equal(m.majorityAccuracy, 3 / 5);
  const expectedLoss = -(Math.log(0.9) + Math.log(0.2) + Math.log(0.4) + Math.log(0.6) + Math.log(0.9)) / 5;
  assert.ok(Math.abs(m.loss - expectedLoss) < 1e-12);
});

Deno.test("rocAuc() is 1 for a perfect ranking, 0.5 for ties and counts pairs otherwise", () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  // Pairs (pos, neg): (0.8 > 0.1) (0.8 < 0.9) (0.3 > 0.1) (0.3 < 0.9): 2 of 4.
  assert.equal(rocAuc([0.8, 0.3, 0.1, 0.9], [1, 1, 0, 0]), 0.5);
  assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
});
