/**
 * The preprocessing stage: label CSV -> decoded gray records -> shards + manifest.
 *
 * Shard k holds the usable rows among CSV data rows [k*shardSize, (k+1)*shardSize),
 * so a change to one row rebuilds one shard. Each finished shard gets a small
 * record in `.progress/` naming the inputs it was made from; a later run reuses
 * any shard whose inputs are unchanged, which is how an interrupted run resumes
 * and how an unchanged one does nothing.
 * @module
 */
import { basename, extname, join, resolve } from "node:path";
import { createHash } from "node:crypto";
import {
  channelsOf,
  decodeImage,
  DEFAULT_PREPROCESS,
  GRAYSCALE_FORMULA,
  ImageDecodeError,
  type PreprocessParams,
  recordLength,
  RESIZE_KERNELS,
} from "./decode_image.ts";
import { type LabelRow, type LabelTable, readLabels, type ReadLabelsOptions } from "./read_labels.ts";
import {
  type Manifest,
  MANIFEST_FILE,
  SHARD_FORMAT_VERSION,
  type ShardEntry,
  tryReadManifest,
  writeManifest,
} from "./manifest.ts";
import { ShardWriter } from "./shard_writer.ts";
import { mirrored } from "./mirror.ts";
import {
  acquireLock,
  createProgress,
  loadSharp,
  mapInOrder,
  OptionError,
  OptionNamingError,
  parseCsvObjects,
  type Progress,
  requireChoice,
  requireInteger,
  sweepTemporaryFiles,
  toCsv,
  writeFileAtomic,
  writeTextFileAtomic,
} from "../lib/mod.ts";

/** What to do with a bad row: stop the run, or leave it out and list it in rejected.csv. */
export type ErrorPolicy = "fail" | "skip";

/** What a split stores besides its images: `flip`, a left-right mirrored copy right after each record. */
export type Augmentation = "flip";

/** Options for {@linkcode preprocess}. */
export interface PreprocessOptions extends ReadLabelsOptions {
  /** Label CSVs; each becomes a split named after it (train.csv -> OUT/train). */
  csvs: string[];
  /** Output folder. */
  out: string;
  /** Preprocessing parameters (size, scale, ...); defaults from {@linkcode DEFAULT_PREPROCESS}. */
  params?: Partial<PreprocessParams>;
  /** Records per shard. */
  shardSize?: number;
  /** Images decoded at once. */
  concurrency?: number;
  /** Bad-row policy. */
  onError?: ErrorPolicy;
  /** Show progress on stderr. */
  progress?: boolean;
  /** Also store a left-right mirrored copy of every image of the split named by `storeFlippedSplit`. */
  storeFlipped?: boolean;
  /** The split stored flipped (default "train"): flipping test or validation data would change what they measure. */
  storeFlippedSplit?: string;
}

/** A row left out, and why. */
export interface Rejection {
  /** CSV line. */
  line: number;
  /** Path as written in the CSV. */
  path: string;
  /** What was wrong. */
  reason: string;
}

/** What happened to one split. */
export interface SplitSummary {
  /** Split name (the CSV's base name). */
  name: string;
  /** Split folder. */
  dir: string;
  /** True when nothing needed doing. */
  upToDate: boolean;
  /** Records in the split. */
  count: number;
  /** Records per label. */
  countPerClass: [number, number];
  /** `flip` when the split also stores each image mirrored, else null. */
  augmentation: Augmentation | null;
  /** Rows left out. */
  rejected: Rejection[];
  /** Images decoded by this run. */
  decoded: number;
  /** Shards reused from earlier runs. */
  shardsReused: number;
  /** Shards written by this run. */
  shardsWritten: number;
  /** Wall time in seconds. */
  seconds: number;
}

/** Raised for a bad row under the `fail` policy; names the CSV line and file. */
export class BadRowError extends OptionNamingError {
  /** Creates the error. */
  constructor(readonly csv: string, readonly line: number, readonly path: string, readonly reason: string) {
    super(
      `${csv} line ${line}: ${path}: ${reason}. Fix or remove the row, or rerun with {onError} skip to leave it out.`,
    );
    this.name = "BadRowError";
  }
}

/** The default number of records per shard (about 206 MB at 227×227). */
export const DEFAULT_SHARD_SIZE = 1000;

/** The default number of images decoded at once: enough to keep both cores of a small machine busy. */
export const DEFAULT_CONCURRENCY = 8;

const PROGRESS_DIR = ".progress";

