/**
 * Reads a preprocessed split without loading it whole: records are read
 * straight from the shard files into caller-provided buffers.
 * Training, inference tests and the pipeline's own checks share this reader.
 * @module
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import { type Manifest, readManifest, SplitFormatError } from "./manifest.ts";

/** Options for {@linkcode openSplit}. */
export interface OpenSplitOptions {
  /**
   * Before a shard's first record is read, read the whole shard once: its sha256 must match the
   * manifest's and every value must be finite. A shard that fails throws {@linkcode CorruptShardError}.
   */
  verify?: boolean;
  /**
   * Read records with blocking calls: for a reader on a thread of its own (the batch loader's worker), where
   * blocking costs nothing and a batch of 64 scattered records takes ~2 ms instead of 7-10 ms of async reads.
   */
  blockingReads?: boolean;
}

/** Raised when a shard's bytes are not what preprocessing wrote: another digest, or a value that is not finite. */
export class CorruptShardError extends SplitFormatError {
  /** Creates the error; the message names the split, the shard and, when known, the record. */
  constructor(message: string) {
    super(message);
    this.name = "CorruptShardError";
  }
}

/** A batch of records copied out of the shards. */
export interface RecordBatch {
  /** `indices.length * recordSize` values, record after record. */
  values: Float32Array;
  /** Labels of the records, in the same order. */
  labels: Uint8Array;
  /** The record indices this batch holds. */
  indices: Uint32Array;
}

const READ_CHUNK = 8 << 20;

