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
  /** Check each shard's sha256 against the manifest (reads every byte once). */
  verify?: boolean;
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
  ) {
    this.#files = files;
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

  /** Opens the split in `dir`, checking its manifest, file sizes and (optionally) digests. */
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
        if (options.verify) await verifyDigest(path, shard.sha256);
        files.push(await Deno.open(path, { read: true }));
      }
    } catch (error) {
      files.forEach((file) => file.close());
      throw error;
    }
    return new SplitReader(dir, manifest, labels, files);
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
      const inShard = Math.min(count - done, this.#shardStart[shard + 1] - index);
      const file = this.#files[shard];
      await file.seek((index - this.#shardStart[shard]) * recordBytes, Deno.SeekMode.Start);
      await readFull(file, bytes.subarray(done * recordBytes, (done + inShard) * recordBytes));
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
  let done = 0;
  while (done < into.length) {
    const n = await file.read(into.subarray(done, Math.min(into.length, done + READ_CHUNK)));
    if (n === null) throw new SplitFormatError("shard ended early: the file is shorter than its manifest says");
    done += n;
  }
}

/** Checks the sha256 of the file at `path`, reading it in chunks. */
export async function verifyDigest(path: string, expected: string): Promise<void> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(READ_CHUNK);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
  }
  const actual = hash.digest("hex");
  if (actual !== expected) {
    throw new SplitFormatError(
      `${path} has sha256 ${actual}, manifest says ${expected}: the shard is corrupt; rerun \`deno task preprocess\``,
    );
  }
}
