/**
 * `deno task demo`: the whole project in one command on a fresh clone.
 *
 * Generates a small learnable image set (or takes `--data DIR` with train.csv and
 * test.csv), then preprocess -> train part1 and a narrow part3-shaped net ->
 * evaluate -> classify two images through infer/mod.ts -> part2, and says where
 * every output is. A second run reuses the generated images and the cache.
 * @module
 */
import { join, resolve } from "node:path";
import { defineCommand, runCli, svgToPng, writeFileAtomic, writeTextFileAtomic } from "../lib/mod.ts";
import { makeLabelledSet } from "./synthetic_set.ts";
import { preprocess, readLabels, readManifest } from "../pipeline/mod.ts";
import { describeBackend, initBackend } from "../engine/mod.ts";
import { makeTrainConfig, train } from "../train/mod.ts";
import {
  COURSE_TRACE,
  generatePart2Table,
  summarize,
  traceChart,
  traceCsv,
  traceGradients,
} from "../experiments/mod.ts";
import { loadClassifier } from "../infer/mod.ts";

const DEMO_COMMAND = defineCommand({
  usage: "deno task demo [--data DIR] [--out DIR]",
  flags: {
    data: {
      type: "string",
      value: "DIR",
      help: "a folder with train.csv and test.csv (path,label), like ../shared/data/cifar10-dog;\n" +
        "default: a generated set of 400 images of a learnable two-class task",
    },
    out: { type: "string", value: "DIR", help: "where everything goes (default .demo)" },
  },
});

await runCli(DEMO_COMMAND, async (flags) => {
  const given = flags.string("data");
  const out = resolve(flags.string("out") ?? ".demo");
  const started = performance.now();
  const say = (line: string) => console.log(line);

  const dataDir = given ? resolve(given) : join(out, "images");
  if (!given) {
    if (await Deno.stat(join(dataDir, "test.csv")).then(() => false, () => true)) {
      say(`1. generating 300 train + 100 test images (160x120 JPEGs; "dog" = brighter top half) in ${dataDir}`);
      await makeLabelledSet(dataDir, { train: 300, test: 100, width: 160, height: 120, seed: 1 });
    } else {
      say(`1. reusing the generated images in ${dataDir}`);
    }
  } else {
    say(`1. using ${dataDir}/train.csv and test.csv`);
  }

  const cache = join(out, "cache");
  say(`2. preprocess -> ${cache}`);
  const splits = await preprocess({
    csvs: [join(dataDir, "train.csv"), join(dataDir, "test.csv")],
    out: cache,
    progress: true,
  });
  for (const s of splits) {
    say(
      `   ${s.name}: ${s.count} records, ${
        s.upToDate ? "up to date (cache reused)" : `${s.decoded} images decoded in ${s.seconds.toFixed(1)} s`
      }`,
    );
  }

  const backend = await initBackend("wasm");
  say(`3. train (${describeBackend(backend)})`);
  const shared = { data: cache, epochs: 8, batchSize: 32, evalBatchSize: 128 };
  const runs = [
    { name: "part1", config: { ...shared, model: "part1" } },
    {
      name: "part3-narrow",
      config: { ...shared, model: "part3-narrow", hidden: [128, 256, 256, 128], batchNorm: true },
    },
  ].map((run) => ({ ...run, config: makeTrainConfig({ ...run.config, out: join(out, "models", run.name) }) }));
  const inputSize = (await readManifest(join(cache, "train"))).recordSize;
  const results = [];
  for (const run of runs) {
    const modelDir = run.config.out;
    const result = await train(run.config, { force: true, progress: true });
    const t = result.metrics.test;
    say(
      `   ${run.name} (${[inputSize, ...run.config.hidden, 1].join("-")}): ` +
        `test accuracy ${(100 * t.accuracy).toFixed(1)}% (majority ${(100 * t.majorityAccuracy).toFixed(0)}%), ` +
        `ROC-AUC ${t.rocAuc.toFixed(3)}, kept epoch ${result.bestEpoch}, ${
          result.wallSeconds.toFixed(1)
        } s -> ${modelDir}`,
    );
    results.push({ ...run, modelDir, result });
  }

  say("4. classify two test images through infer/mod.ts");
  const testRows = (await readLabels(join(dataDir, "test.csv"))).rows;
  const picks = [testRows.find((row) => row.label === 1), testRows.find((row) => row.label === 0)]
    .filter((row) => row !== undefined);
  const classifier = await loadClassifier(results[1].modelDir);
  for (const row of picks) {
    const r = await classifier.classify(row.path);
    say(`   ${row.source} (true label ${row.label}): ${r.label}, P(dog) = ${r.probability.toFixed(3)}`);
  }
  classifier.dispose();

  const part2Dir = join(out, "part2");
  say(`5. part2: vanishing gradients (course settings, generated table) -> ${part2Dir}`);
  const trace = traceGradients(generatePart2Table(1), COURSE_TRACE);
  await Deno.mkdir(part2Dir, { recursive: true });
  await writeTextFileAtomic(join(part2Dir, "trace.csv"), traceCsv(trace));
  const svg = traceChart(trace, false);
  await writeTextFileAtomic(join(part2Dir, "part2.svg"), svg);
  await writeFileAtomic(join(part2Dir, "part2.png"), await svgToPng(svg));
  for (const s of summarize(trace)) {
    say(`   W${s.layer}: mean |dW| ${s.mean.toExponential(2)} (${s.ratio.toExponential(1)} of the output layer's)`);
  }

  say(`\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s. Outputs:`);
  say(`  cache:        ${cache}/{train,test}/ (shards, labels.u8, manifest.json)`);
  for (const r of results) {
    say(`  ${r.name.padEnd(13)} ${r.modelDir}/ (model.json, weights.bin, curves.svg, training.json, history.csv)`);
  }
  say(`  part2:        ${part2Dir}/ (trace.csv, part2.svg, part2.png)`);
});
