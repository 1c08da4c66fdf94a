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
  decodeGray,
  DEFAULT_PREPROCESS,
  GRAYSCALE_FORMULA,
  ImageDecodeError,
  type PreprocessParams,
  RESIZE_KERNELS,
} from "./decode_gray.ts";
import { type LabelRow, readLabels, type ReadLabelsOptions } from "./read_labels.ts";
import {
  type Manifest,
  MANIFEST_FILE,
  SHARD_FORMAT_VERSION,
  type ShardEntry,
  tryReadManifest,
  writeManifest,
} from "./manifest.ts";
import { ShardWriter } from "./shard_writer.ts";
import { sweepTemporaryFiles, writeFileAtomic, writeTextFileAtomic } from "../lib/atomic_file.ts";
import { acquireLock } from "../lib/lock.ts";
import { createProgress } from "../lib/progress.ts";
import { sharp } from "../lib/sharp.ts";
import { toCsv } from "../lib/csv.ts";

/** What to do with a bad row: stop the run, or leave it out and list it in rejected.csv. */
export type ErrorPolicy = "fail" | "skip";

/** Augmentation at preprocess time: `flip` stores a left-right mirrored copy right after each record. */
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
  /** Augmentation of the split named by `augmentSplit`; other splits are stored as they are. */
  augment?: Augmentation;
  /** The split augmented (default "train"): augmenting test or validation data would change what they measure. */
  augmentSplit?: string;
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
  /** Augmentation applied to this split, or null. */
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
export class BadRowError extends Error {
  /** Creates the error. */
  constructor(readonly csv: string, readonly line: number, readonly path: string, readonly reason: string) {
    super(
      `${csv} line ${line}: ${path}: ${reason}. Fix or remove the row, or rerun with --on-error skip to leave it out.`,
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
  validateParams(params, options);
  const names = options.csvs.map(splitName);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new TypeError(`Two CSVs would both write the split "${duplicate}": rename one of them`);
  const augmentSplit = options.augmentSplit ?? "train";
  if (options.augment !== undefined && options.augment !== "flip") {
    throw new TypeError(`--augment must be "flip", got "${options.augment}"`);
  }
  if (options.augment && !names.includes(augmentSplit)) {
    throw new TypeError(
      `--augment ${options.augment} applies to the split "${augmentSplit}", but no CSV is named ${augmentSplit}.csv ` +
        `(splits: ${names.join(", ")}); name the split to augment with --augment-split`,
    );
  }

  await using _lock = await acquireLock(options.out, "deno task preprocess");
  const summaries: SplitSummary[] = [];
  for (const [i, csv] of options.csvs.entries()) {
    const augmentation = options.augment && names[i] === augmentSplit ? options.augment : null;
    summaries.push(await preprocessSplit(csv, join(options.out, names[i]), params, augmentation, options));
  }
  return summaries;
}

/** The split name for a CSV: its file name without extension. */
export function splitName(csvPath: string): string {
  return basename(csvPath, extname(csvPath));
}

function validateParams(params: PreprocessParams, options: PreprocessOptions): void {
  if (!Number.isInteger(params.size) || params.size < 1 || params.size > 4096) {
    throw new RangeError(`--size must be an integer from 1 to 4096, got ${params.size}`);
  }
  if (params.scale !== "unit" && params.scale !== "raw") {
    throw new TypeError(`--scale must be "unit" or "raw", got "${params.scale}"`);
  }
  if (!RESIZE_KERNELS.includes(params.resizeKernel)) {
    throw new TypeError(
      `--resize-kernel must be ${RESIZE_KERNELS.map((k) => `"${k}"`).join(" or ")}, got "${params.resizeKernel}"`,
    );
  }
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  if (!Number.isInteger(shardSize) || shardSize < 1) {
    throw new RangeError(`--shard-size must be a positive integer, got ${shardSize}`);
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`--concurrency must be a positive integer, got ${concurrency}`);
  }
  if (options.onError && options.onError !== "fail" && options.onError !== "skip") {
    throw new TypeError(`--on-error must be "fail" or "skip", got "${options.onError}"`);
  }
  if (options.csvs.length === 0) throw new TypeError("no CSV given: pass --csv FILE at least once");
}

async function preprocessSplit(
  csv: string,
  dir: string,
  params: PreprocessParams,
  augmentation: Augmentation | null,
  options: PreprocessOptions,
): Promise<SplitSummary> {
  const started = performance.now();
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  const policy = options.onError ?? "fail";
  const table = await readLabels(csv, options);
  const name = splitName(csv);
  const recordSize = params.size * params.size;

  // Plan: one input key per shard, from the rows and each image's size and mtime.
  const chunks: LabelRow[][] = [];
  for (let i = 0; i < table.rows.length; i += shardSize) chunks.push(table.rows.slice(i, i + shardSize));
  const keys = chunks.map((rows) => inputKey(rows, params, augmentation));
  const shardFiles = chunks.map((_, k) => `shard-${String(k).padStart(5, "0")}.f32`);

  const previous = await tryReadManifest(dir);
  if (
    previous && previous.shards.length === keys.length &&
    previous.shards.every((shard, k) => shard.inputKey === keys[k] && shard.file === shardFiles[k]) &&
    previous.source.sha256 === table.sha256 && await shardsPresent(dir, previous)
  ) {
    const rejected = previous.files.rejected ? await readRejected(join(dir, previous.files.rejected)) : [];
    stopOnRejected(policy, csv, rejected);
    return {
      name,
      dir,
      upToDate: true,
      count: previous.count,
      countPerClass: previous.countPerClass,
      augmentation,
      rejected,
      decoded: 0,
      shardsReused: keys.length,
      shardsWritten: 0,
      seconds: (performance.now() - started) / 1000,
    };
  }

  // Something changes: the split is incomplete until the new manifest is written.
  await Deno.mkdir(join(dir, PROGRESS_DIR), { recursive: true });
  await Deno.remove(join(dir, MANIFEST_FILE)).catch(() => {});
  await sweepTemporaryFiles(dir);
  await removeStaleShards(dir, new Set(shardFiles));

  const progressRecords: ShardProgress[] = [];
  const toBuild: number[] = [];
  for (const [k, file] of shardFiles.entries()) {
    const done = await readShardProgress(dir, file);
    if (
      done?.sumsFile && done.inputKey === keys[k] &&
      await fileSize(join(dir, file)) === done.count * recordSize * 4 &&
      await fileSize(join(dir, PROGRESS_DIR, done.sumsFile)) === recordSize * 16
    ) {
      stopOnRejected(policy, csv, done.rejected);
      progressRecords[k] = done;
    } else {
      toBuild.push(k);
    }
  }
  const imagesToDecode = toBuild.reduce((n, k) => n + chunks[k].length, 0);
  const bar = options.progress
    ? createProgress({ total: imagesToDecode, label: `preprocess ${name}`, unit: "img" })
    : undefined;
  let decoded = 0;
  try {
    for (const k of toBuild) {
      progressRecords[k] = await buildShard(dir, shardFiles[k], keys[k], chunks[k], params, {
        csv,
        policy,
        concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
        flip: augmentation === "flip",
        onImage: () => bar?.tick(),
      });
      decoded += chunks[k].length;
    }
  } finally {
    bar?.done();
  }

  // Finish: labels, records, rejections, statistics; the manifest last.
  const lineToRow = new Map(table.rows.map((row) => [row.line, row]));
  const labels: number[] = [];
  const recordLines: string[][] = [];
  const rejected: Rejection[] = [];
  for (const [k, shard] of progressRecords.entries()) {
    for (const [i, line] of shard.lines.entries()) {
      const row = lineToRow.get(line)!;
      const flipped = augmentation === "flip" && i % 2 === 1 ? "1" : "0";
      recordLines.push([String(labels.length), String(k), String(line), row.source, String(row.label), flipped]);
      labels.push(row.label!);
    }
    rejected.push(...shard.rejected);
  }
  const count = labels.length;
  if (count === 0) throw new RangeError(`${csv}: no usable rows (all ${table.rows.length} were rejected; see above)`);
  const countPerClass: [number, number] = [labels.filter((l) => l === 0).length, labels.filter((l) => l === 1).length];
  await writeFileAtomic(join(dir, "labels.u8"), Uint8Array.from(labels));
  await writeTextFileAtomic(
    join(dir, "records.csv"),
    toCsv(["index", "shard", "line", "path", "label", "flipped"], recordLines),
  );
  if (rejected.length > 0) {
    await writeTextFileAtomic(
      join(dir, "rejected.csv"),
      toCsv(["line", "path", "reason"], rejected.map((r) => [String(r.line), r.path, r.reason])),
    );
  } else {
    await Deno.remove(join(dir, "rejected.csv")).catch(() => {});
  }
  const stats = await pixelStatistics(dir, progressRecords, recordSize);
  const statsBytes = new Uint8Array(stats.values.buffer);
  await writeFileAtomic(join(dir, "pixel-stats.f32"), statsBytes);

  const shards: ShardEntry[] = progressRecords.map((p) => ({
    file: p.file,
    count: p.count,
    sha256: p.sha256,
    inputKey: p.inputKey,
  }));
  const manifest: Manifest = {
    formatVersion: SHARD_FORMAT_VERSION,
    width: params.size,
    height: params.size,
    recordSize,
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
      layout: `float32-le: mean[${recordSize}] then std[${recordSize}] (population std over the split's records)`,
      mean: stats.mean,
      std: stats.std,
    },
    source: {
      csv: resolve(csv),
      sha256: table.sha256,
      root: resolve(options.root ?? join(csv, "..")),
      rows: table.rows.length,
      rejected: rejected.length,
    },
    files: { labels: "labels.u8", records: "records.csv", rejected: rejected.length > 0 ? "rejected.csv" : null },
    shardSize,
    shards,
    createdAt: new Date().toISOString(),
  };
  await writeManifest(dir, manifest);
  return {
    name,
    dir,
    upToDate: false,
    count,
    countPerClass,
    augmentation,
    rejected,
    decoded,
    shardsReused: shardFiles.length - toBuild.length,
    shardsWritten: toBuild.length,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Cached work made under --on-error skip still holds its rejections: under fail the first one stops the run. */
function stopOnRejected(policy: ErrorPolicy, csv: string, rejected: Rejection[]): void {
  if (policy === "fail" && rejected.length > 0) {
    const first = rejected[0];
    throw new BadRowError(csv, first.line, first.path, first.reason);
  }
}

interface BuildOptions {
  csv: string;
  policy: ErrorPolicy;
  concurrency: number;
  /** Append a left-right mirrored copy after each record. */
  flip: boolean;
  onImage: () => void;
}

/** Decodes one shard's rows concurrently and writes them in CSV order. */
async function buildShard(
  dir: string,
  file: string,
  key: string,
  rows: LabelRow[],
  params: PreprocessParams,
  options: BuildOptions,
): Promise<ShardProgress> {
  const recordSize = params.size * params.size;
  // The writer also sums each pixel as records go by, so finishing a split never re-reads its shards.
  const writer = await ShardWriter.create(join(dir, file), recordSize);
  const lines: number[] = [];
  const rejected: Rejection[] = [];
  const pending: Promise<Float32Array | Error>[] = [];
  const start = (i: number) => {
    const row = rows[i];
    pending[i] = row.problem
      ? Promise.resolve(new Error(row.problem))
      : decodeGray(row.path, params).catch((error: Error) => error);
  };
  try {
    for (let i = 0; i < Math.min(options.concurrency, rows.length); i++) start(i);
    for (let i = 0; i < rows.length; i++) {
      const result = await pending[i];
      delete pending[i];
      if (i + options.concurrency < rows.length) start(i + options.concurrency);
      const row = rows[i];
      if (result instanceof Error) {
        const reason = result instanceof ImageDecodeError
          ? await explainDecodeFailure(row.path, result)
          : result.message;
        if (options.policy === "fail") throw new BadRowError(options.csv, row.line, row.source, reason);
        rejected.push({ line: row.line, path: row.source, reason });
      } else {
        const mirror = options.flip ? mirrored(result, params.size) : null;
        await writer.append(result);
        lines.push(row.line);
        if (mirror) {
          await writer.append(mirror);
          lines.push(row.line);
        }
      }
      options.onImage();
    }
  } catch (error) {
    await Promise.allSettled(pending);
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

/** Turns sharp's message for a file into the most useful reason (missing and empty files say so). */
async function explainDecodeFailure(path: string, error: ImageDecodeError): Promise<string> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) return "not a file";
    if (info.size === 0) return "empty file (0 bytes)";
  } catch {
    return "file not found";
  }
  return error.message.slice(error.source.length + 2);
}

/** The record mirrored left to right. */
export function mirrored(record: Float32Array, size: number): Float32Array {
  const out = new Float32Array(record.length);
  for (let y = 0; y < size; y++) {
    const row = y * size;
    for (let x = 0; x < size; x++) out[row + x] = record[row + size - 1 - x];
  }
  return out;
}

function inputKey(rows: LabelRow[], params: PreprocessParams, augmentation: Augmentation | null): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ formatVersion: SHARD_FORMAT_VERSION, params, augmentation }));
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
  const { parse } = await import("csv-parse/sync");
  const rows = parse(await Deno.readTextFile(path), { columns: true }) as Record<string, string>[];
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