interface ShardProgress {
  file: string;
  /** Per-pixel float64 sums then sums of squares of this shard's records, in .progress/. */
  sumsFile: string;
  inputKey: string;
  count: number;
  sha256: string;
  /** CSV lines of the records, in order (each line twice, original then mirrored, in a flipped split). */
  lines: number[];
  rejected: Rejection[];
}

/** Runs the stage over every CSV; returns one summary per split. */
export async function preprocess(options: PreprocessOptions): Promise<SplitSummary[]> {
  const params: PreprocessParams = { ...DEFAULT_PREPROCESS, ...options.params };
  const settings = checkOptions(params, options);
  await using _lock = await acquireLock(options.out, "deno task preprocess");
  const summaries: SplitSummary[] = [];
  for (const csv of options.csvs) {
    const name = splitName(csv);
    const augmentation = options.storeFlipped && name === settings.flippedSplit ? "flip" : null;
    summaries.push(await preprocessSplit({ csv, name, dir: join(options.out, name), params, augmentation, settings }));
  }
  return summaries;
}

/** The split name for a CSV: its file name without extension. */
export function splitName(csvPath: string): string {
  return basename(csvPath, extname(csvPath));
}

/** The options of a run with their defaults filled in and checked. */
interface Settings {
  options: PreprocessOptions;
  shardSize: number;
  concurrency: number;
  policy: ErrorPolicy;
  flippedSplit: string;
}

function checkOptions(params: PreprocessParams, options: PreprocessOptions): Settings {
  if (options.csvs.length === 0) throw new OptionError("Cannot preprocess: no CSV given in {csvs}");
  requireInteger("size", params.size, 1, 4096);
  requireChoice("scale", params.scale, ["unit", "raw"] as const);
  requireChoice("resizeKernel", params.resizeKernel, RESIZE_KERNELS);
  requireChoice("channels", String(channelsOf(params)), ["1", "3"] as const);
  if (channelsOf(params) === 3 && params.resizeKernel === "linear") {
    throw new OptionError(
      "Cannot make colour records with {resizeKernel} linear (libvips' resize makes gray ones): use opencv-area or " +
        "opencv-linear",
    );
  }
  const settings: Settings = {
    options,
    shardSize: options.shardSize ?? DEFAULT_SHARD_SIZE,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    policy: options.onError ?? "fail",
    flippedSplit: options.storeFlippedSplit ?? "train",
  };
  requireInteger("shardSize", settings.shardSize, 1);
  requireInteger("concurrency", settings.concurrency, 1);
  requireChoice("onError", settings.policy, ["fail", "skip"] as const);
  const names = options.csvs.map(splitName);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) {
    throw new OptionError(`Cannot preprocess {csvs}: two CSVs would both write the split "${duplicate}"; rename one`);
  }
  if (options.storeFlipped && !names.includes(settings.flippedSplit)) {
    throw new OptionError(
      `Cannot store the split "${settings.flippedSplit}" flipped: no CSV is named ${settings.flippedSplit}.csv ` +
        `(splits: ${names.join(", ")}); name the split to flip with {storeFlippedSplit}`,
    );
  }
  return settings;
}

/** One split to make. */
interface SplitJob {
  csv: string;
  name: string;
  dir: string;
  params: PreprocessParams;
  augmentation: Augmentation | null;
  settings: Settings;
}

/** The shards a split's CSV asks for: their rows, file names and input keys. */
interface SplitPlan {
  table: LabelTable;
  recordSize: number;
  chunks: LabelRow[][];
  files: string[];
  keys: string[];
}

/** Plans, then builds whatever is not up to date, then writes the split's files and manifest. */
async function preprocessSplit(job: SplitJob): Promise<SplitSummary> {
  const started = performance.now();
  const plan = await planSplit(job);
  const seconds = () => (performance.now() - started) / 1000;
  const unchanged = await upToDateSummary(job, plan);
  if (unchanged) return { ...unchanged, seconds: seconds() };

  // Something changes: the split is incomplete until the new manifest is written.
  await Deno.mkdir(join(job.dir, PROGRESS_DIR), { recursive: true });
  await Deno.remove(join(job.dir, MANIFEST_FILE)).catch(() => {});
  await sweepTemporaryFiles(job.dir);
  await removeStaleShards(job.dir, new Set(plan.files));

  const { shards, toBuild } = await findReusableShards(job, plan);
  const decoded = await buildShards(job, plan, toBuild, shards);
  const { count, countPerClass, rejected } = await writeSplit(job, plan, shards);
  return {
    name: job.name,
    dir: job.dir,
    upToDate: false,
    count,
    countPerClass,
    augmentation: job.augmentation,
    rejected,
    decoded,
    shardsReused: plan.files.length - toBuild.length,
    shardsWritten: toBuild.length,
    seconds: seconds(),
  };
}

