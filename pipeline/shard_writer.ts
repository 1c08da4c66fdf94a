/**
 * Writes one shard: float32 records appended in order to a temporary file,
 * hashed and summed per pixel as they go, and renamed into place only when
 * complete (after an fsync), so a killed run never leaves a shard that looks whole.
 * The file is also flushed in the background every 32 MB, so that last fsync is short.
 *
 * The hashing, summing and writing (about 0.35 ms of CPU per 227×227 record)
 * happen on the calling thread, between decodes: a worker thread doing the same
 * cost about 0.9 ms per record in all, the rest being messages and thread
 * wake-ups (measured on the 2-core machine; docs/speed.md).
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { temporaryPathFor } from "../lib/mod.ts";

/** What a finished shard holds. */
export interface WrittenShard {
  /** Records written. */
  count: number;
  /** sha256 of the file, hex. */
  sha256: string;
  /** Per-pixel sums of the records, then per-pixel sums of their squares (float64, 2 × recordSize). */
  sums: Float64Array;
}

/** Written records' buffers kept for {@linkcode ShardWriter.recordBuffer} to lend out again. */
const MAX_SPARE = 64;
/**
 * Bytes written between background flushes: the disk writes a shard while later records are decoded, and
 * the fsync that ends it has little left to wait for (~20 ms instead of ~80 ms for 124 MB, measured).
 */
const FLUSH_BYTES = 32 << 20;

/** Appends records to a shard file that appears at `path` only on {@linkcode ShardWriter.finish}. */
export class ShardWriter {
  #file: Deno.FsFile | null;
  #hash: Hash = createHash("sha256");
  #sums: Float64Array;
  #count = 0;
  #spare: Float32Array[] = [];
  #flushEvery: number;
  /** The background flush in progress, if any; a failure is kept for the next append or finish to throw. */
  #flushing: Promise<void> | null = null;
  #flushError: unknown = null;

  private constructor(
    readonly path: string,
    readonly temporary: string,
    readonly recordSize: number,
    file: Deno.FsFile,
  ) {
    this.#file = file;
    this.#sums = new Float64Array(2 * recordSize);
    this.#flushEvery = Math.max(1, Math.floor(FLUSH_BYTES / (4 * recordSize)));
  }

  /** Opens a writer for the shard at `path` holding records of `recordSize` float32 values. */
  static async create(path: string, recordSize: number): Promise<ShardWriter> {
    const temporary = temporaryPathFor(path);
    const file = await Deno.open(temporary, { write: true, createNew: true });
    return new ShardWriter(path, temporary, recordSize, file);
  }

  /**
   * A buffer for one record: one already written when there is one (so a run of records allocates a few
   * dozen buffers, not one per record), else a new one. Its contents are not cleared.
   */
  recordBuffer(): Float32Array {
    return this.#spare.pop() ?? new Float32Array(this.recordSize);
  }

  /** Appends one record; its buffer goes back to {@linkcode ShardWriter.recordBuffer}, so do not use it again. */
  append(record: Float32Array): Promise<void> {
    if (record.length !== this.recordSize) {
      throw new RangeError(`record has ${record.length} values, shard records have ${this.recordSize}`);
    }
    const file = this.#open();
    const bytes = new Uint8Array(record.buffer, record.byteOffset, record.byteLength);
    this.#hash.update(bytes);
    addSums(record, this.#sums, this.recordSize);
    // A synchronous write: the bytes go to the page cache (~0.1 ms for 206 kB); an async one cost a thread hop.
    for (let written = 0; written < bytes.length;) written += file.writeSync(bytes.subarray(written));
    this.#count++;
    if (this.#spare.length < MAX_SPARE) this.#spare.push(record);
    if (this.#count % this.#flushEvery === 0 && !this.#flushing) {
      this.#flushing = file.sync().catch((error) => {
        this.#flushError = error;
      }).finally(() => this.#flushing = null);
    }
    return Promise.resolve();
  }

  /** Flushes to disk, renames into place and returns the shard's count, digest and pixel sums. */
  async finish(): Promise<WrittenShard> {
    const file = this.#open();
    try {
      await this.#flushing;
      this.#throwFlushError();
      await file.sync();
    } finally {
      file.close();
      this.#file = null;
    }
    await Deno.rename(this.temporary, this.path);
    return { count: this.#count, sha256: this.#hash.digest("hex"), sums: this.#sums };
  }

  /** Deletes the temporary file; the shard does not appear. */
  async abort(): Promise<void> {
    await this.#flushing;
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = null;
    await Deno.remove(this.temporary).catch(() => {});
  }

  #open(): Deno.FsFile {
    if (!this.#file) throw new Error(`${this.path}: the shard writer is already finished or aborted`);
    this.#throwFlushError();
    return this.#file;
  }

  #throwFlushError(): void {
    if (this.#flushError) throw new Error(`${this.path}: flushing to disk failed`, { cause: this.#flushError });
  }
}

/** Adds a record's values and their squares to the running per-pixel sums. */
function addSums(record: Float32Array, sums: Float64Array, size: number): void {
  for (let p = 0; p < size; p++) {
    const value = record[p];
    sums[p] += value;
    sums[size + p] += value * value;
  }
}
