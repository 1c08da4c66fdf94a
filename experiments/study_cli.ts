/**
 * `deno task study`: runs the "why not 94%?" experiments (experiments/study.ts) and
 * writes OUT/study-<set>.md, OUT/<set>-accuracy.svg and the model folders.
 *
 * Each run is `train()` with a typed config, in a worker of its own (train/isolated.ts),
 * `--jobs` at a time. Finished runs (a model folder with training.json) are kept, so an
 * interrupted study continues where it stopped; `--rerun` trains them again.
 * @module
 */
import { join, resolve } from "node:path";
import { defineCommand, forEachLimited, runCli, UsageError, writeTextFileAtomic } from "../lib/mod.ts";
import { preprocess } from "../pipeline/mod.ts";
import { initBackend } from "../engine/mod.ts";
import { RUN_FILES, type TrainConfig, trainIsolated } from "../train/mod.ts";
import {
  batchStatisticsAccuracy,
  cacheFlags,
  cacheOptions,
  type Experiment,
  experimentConfig,
  EXPERIMENTS,
  readStudyRun,
  STUDY_SETS,
  type StudyCache,
  studyChart,
  type StudyRun,
  type StudySet,
  studyTable,
} from "./study.ts";

const STUDY_COMMAND = defineCommand({
  usage: "deno task study [--data DIR] [--out DIR] [--sets a,b] [--only x,y] [--jobs N] [--epochs N] [--rerun]",
  description: "Trains part3 once per experiment on each set and writes a table and chart per set to OUT/study-SET.md.",
  flags: {
    data: { type: "string", value: "DIR", help: "folder holding the sets (default ../shared/data)" },
    out: { type: "string", value: "DIR", help: "where caches, models, logs and the results go (default study)" },
    sets: { type: "string", value: "LIST", help: `sets to run (default ${Object.keys(STUDY_SETS).join(",")})` },
    only: {
      type: "string",
      value: "LIST",
      help: `experiments to run (default all: ${EXPERIMENTS.map((e) => e.name).join(",")})`,
    },
    jobs: {
      type: "string",
      value: "N",
      help: "runs at once (default 2); each run gets cores/N threads (at least one)",
    },
    epochs: { type: "string", value: "N", help: "override each set's epochs" },
    hidden: {
      type: "string",
      value: "LIST",
      help: "override part3's hidden widths (for a quick trial: --hidden 64,64)",
    },
    rerun: { type: "boolean", help: "train again even where a finished run exists" },
  },
});

/** One experiment on one set. */
interface StudyTask {
  set: StudySet;
  experiment: Experiment;
  config: TrainConfig;
  log: string;
}

await runCli(STUDY_COMMAND, async (flags) => {
  const out = resolve(flags.string("out") ?? "study");
  const data = flags.string("data") ?? "../shared/data";
  const jobs = flags.integer("jobs") ?? 2;
  if (jobs < 1) throw new UsageError(`--jobs must be at least 1, got ${jobs}`);
  // The runs share the cores: each trains on its share, so two runs at once on two cores do not fight.
  const threads = Math.max(1, Math.floor(navigator.hardwareConcurrency / jobs));
  const hidden = flags.list("hidden")?.map(Number);
  const sets = pick(flags.list("sets"), STUDY_SETS, "set");
  const experiments = pick(flags.list("only"), Object.fromEntries(EXPERIMENTS.map((e) => [e.name, e])), "experiment");
  const started = performance.now();

  // Caches first (each variant once per set), then every run, `jobs` at a time.
  const tasks: StudyTask[] = [];
  for (const set of sets) {
    for (const cache of new Set(experiments.map((e) => e.cache))) await buildCache(data, out, set, cache);
    for (const experiment of experiments) {
      const paths = {
        cache: cachePath(out, set, experiment.cache),
        out: join(out, "models", set.name, experiment.name),
      };
      const config = experimentConfig(set, experiment, paths, { epochs: flags.integer("epochs"), hidden });
      tasks.push({ set, experiment, config, log: join(out, "logs", `${set.name}-${experiment.name}.log`) });
    }
  }
  await Deno.mkdir(join(out, "logs"), { recursive: true });
  const pending: StudyTask[] = [];
  for (const task of tasks) {
    const done = await Deno.stat(join(task.config.out, RUN_FILES.training)).then(() => true, () => false);
    if (done && !flags.boolean("rerun")) {
      console.error(`study: ${task.set.name}/${task.experiment.name}: finished earlier, kept`);
    } else pending.push(task);
  }
  await forEachLimited(pending, (task) => runTask(task, threads), jobs);

  // Results: one Markdown file (table and chart) per set.
  await initBackend("wasm");
  for (const set of sets) {
    const runs: StudyRun[] = [];
    for (const task of tasks.filter((t) => t.set === set)) {
      const run = await readStudyRun(task.config.out, task.experiment);
      // Every run's saved model, evaluated the same way here, whatever version of train() wrote it.
      const testSplit = join(task.config.data, "test");
      run.batchStatisticsAccuracy = await batchStatisticsAccuracy(task.config.out, testSplit, {
        batchSize: 64,
        seed: 1,
      });
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

/** Trains one experiment in a worker of its own, its log lines going to the task's log file. */
async function runTask(task: StudyTask, threads: number): Promise<void> {
  const name = `${task.set.name}/${task.experiment.name}`;
  const t0 = performance.now();
  console.error(`study: ${name}: training ${JSON.stringify(task.config)}`);
  using log = await Deno.open(task.log, { write: true, create: true, truncate: true });
  const encoder = new TextEncoder();
  const write = (line: string) => log.writeSync(encoder.encode(line + "\n"));
  write(`config: ${JSON.stringify(task.config)}`);
  try {
    await trainIsolated(task.config, { threads, force: true, log: write });
  } catch (error) {
    write(`error: ${(error as Error).message}`);
    throw new Error(`${name} failed: ${(error as Error).message} (log: ${task.log})`, { cause: error });
  }
  console.error(`study: ${name}: done in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
}

function cachePath(out: string, set: StudySet, cache: StudyCache): string {
  return join(out, "caches", `${set.name}-${cache}`);
}

async function buildCache(data: string, out: string, set: StudySet, cache: StudyCache): Promise<void> {
  const csvs = set.splits.map((split) => join(data, set.name, `${split}.csv`));
  const dir = cachePath(out, set, cache);
  const { scale, storeFlipped } = cacheOptions(cache);
  const flags = [...csvs.flatMap((csv) => ["--csv", csv]), "--out", dir, ...cacheFlags(cache)];
  console.error(`study: cache ${set.name}-${cache}: deno task preprocess ${flags.join(" ")}`);
  const summaries = await preprocess({ csvs, out: dir, params: { scale }, storeFlipped, progress: true });
  for (const s of summaries) console.error(`  ${s.name}: ${s.count} records${s.upToDate ? " (up to date)" : ""}`);
}

function pick<T>(names: string[] | undefined, known: Record<string, T>, what: string): T[] {
  if (names === undefined) return Object.values(known);
  return names.map((name) => {
    const value = known[name];
    if (!value) throw new UsageError(`unknown ${what} "${name}": choose from ${Object.keys(known).join(", ")}`);
    return value;
  });
}
