/**
 * `deno task study`: runs the "why not 94%?" experiments (train/study.ts) and
 * writes OUT/study-<set>.md, OUT/<set>-accuracy.svg and the model folders.
 *
 * Finished runs (a model folder with training.json) are kept, so an interrupted
 * study continues where it stopped; `--rerun` trains them again.
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { parseIntegerFlag, runCli } from "../lib/cli.ts";
import { preprocess } from "../pipeline/preprocess.ts";
import { writeTextFileAtomic } from "../lib/atomic_file.ts";
import { initBackend } from "../engine/tf.ts";
import {
  batchStatisticsAccuracy,
  cacheFlags,
  cacheOptions,
  type Experiment,
  EXPERIMENTS,
  readRun,
  STUDY_SETS,
  type StudyCache,
  studyChart,
  type StudyRun,
  type StudySet,
  studyTable,
  trainArgs,
} from "./study.ts";

const USAGE =
  `Usage: deno task study [--data DIR] [--out DIR] [--sets a,b] [--only x,y] [--jobs N] [--epochs N] [--rerun]

Trains part3 once per experiment on each set and writes a table and chart per set to OUT/study-SET.md.

  --data DIR     folder holding the sets (default ../shared/data)
  --out DIR      where caches, models, logs and the results go (default study)
  --sets LIST    sets to run (default ${Object.keys(STUDY_SETS).join(",")})
  --only LIST    experiments to run (default all: ${EXPERIMENTS.map((e) => e.name).join(",")})
  --jobs N       runs at once (default 2); each run gets cores/N threads (at least one)
  --epochs N     override each set's epochs
  --hidden LIST  override part3's hidden widths (for a quick trial: --hidden 64,64)
  --rerun        train again even where a finished run exists`;

const TRAIN_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-env",
  "--allow-sys",
  "--allow-run=git",
];

await runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      data: { type: "string", default: "../shared/data" },
      out: { type: "string", default: "study" },
      sets: { type: "string" },
      only: { type: "string" },
      jobs: { type: "string" },
      epochs: { type: "string" },
      hidden: { type: "string" },
      rerun: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  const out = resolve(values.out);
  const jobs = parseIntegerFlag("--jobs", values.jobs, 2);
  // The runs share the cores: each trains on its share, so two runs at once on two cores do not fight.
  const threads = Math.max(1, Math.floor(navigator.hardwareConcurrency / jobs));
  const epochs = values.epochs === undefined ? undefined : parseIntegerFlag("--epochs", values.epochs, 1);
  const sets = pick(values.sets, STUDY_SETS, "set");
  const experiments = pick(values.only, Object.fromEntries(EXPERIMENTS.map((e) => [e.name, e])), "experiment");
  const started = performance.now();

  // Caches first (each variant once per set), then every run through a pool of `jobs` processes.
  const tasks: { set: StudySet; experiment: Experiment; dir: string; args: string[]; log: string }[] = [];
  for (const set of sets) {
    for (const cache of new Set(experiments.map((e) => e.cache))) await buildCache(values.data, out, set, cache);
    for (const experiment of experiments) {
      const dir = join(out, "models", set.name, experiment.name);
      const args = trainArgs(set, experiment, { cache: cachePath(out, set, experiment.cache), out: dir }, {
        epochs,
        hidden: values.hidden,
        threads,
      });
      tasks.push({ set, experiment, dir, args, log: join(out, "logs", `${set.name}-${experiment.name}.log`) });
    }
  }
  await Deno.mkdir(join(out, "logs"), { recursive: true });
  const pending: typeof tasks = [];
  for (const task of tasks) {
    const done = await Deno.stat(join(task.dir, "training.json")).then(() => true, () => false);
    if (done && !values.rerun) console.error(`study: ${task.set.name}/${task.experiment.name}: finished earlier, kept`);
    else pending.push(task);
  }
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const task = pending[next++];
      const t0 = performance.now();
      console.error(`study: ${task.set.name}/${task.experiment.name}: deno task train ${task.args.join(" ")}`);
      const log = await Deno.open(task.log, { write: true, create: true, truncate: true });
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...TRAIN_PERMISSIONS, new URL("../train/cli.ts", import.meta.url).pathname, ...task.args],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const copy = async (stream: ReadableStream<Uint8Array>) => {
        for await (const chunk of stream) await log.write(chunk);
      };
      await Promise.all([copy(child.stdout), copy(child.stderr)]);
      log.close();
      const { code } = await child.status;
      const minutes = ((performance.now() - t0) / 60000).toFixed(1);
      if (code !== 0) {
        throw new Error(`${task.set.name}/${task.experiment.name} failed (exit ${code}); see ${task.log}`);
      }
      console.error(`study: ${task.set.name}/${task.experiment.name}: done in ${minutes} min`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, pending.length) }, worker));

  // Results: one Markdown file (table and chart) per set.
  await initBackend("wasm");
  for (const set of sets) {
    const runs: StudyRun[] = [];
    for (const task of tasks.filter((t) => t.set === set)) {
      const run = await readRun(task.dir, task.experiment);
      // Every run's saved model, evaluated the same way here, whatever version of train() wrote it.
      const testSplit = join(cachePath(out, set, task.experiment.cache), "test");
      run.batchStatisticsAccuracy = await batchStatisticsAccuracy(task.dir, testSplit, { batchSize: 64, seed: 1 });
      runs.push(run);
    }
    const chart = `${set.name}-accuracy.svg`;
    await writeTextFileAtomic(join(out, chart), studyChart(set.name, runs));
    const validation = set.valSplit ? `${set.valSplit}.csv` : "10% of train";
    const limit = set.limitTrain ? `, first ${set.limitTrain} train records (stratified)` : "";
    const file = join(out, `study-${set.name}.md`);
    await writeTextFileAtomic(
      file,
      `## ${set.name}\n\nWritten by \`deno task study\` (${new Date().toISOString()}). part3, ` +
        `${runs[0]?.epochs ?? set.epochs} epochs, batch 64, validation: ${validation}${limit}.\n\n` +
        `${studyTable(runs)}\n\n![accuracy per epoch](${chart})\n`,
    );
    console.log(`study: ${set.name}: ${runs.length} runs -> ${file}, ${join(out, chart)}`);
  }
  console.log(`study: ${tasks.length} runs in ${((performance.now() - started) / 60000).toFixed(1)} min`);
});

function cachePath(out: string, set: StudySet, cache: StudyCache): string {
  return join(out, "caches", `${set.name}-${cache}`);
}

async function buildCache(data: string, out: string, set: StudySet, cache: StudyCache): Promise<void> {
  const csvs = set.splits.map((split) => join(data, set.name, `${split}.csv`));
  const dir = cachePath(out, set, cache);
  const { scale, augment } = cacheOptions(cache);
  const flags = [...csvs.flatMap((csv) => ["--csv", csv]), "--out", dir, ...cacheFlags(cache)];
  console.error(`study: cache ${set.name}-${cache}: deno task preprocess ${flags.join(" ")}`);
  const summaries = await preprocess({ csvs, out: dir, params: { scale }, augment, progress: true });
  for (const s of summaries) console.error(`  ${s.name}: ${s.count} records${s.upToDate ? " (up to date)" : ""}`);
}

function pick<T>(list: string | undefined, known: Record<string, T>, what: string): T[] {
  if (list === undefined) return Object.values(known);
  return list.split(",").map((name) => {
    const value = known[name.trim()];
    if (!value) throw new TypeError(`unknown ${what} "${name}": choose from ${Object.keys(known).join(", ")}`);
    return value;
  });
}