/** Reads the CSV and cuts it into shards, each with a key of everything that decides its bytes. */
async function planSplit(job: SplitJob): Promise<SplitPlan> {
  const table = await readLabels(job.csv, job.settings.options);
  const { shardSize } = job.settings;
  const chunks: LabelRow[][] = [];
  for (let i = 0; i < table.rows.length; i += shardSize) chunks.push(table.rows.slice(i, i + shardSize));
  return {
    table,
    recordSize: recordLength(job.params),
    chunks,
    files: chunks.map((_, k) => `shard-${String(k).padStart(5, "0")}.f32`),
    keys: chunks.map((rows) => inputKey(rows, job.params, job.augmentation)),
  };
}

/** The summary of a split whose manifest already describes exactly this plan, or null. */
async function upToDateSummary(job: SplitJob, plan: SplitPlan): Promise<Omit<SplitSummary, "seconds"> | null> {
  const previous = await tryReadManifest(job.dir);
  const same = previous && previous.shards.length === plan.keys.length &&
    previous.shards.every((shard, k) => shard.inputKey === plan.keys[k] && shard.file === plan.files[k]) &&
    previous.source.sha256 === plan.table.sha256 && await shardsPresent(job.dir, previous);
  if (!same) return null;
  const rejected = previous.files.rejected ? await readRejected(join(job.dir, previous.files.rejected)) : [];
  stopOnRejected(job, rejected);
  return {
    name: job.name,
    dir: job.dir,
    upToDate: true,
    count: previous.count,
    countPerClass: previous.countPerClass,
    augmentation: job.augmentation,
    rejected,
    decoded: 0,
    shardsReused: plan.keys.length,
    shardsWritten: 0,
  };
}

/** Shards finished by an earlier (perhaps interrupted) run from the same inputs, and the ones left to build. */
async function findReusableShards(
  job: SplitJob,
  plan: SplitPlan,
): Promise<{ shards: ShardProgress[]; toBuild: number[] }> {
  const shards: ShardProgress[] = [];
  const toBuild: number[] = [];
  for (const [k, file] of plan.files.entries()) {
    const done = await readShardProgress(job.dir, file);
    const complete = done?.sumsFile && done.inputKey === plan.keys[k] &&
      await fileSize(join(job.dir, file)) === done.count * plan.recordSize * 4 &&
      await fileSize(join(job.dir, PROGRESS_DIR, done.sumsFile)) === plan.recordSize * 16;
    if (complete) {
      stopOnRejected(job, done.rejected);
      shards[k] = done;
    } else {
      toBuild.push(k);
    }
  }
  return { shards, toBuild };
}

/** Builds the shards `toBuild` into `shards`; returns the number of images decoded. */
async function buildShards(
  job: SplitJob,
  plan: SplitPlan,
  toBuild: number[],
  shards: ShardProgress[],
): Promise<number> {
  const total = toBuild.reduce((n, k) => n + plan.chunks[k].length, 0);
  const bar = job.settings.options.progress
    ? createProgress({ total, label: `preprocess ${job.name}`, unit: "img" })
    : undefined;
  let decoded = 0;
  try {
    for (const k of toBuild) {
      shards[k] = await buildShard(job, { file: plan.files[k], key: plan.keys[k], rows: plan.chunks[k], bar });
      decoded += plan.chunks[k].length;
    }
  } finally {
    bar?.done();
  }
  return decoded;
}

