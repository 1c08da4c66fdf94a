import assert from "node:assert/strict";
import { join } from "node:path";
import { cacheFlags, EXPERIMENTS, readRun, STUDY_SETS, studyChart, studyTable, trainArgs } from "./study.ts";

const metric = (accuracy: number) => ({ accuracy }) as never;

Deno.test("the study trains part3 on each experiment's cache, validating on the set's validation data", () => {
  const dogs = STUDY_SETS["dogs-vs-cats-4k"], cifar = STUDY_SETS["cifar10-dog"];
  const flip = EXPERIMENTS.find((e) => e.name === "flip")!;
  assert.deepEqual(cacheFlags(flip.cache), ["--augment", "flip"]);
  assert.deepEqual(cacheFlags("raw"), ["--scale", "raw"]);
  const args = trainArgs(dogs, EXPERIMENTS[1], { cache: "c", out: "o" });
  assert.deepEqual(args.slice(0, 6), ["--data", "c", "--out", "o", "--model", "part3"]);
  assert.ok(args.join(" ").includes("--val-split validation"));
  assert.ok(args.includes("--no-standardize"));
  assert.equal(args.at(-1), "--force");
  const quick = trainArgs(cifar, EXPERIMENTS[0], { cache: "c", out: "o" }, { epochs: 2, hidden: "8,8" });
  assert.ok(quick.join(" ").includes("--hidden 8,8 --batch-norm --epochs 2"));
  assert.ok(quick.join(" ").includes(`--limit-train ${cifar.limitTrain}`));
  assert.ok(!quick.includes("--val-split"));
  // A flipped cache stores two records per image: the same images take twice the records.
  const flipped = trainArgs(cifar, flip, { cache: "c", out: "o" }).join(" ");
  assert.ok(flipped.includes(`--limit-train ${2 * cifar.limitTrain!}`), flipped);
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
  const run = await readRun(dir, EXPERIMENTS[0]);
  assert.equal(run.epochs, 2);
  assert.deepEqual(run.history[1], { epoch: 2, accuracy: 0.7, valAccuracy: 0.6, loss: 0.6, valLoss: 0.7, seconds: 52 });
  const table = studyTable([run]);
  assert.match(table, /\| baseline \| .* \| 2 of 2 \| 80\.0% \| 60\.0% \| \*\*59\.5%\*\* \| 57\.0% \| 70\.0% \| 51 \|/);
  assert.match(studyChart("set", [run]), /^<svg[\s\S]*validation accuracy[\s\S]*<\/svg>\n?$/);
  await Deno.remove(dir, { recursive: true });
});
