import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cacheFlags,
  experimentConfig,
  EXPERIMENTS,
  readStudyRun,
  STUDY_SETS,
  studyChart,
  studyTable,
} from "./study.ts";

const metric = (accuracy: number) => ({ accuracy }) as never;

Deno.test("the study trains part3 on each experiment's cache, validating on the set's validation data", () => {
  const dogs = STUDY_SETS["dogs-vs-cats-4k"], cifar = STUDY_SETS["cifar10-dog"];
  const flip = EXPERIMENTS.find((e) => e.name === "flip")!;
  assert.deepEqual(cacheFlags(flip.cache), ["--store-flipped"]);
  assert.deepEqual(cacheFlags("raw"), ["--scale", "raw"]);
  const rawInput = experimentConfig(dogs, EXPERIMENTS[1], { cache: "c", out: "o" });
  assert.deepEqual(
    { data: rawInput.data, out: rawInput.out, model: rawInput.model, hidden: rawInput.hidden },
    { data: "c", out: "o", model: "part3", hidden: [1024, 2048, 2048, 1024] },
  );
  assert.equal(rawInput.valSplit, "validation");
  assert.equal(rawInput.standardize, false);
  assert.equal(rawInput.epochs, dogs.epochs);
  const quick = experimentConfig(cifar, EXPERIMENTS[0], { cache: "c", out: "o" }, { epochs: 2, hidden: [8, 8] });
  assert.deepEqual([quick.model, quick.hidden, quick.batchNorm, quick.epochs], ["custom", [8, 8], true, 2]);
  assert.equal(quick.limitTrain, cifar.limitTrain);
  assert.equal(quick.valSplit, undefined);
  assert.equal(quick.standardize, true);
  // A flipped cache stores two records per image: the same images take twice the records.
  assert.equal(experimentConfig(cifar, flip, { cache: "c", out: "o" }).limitTrain, 2 * cifar.limitTrain!);
  const courseLr = experimentConfig(dogs, EXPERIMENTS.find((e) => e.name === "course-lr")!, { cache: "c", out: "o" });
  assert.equal(courseLr.lr, 0.1);
});

Deno.test("study results read back into a table and a chart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "study_test" });
  await Deno.writeTextFile(
    join(dir, "training.json"),
    JSON.stringify({
      bestEpoch: 2,
      metrics: {
        train: metric(0.8),
        validation: metric(0.6),
        test: metric(0.595),
        testBatchStatistics: metric(0.57),
      },
    }),
  );
  await Deno.writeTextFile(
    join(dir, "history.csv"),
    "epoch,lr,loss,accuracy,valLoss,valAccuracy,seconds\n1,0.001,0.9,0.55,0.8,0.56,50\n2,0.0008,0.6,0.7,0.7,0.6,52\n",
  );
  const run = await readStudyRun(dir, EXPERIMENTS[0]);
  assert.equal(run.epochs, 2);
  assert.deepEqual(
    [run.history[1].epoch, run.history[1].accuracy, run.history[1].valAccuracy, run.history[1].seconds],
    [2, 0.7, 0.6, 52],
  );
  const table = studyTable([run]);
  assert.match(table, /\| baseline \| .* \| 2 of 2 \| 80\.0% \| 60\.0% \| \*\*59\.5%\*\* \| 57\.0% \| 70\.0% \| 51 \|/);
  assert.match(studyChart("set", [run]), /^<svg[\s\S]*validation accuracy[\s\S]*<\/svg>\n?$/);
  await Deno.remove(dir, { recursive: true });
});