/** An open split: its manifest, labels, and random access to its records. */
export class SplitReader {
  #files: Deno.FsFile[];
  #shardStart: Uint32Array;
  /** Shards still to verify before first use (empty without `verify`). */
  #unverified: Set<number>;
  #blockingReads: boolean;
  // Reads seek a shared file handle, so overlapping calls are queued, not interleaved.
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The split folder. */
    readonly dir: string,
    /** The split's manifest. */
    readonly manifest: Manifest,
    /** One label per record. */
    readonly labels: Uint8Array,
    files: Deno.FsFile[],
    verify: boolean,
    blockingReads: boolean,
  ) {
    this.#files = files;
    this.#blockingReads = blockingReads;
    this.#unverified = new Set(verify ? manifest.shards.keys() : []);
    this.#shardStart = new Uint32Array(manifest.shards.length + 1);
    manifest.shards.forEach((shard, i) => this.#shardStart[i + 1] = this.#shardStart[i] + shard.count);
  }

  /** Records in the split. */
  get count(): number {
    return this.manifest.count;
  }

  /** Float32 values per record. */
  get recordSize(): number {
    return this.manifest.recordSize;
  }

  /** Opens the split in `dir`, checking its manifest and file sizes (and, with `verify`, each shard before first use). */
  static async open(dir: string, options: OpenSplitOptions = {}): Promise<SplitReader> {
    const manifest = await readManifest(dir);
    const labels = await Deno.readFile(join(dir, manifest.files.labels)).catch((error) => {
      throw new SplitFormatError(`${dir}: cannot read ${manifest.files.labels}: ${error.message}`);
    });
    if (labels.length !== manifest.count) {
      throw new SplitFormatError(
        `${dir}/${manifest.files.labels} has ${labels.length} labels, manifest says ${manifest.count}`,
      );
    }
    const files: Deno.FsFile[] = [];
    try {
      for (const shard of manifest.shards) {
        const path = join(dir, shard.file);
        const expected = shard.count * manifest.recordSize * 4;
        const size = await Deno.stat(path).then((s) => s.size, () => -1);
        if (size !== expected) {
          throw new SplitFormatError(
            size < 0
              ? `${path} is missing; rerun \`deno task preprocess\``
              : `${path} is ${size} bytes, manifest says ${shard.count} records = ${expected} bytes; rerun \`deno task preprocess\``,
          );
        }
        files.push(await Deno.open(path, { read: true }));
      }
    } catch (error) {
      files.forEach((file) => file.close());
      throw error;
    }
    return new SplitReader(dir, manifest, labels, files, options.verify ?? false, options.blockingReads ?? false);
  }

  /** Copies record `index` into `into` (or a new array). */
  async readRecord(index: number, into?: Float32Array): Promise<Float32Array> {
    const out = into ?? new Float32Array(this.recordSize);
    const batch = await this.readBatch([index]);
    out.set(batch.values);
    return out;
  }

  /**
   * Copies the given records, in the order given, into one buffer.
   * Consecutive indices are read with one call, so a sequential batch costs one read per shard.
   */
  readBatch(indices: ArrayLike<number>, into?: RecordBatch): Promise<RecordBatch> {
    const result = this.#queue.then(() => this.#readBatchNow(indices, into));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #readBatchNow(indices: ArrayLike<number>, into?: RecordBatch): Promise<RecordBatch> {
    const n = indices.length, size = this.recordSize;
    const batch = into && into.indices.length === n
      ? into
      : { values: new Float32Array(n * size), labels: new Uint8Array(n), indices: new Uint32Array(n) };
    let i = 0;
    while (i < n) {
      let run = 1;
      while (i + run < n && indices[i + run] === indices[i] + run) run++;
      await this.#readRun(indices[i], run, batch.values.subarray(i * size, (i + run) * size));
      for (let k = 0; k < run; k++) {
        batch.indices[i + k] = indices[i] + k;
        batch.labels[i + k] = this.labels[indices[i] + k];
      }
      i += run;
    }
    return batch;
  }

  /** Yields consecutive batches of up to `batchSize` records in file order, reusing one buffer when sizes repeat. */
  async *batches(batchSize: number): AsyncGenerator<RecordBatch> {
    let batch: RecordBatch | undefined;
    for (let start = 0; start < this.count; start += batchSize) {
      const n = Math.min(batchSize, this.count - start);
      const indices = Uint32Array.from({ length: n }, (_, k) => start + k);
      batch = await this.readBatch(indices, batch);
      yield batch;
    }
  }

  /** Closes the shard files. */
  close(): void {
    this.#files.forEach((file) => file.close());
    this.#files = [];
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #readRun(first: number, count: number, into: Float32Array): Promise<void> {
    if (first < 0 || first + count > this.count) {
      throw new RangeError(`records ${first}..${first + count - 1} are outside 0..${this.count - 1}`);
    }
    const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
    const recordBytes = this.recordSize * 4;
    let done = 0, index = first;
    while (done < count) {
      const shard = this.#shardOf(index);
      if (this.#unverified.has(shard)) {
        await verifyShard(join(this.dir, this.manifest.shards[shard].file), {
          sha256: this.manifest.shards[shard].sha256,
          recordSize: this.recordSize,
          firstRecord: this.#shardStart[shard],
          split: this.dir,
        });
        this.#unverified.delete(shard);
      }
      const inShard = Math.min(count - done, this.#shardStart[shard + 1] - index);
      const file = this.#files[shard];
      const at = (index - this.#shardStart[shard]) * recordBytes;
      const target = bytes.subarray(done * recordBytes, (done + inShard) * recordBytes);
      if (this.#blockingReads) {
        file.seekSync(at, Deno.SeekMode.Start);
        readFullSync(file, target);
      } else {
        await file.seek(at, Deno.SeekMode.Start);
        await readFull(file, target);
      }
      // Every value read is checked, verified shard or not: a NaN or Infinity never reaches a caller (one pass,
      // cheap beside the read).
      const values = into.subarray(done * this.recordSize, (done + inShard) * this.recordSize);
      const bad = firstNonFinite(values);
      if (bad >= 0) {
        const record = Math.floor(bad / this.recordSize);
        throw nonFiniteError(join(this.dir, this.manifest.shards[shard].file), {
          recordInShard: index - this.#shardStart[shard] + record,
          recordInSplit: index + record,
          split: this.dir,
          value: values[bad],
          pixel: bad % this.recordSize,
        });
      }
      done += inShard;
      index += inShard;
    }
  }

  #shardOf(index: number): number {
    let lo = 0, hi = this.manifest.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#shardStart[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Opens a split; shorthand for {@linkcode SplitReader.open}. */
export function openSplit(dir: string, options?: OpenSplitOptions): Promise<SplitReader> {
  return SplitReader.open(dir, options);
}

async function readFull(file: Deno.FsFile, into: Uint8Array): Promise<void> {
  for (let done = 0; done < into.length;) {
    done += endedEarlyUnless(await file.read(into.subarray(done, Math.min(into.length, done + READ_CHUNK))));
  }
}

function readFullSync(file: Deno.FsFile, into: Uint8Array): void {
  for (let done = 0; done < into.length;) {
    done += endedEarlyUnless(file.readSync(into.subarray(done, Math.min(into.length, done + READ_CHUNK))));
  }
}

function endedEarlyUnless(read: number | null): number {
  if (read === null) throw new SplitFormatError("shard ended early: the file is shorter than its manifest says");
  return read;
}

const RERUN = "the cache is damaged; rerun `deno task preprocess` to rebuild it";

/** The index of the first NaN or ±Infinity in `values`, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return i;
  return -1;
}

/** The error for a value that is not finite, naming the shard, the record (in it and in the split) and the pixel. */
function nonFiniteError(
  path: string,
  where: { recordInShard: number; recordInSplit: number; split: string; value: number; pixel: number },
): CorruptShardError {
  return new CorruptShardError(
    `${path}: record ${where.recordInShard} of this shard (record ${where.recordInSplit} of the split ` +
      `${where.split}) holds ${where.value} at pixel ${where.pixel}; ${RERUN}`,
  );
}

/** What {@linkcode verifyShard} checks a shard against. */
export interface ShardCheck {
  /** The manifest's sha256 of the shard. */
  sha256: string;
  /** Float32 values per record. */
  recordSize: number;
  /** Index in the split of the shard's first record (for messages). */
  firstRecord: number;
  /** The split folder (for messages). */
  split: string;
}

/**
 * Reads the shard at `path` once, sequentially in large chunks: its sha256 must be the manifest's and every
 * value finite. Throws {@linkcode CorruptShardError} naming the split, the shard and the first bad record.
 */
export async function verifyShard(path: string, check: ShardCheck): Promise<void> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(READ_CHUNK);
  const values = new Float32Array(buffer.buffer);
  const recordBytes = check.recordSize * 4;
  let offset = 0;
  for (;;) {
    // Fill whole chunks (a multiple of 4 bytes), so values never straddle two reads.
    let n = 0;
    while (n < buffer.length) {
      const read = await file.read(buffer.subarray(n));
      if (read === null) break;
      n += read;
    }
    if (n === 0) break;
    hash.update(buffer.subarray(0, n));
    const bad = firstNonFinite(values.subarray(0, n >> 2));
    if (bad >= 0) {
      const inShard = Math.floor((offset + 4 * bad) / recordBytes);
      throw nonFiniteError(path, {
        recordInShard: inShard,
        recordInSplit: check.firstRecord + inShard,
        split: check.split,
        value: values[bad],
        pixel: ((offset + 4 * bad) % recordBytes) / 4,
      });
    }
    offset += n;
    if (n < buffer.length) break;
  }
  const actual = hash.digest("hex");
  if (actual !== check.sha256) {
    throw new CorruptShardError(
      `${path} (split ${check.split}) has sha256 ${actual}, its manifest says ${check.sha256}: the file changed ` +
        `after preprocessing; ${RERUN}`,
    );
  }
}