/** Writes labels, records, rejections and pixel statistics of the built shards, then the manifest last. */
async function writeSplit(
  job: SplitJob,
  plan: SplitPlan,
  shards: ShardProgress[],
): Promise<{ count: number; countPerClass: [number, number]; rejected: Rejection[] }> {
  const { dir, csv, params, augmentation, settings } = job;
  const lineToRow = new Map(plan.table.rows.map((row) => [row.line, row]));
  const labels: number[] = [];
  const recordLines: (string | number)[][] = [];
  const rejected: Rejection[] = [];
  for (const [k, shard] of shards.entries()) {
    for (const [i, line] of shard.lines.entries()) {
      const row = lineToRow.get(line)!;
      const flipped = augmentation === "flip" && i % 2 === 1 ? 1 : 0;
      recordLines.push([labels.length, k, line, row.source, row.label!, flipped]);
      labels.push(row.label!);
    }
    rejected.push(...shard.rejected);
  }
  const count = labels.length;
  if (count === 0) {
    throw new RangeError(`Cannot make a split of ${csv}: all ${plan.table.rows.length} rows were rejected`);
  }
  const countPerClass: [number, number] = [labels.filter((l) => l === 0).length, labels.filter((l) => l === 1).length];
  await writeFileAtomic(join(dir, "labels.u8"), Uint8Array.from(labels));
  await writeTextFileAtomic(
    join(dir, "records.csv"),
    toCsv(["index", "shard", "line", "path", "label", "flipped"], recordLines),
  );
  if (rejected.length > 0) {
    await writeTextFileAtomic(
      join(dir, "rejected.csv"),
      toCsv(["line", "path", "reason"], rejected.map((r) => [r.line, r.path, r.reason])),
    );
  } else {
    await Deno.remove(join(dir, "rejected.csv")).catch(() => {});
  }
  const stats = await pixelStatistics(dir, shards, plan.recordSize);
  const statsBytes = new Uint8Array(stats.values.buffer);
  await writeFileAtomic(join(dir, "pixel-stats.f32"), statsBytes);
  const sharp = await loadSharp();
  const { options } = settings;
  const manifest: Manifest = {
    formatVersion: SHARD_FORMAT_VERSION,
    width: params.size,
    height: params.size,
    channels: channelsOf(params),
    recordSize: plan.recordSize,
    dtype: "float32-le",
    count,
    countPerClass,
    classes: options.classes ? [options.classes[0], options.classes[1]] : ["not_dog", "dog"],
    scale: params.scale,
    augmentation,
    preprocess: {
      ...params,
      grayscaleFormula: GRAYSCALE_FORMULA,
      decoder: `sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}`,
    },
    pixelStats: {
      file: "pixel-stats.f32",
      sha256: createHash("sha256").update(statsBytes).digest("hex"),
      layout:
        `float32-le: mean[${plan.recordSize}] then std[${plan.recordSize}] (population std over the split's records)`,
      mean: stats.mean,
      std: stats.std,
    },
    source: {
      csv: resolve(csv),
      sha256: plan.table.sha256,
      root: resolve(options.root ?? join(csv, "..")),
      rows: plan.table.rows.length,
      rejected: rejected.length,
    },
    files: { labels: "labels.u8", records: "records.csv", rejected: rejected.length > 0 ? "rejected.csv" : null },
    shardSize: settings.shardSize,
    shards: shards.map((p): ShardEntry => ({ file: p.file, count: p.count, sha256: p.sha256, inputKey: p.inputKey })),
    createdAt: new Date().toISOString(),
  };
  await writeManifest(dir, manifest);
  return { count, countPerClass, rejected };
}

/** Cached work made under the skip policy still holds its rejections: under fail the first one stops the run. */
function stopOnRejected(job: SplitJob, rejected: Rejection[]): void {
  if (job.settings.policy === "fail" && rejected.length > 0) {
    const first = rejected[0];
    throw new BadRowError(job.csv, first.line, first.path, first.reason);
  }
}

/** One shard to build. */
interface ShardTarget {
  /** File name in the split folder. */
  file: string;
  /** Its input key. */
  key: string;
  /** Its CSV rows. */
  rows: LabelRow[];
  /** Ticked once per row. */
  bar?: Progress;
}

