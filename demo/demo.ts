/**
 * `deno task demo`: the whole project in one command on a fresh clone.
 *
 * Generates a small learnable image set (or takes `--data DIR` with train.csv and
 * test.csv), then preprocess -> train part1 and a narrow part3-shaped net ->
 * evaluate -> classify two images through infer/mod.ts -> part2, and says where
 * every output is. A second run reuses the generated images and the cache.
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { runCli } from "../lib/cli.ts";
import { makeLabelledSet } from "../fixtures/make_fixtures.ts";
import { preprocess } from "../pipeline/preprocess.ts";
import { readManifest } from "../pipeline/manifest.ts";
import { describeBackend, initBackend } from "../engine/tf.ts";
import { train, type TrainConfig } from "../train/fit.ts";
import { COURSE_TRACE, generatePart2Table, summarize, traceChart, traceCsv, traceGradients } from "../experiments/part2.ts";
import { svgToPng } from "../lib/sharp.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../lib/atomic_file.ts";
import { loadClassifier } from "../infer/mod.ts";

const USAGE = `Usage: deno task demo [--data DIR] [--out DIR]

  --data DIR   a folder with train.csv and test.csv (path,label), like ../shared/data/cifar10-dog;
               default: a generated set of 400 images of a learnable two-class task
  --out DIR    where everything goes (default .demo)`;

await runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      out: { type: "string", default: ".demo" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  const out = resolve(values.out);
  const started = performance.now();
  const say = (line: string) => console.log(line);

  let dataDir = values.data ? resolve(values.data) : join(out, "images");
  if (!values.data) {
    if (await Deno.stat(join(dataDir, "test.csv")).then(() => false, () => true)) {
      say(`1. generating 300 train + 100 test images (160x120 JPEGs; "dog" = brighter top half) in ${dataDir}`);
      await makeLabelledSet(dataDir, { train: 300, test: 100, width: 160, height: 120, seed: 1 });
    } else {
      say(`1. reusing the generated images in ${dataDir}`);
    }
  } else {
    say(`1. using ${dataDir}/train.csv and test.csv`);
    dataDir = resolve(values.data);
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
  const base: Omit<TrainConfig, "out" | "model" | "hidden" | "batchNorm"> = {
    data: cache,
    dropout: 0,
    l2: 0,
    epochs: 8,
    batchSize: 32,
    lr: 0.001,
    decayRate: 0.8,
    optimizer: "adam",
    seed: 1,
    valFraction: 0.1,
    standardize: true,
    evalBatchSize: 128,
  };
  const runs = [
    { name: "part1", config: { ...base, model: "part1", hidden: [5, 3], batchNorm: false } },
    { name: "part3-narrow", config: { ...base, model: "part3-narrow", hidden: [128, 256, 256, 128], batchNorm: true } },
  ];
  const inputSize = (await readManifest(join(cache, "train"))).recordSize;
  const results = [];
  for (const run of runs) {
    const modelDir = join(out, "models", run.name);
    const result = await train({ ...run.config, out: modelDir }, { force: true, progress: true });
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
  const testCsv = (await Deno.readTextFile(join(dataDir, "test.csv"))).trim().split(/\r?\n/).slice(1);
  const picks = [testCsv.find((l) => l.endsWith(",1")), testCsv.find((l) => l.endsWith(",0"))].filter(
    Boolean,
  ) as string[];
  const classifier = await loadClassifier(results[1].modelDir);
  for (const line of picks) {
    const [path, label] = line.split(",");
    const r = await classifier.classify(join(dataDir, path));
    say(`   ${path} (true label ${label}): ${r.label}, P(dog) = ${r.probability.toFixed(3)}`);
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
