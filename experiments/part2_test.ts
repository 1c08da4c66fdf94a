import assert from "node:assert/strict";
import { initBackend } from "../engine/mod.ts";
import {
  COURSE_TRACE,
  generatePart2Table,
  parsePart2Table,
  Part2DataError,
  readPart2Table,
  summarize,
  traceCsv,
  traceGradients,
} from "./part2.ts";

await initBackend("wasm");

Deno.test("traceGradients() with the course settings shows the vanishing gradient: mean |dW2| < mean |dW5| / 10", () => {
  const trace = traceGradients(generatePart2Table(1), COURSE_TRACE);
  assert.equal(trace.steps.length, 500);
  const byLayer = new Map(summarize(trace).map((s) => [s.layer, s.mean]));
  assert.ok(byLayer.get(2)! * 10 < byLayer.get(5)!, `dW2 ${byLayer.get(2)} vs dW5 ${byLayer.get(5)}`);
  // Each layer nearer the input learns slower.
  for (let k = 1; k < 5; k++) assert.ok(byLayer.get(k)! < byLayer.get(k + 1)!);
});

Deno.test("traceGradients() equals the hand-derived chain rule on the first updates", () => {
  const table = generatePart2Table(3);
  const trace = traceGradients(table, { ...COURSE_TRACE, passes: 1 });
  // The course's own formulas: delta6 = a6 - y; delta_k = W_k delta_{k+1} a_k (1 - a_k); DW_k = delta_{k+1} a_k.
  const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
  const W1 = [1, 1], W = [0, 1, 1, 1, 1], b = [1, 1, 1, 1, 1];
  for (let step = 0; step < 5; step++) {
    const [x1, x2] = table.features[step], y = table.labels[step];
    const a: number[] = [];
    a[2] = sigmoid(W1[0] * x1 + W1[1] * x2 + b[0]);
    for (let k = 2; k <= 5; k++) a[k + 1] = sigmoid(W[k - 1] * a[k] + b[k - 1]);
    const delta: number[] = [];
    delta[6] = a[6] - y;
    for (let k = 5; k >= 2; k--) delta[k] = W[k - 1] * delta[k + 1] * a[k] * (1 - a[k]);
    const dW = [0, 0, ...[2, 3, 4, 5].map((k) => delta[k + 1] * a[k])]; // dW[k] for k = 2..5
    const dW1 = [delta[2] * x1, delta[2] * x2];
    const recorded = trace.steps[step];
    assert.ok(Math.abs(recorded.output - a[6]) < 1e-5, `step ${step} output`);
    for (let k = 2; k <= 5; k++) {
      assert.ok(
        Math.abs(recorded.gradients[k - 1] - Math.abs(dW[k])) < 1e-5,
        `step ${step} dW${k}: ${recorded.gradients[k - 1]} vs ${dW[k]}`,
      );
    }
    assert.ok(Math.abs(recorded.firstLayer[0] - Math.abs(dW1[0])) < 1e-5);
    assert.ok(Math.abs(recorded.firstLayer[1] - Math.abs(dW1[1])) < 1e-5);
    // Update every layer with the gradients of the old weights, lr 2.
    const db = [delta[2], delta[3], delta[4], delta[5], delta[6]];
    W1[0] -= 2 * dW1[0];
    W1[1] -= 2 * dW1[1];
    for (let k = 2; k <= 5; k++) W[k - 1] -= 2 * dW[k];
    for (let k = 0; k < 5; k++) b[k] -= 2 * db[k];
  }
});

Deno.test("traceCsv() writes the course columns", () => {
  const trace = traceGradients(generatePart2Table(1, 4), { ...COURSE_TRACE, passes: 1 });
  const lines = traceCsv(trace).trim().split("\n");
  assert.equal(lines[0], "step,pass,sample,dw5,dw4,dw3,dw2,dw1_0,dw1_1,output");
  assert.equal(lines.length, 5);
  assert.match(lines[1], /^0,0,0,/);
});

Deno.test("parsePart2Table() names the row of bad input", async () => {
  assert.throws(
    () => parsePart2Table("height_m,salary_yuan\n1.7,5000\n", "t.csv"),
    /t\.csv line 1: expected 3 columns/,
  );
  assert.throws(
    () => parsePart2Table("height_m,salary_yuan,label\n1.7,5000,1\n1.8,lots,0\n", "t.csv"),
    /t\.csv line 3: column "salary_yuan" is not a number: "lots"/,
  );
  assert.throws(
    () => parsePart2Table("height_m,salary_yuan,label\n1.7,5000,1\n", "t.csv"),
    /has 1 data row\(s\); the experiment needs at least 2/,
  );
  assert.throws(() => parsePart2Table("h,s,label\n1.7,5000,2\n1.7,5000,1\n", "t.csv"), /line 2: label must be 0 or 1/);
  await assert.rejects(
    () => readPart2Table("/nonexistent/data.csv"),
    (e) => e instanceof Part2DataError && /Cannot read \/nonexistent\/data\.csv/.test(e.message),
  );
  const table = parsePart2Table("\ufeffheight_m,salary_yuan,label\r\n1.5,1000,0\r\n1.9,3000,1\r\n", "ok.csv");
  // (x - mean) / (max - min)
  assert.deepEqual(table.features, [[-0.5, -0.5], [0.5, 0.5]]);
});