/** Decodes one shard's rows concurrently and writes them in CSV order. */
async function buildShard(job: SplitJob, target: ShardTarget): Promise<ShardProgress> {
  const { dir, params, settings } = job;
  const { file, key, rows } = target;
  // The writer also sums each pixel as records go by, so finishing a split never re-reads its shards.
  const writer = await ShardWriter.create(join(dir, file), recordLength(params));
  const lines: number[] = [];
  const rejected: Rejection[] = [];
  const decode = (row: LabelRow): Promise<Float32Array | Error> =>
    row.problem
      ? Promise.resolve(new Error(row.problem))
      : decodeImage(row.path, params, writer.recordBuffer()).catch((error: Error) => error);
  try {
    let i = 0;
    for await (const result of mapInOrder(rows, decode, { concurrency: settings.concurrency })) {
      const row = rows[i++];
      if (result instanceof Error) {
        const reason = result instanceof ImageDecodeError ? result.reason : result.message;
        if (settings.policy === "fail") throw new BadRowError(job.csv, row.line, row.source, reason);
        rejected.push({ line: row.line, path: row.source, reason });
      } else {
        const mirror = job.augmentation === "flip" ? mirrored(result, params.size, channelsOf(params)) : null;
        await writer.append(result);
        lines.push(row.line);
        if (mirror) {
          await writer.append(mirror);
          lines.push(row.line);
        }
      }
      target.bar?.tick();
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const { count, sha256, sums } = await writer.finish();
  const sumsFile = `${file}.sums.f64`;
  await writeFileAtomic(join(dir, PROGRESS_DIR, sumsFile), new Uint8Array(sums.buffer));
  const progress: ShardProgress = { file, sumsFile, inputKey: key, count, sha256, lines, rejected };
  await writeTextFileAtomic(join(dir, PROGRESS_DIR, `${file}.json`), JSON.stringify(progress) + "\n");
  return progress;
}

function inputKey(rows: LabelRow[], params: PreprocessParams, augmentation: Augmentation | null): string {
  const hash = createHash("sha256");
  // Gray records are keyed as they were before colour existed, so caches made then stay up to date.
  const { channels, ...rest } = params;
  const keyed = channelsOf({ channels }) === 1 ? rest : params;
  hash.update(JSON.stringify({ formatVersion: SHARD_FORMAT_VERSION, params: keyed, augmentation }));
  for (const row of rows) {
    let stamp = "missing";
    try {
      const info = Deno.statSync(row.path);
      stamp = `${info.size}:${info.mtime?.getTime() ?? 0}`;
    } catch {
      // a missing file is part of the key: it fails (or is skipped) until it appears
    }
    hash.update(JSON.stringify([row.line, row.source, row.path, row.label, row.problem ?? "", stamp]));
  }
  return hash.digest("hex");
}

async function shardsPresent(dir: string, manifest: Manifest): Promise<boolean> {
  for (const shard of manifest.shards) {
    if (await fileSize(join(dir, shard.file)) !== shard.count * manifest.recordSize * 4) return false;
  }
  return true;
}

async function fileSize(path: string): Promise<number> {
  return await Deno.stat(path).then((info) => info.size, () => -1);
}

async function readShardProgress(dir: string, file: string): Promise<ShardProgress | null> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, PROGRESS_DIR, `${file}.json`)));
  } catch {
    return null;
  }
}

async function removeStaleShards(dir: string, keep: Set<string>): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (/^shard-\d{5}\.f32$/.test(entry.name) && !keep.has(entry.name)) {
      await Deno.remove(join(dir, entry.name));
      await Deno.remove(join(dir, PROGRESS_DIR, `${entry.name}.json`)).catch(() => {});
      await Deno.remove(join(dir, PROGRESS_DIR, `${entry.name}.sums.f64`)).catch(() => {});
    }
  }
}

async function readRejected(path: string): Promise<Rejection[]> {
  const rows = parseCsvObjects(await Deno.readTextFile(path));
  return rows.map((r) => ({ line: Number(r.line), path: r.path, reason: r.reason }));
}

/** Per-pixel mean and population std over every record, from each shard's saved sums. */
async function pixelStatistics(
  dir: string,
  shards: ShardProgress[],
  recordSize: number,
): Promise<{ values: Float32Array; mean: number; std: number }> {
  const sum = new Float64Array(recordSize), sumSq = new Float64Array(recordSize);
  let n = 0;
  for (const shard of shards) {
    const bytes = await Deno.readFile(join(dir, PROGRESS_DIR, shard.sumsFile));
    const sums = new Float64Array(bytes.buffer, bytes.byteOffset, recordSize * 2);
    for (let p = 0; p < recordSize; p++) {
      sum[p] += sums[p];
      sumSq[p] += sums[recordSize + p];
    }
    n += shard.count;
  }
  const values = new Float32Array(recordSize * 2);
  let totalSum = 0, totalSq = 0;
  for (let p = 0; p < recordSize; p++) {
    const mean = sum[p] / n;
    values[p] = mean;
    values[recordSize + p] = Math.sqrt(Math.max(0, sumSq[p] / n - mean * mean));
    totalSum += sum[p];
    totalSq += sumSq[p];
  }
  const mean = totalSum / (n * recordSize);
  return { values, mean, std: Math.sqrt(Math.max(0, totalSq / (n * recordSize) - mean * mean)) };
}
