/**
 * Writes one shard: float32 records appended in order to a temporary file,
 * hashed as they go, and renamed into place only when complete, so a killed
 * run never leaves a shard that looks whole.
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { temporaryPathFor } from "./atomic_file.ts";

/** What a finished shard holds. */
export interface WrittenShard {
  /** Records written. */
  count: number;
  /** sha256 of the file, hex. */
  sha256: string;
}

/** Appends records to a shard file that appears at `path` only on {@linkcode ShardWriter.finish}. */
export class ShardWriter {
  #file: Deno.FsFile;
  #temporary: string;
  #hash: Hash = createHash("sha256");
  #count = 0;

  private constructor(readonly path: string, readonly recordSize: number, file: Deno.FsFile, temporary: string) {
    this.#file = file;
    this.#temporary = temporary;
  }

  /** Opens a writer for the shard at `path` holding records of `recordSize` float32 values. */
  static async create(path: string, recordSize: number): Promise<ShardWriter> {
    const temporary = temporaryPathFor(path);
    const file = await Deno.open(temporary, { write: true, createNew: true });
    return new ShardWriter(path, recordSize, file, temporary);
  }

  /** Appends one record. */
  async append(record: Float32Array): Promise<void> {
    if (record.length !== this.recordSize) {
      throw new RangeError(`record has ${record.length} values, shard records have ${this.recordSize}`);
    }
    const bytes = new Uint8Array(record.buffer, record.byteOffset, record.byteLength);
    this.#hash.update(bytes);
    let written = 0;
    while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
    this.#count++;
  }

  /** Flushes, renames into place and returns the shard's count and digest. */
  async finish(): Promise<WrittenShard> {
    await this.#file.sync();
    this.#file.close();
    await Deno.rename(this.#temporary, this.path);
    return { count: this.#count, sha256: this.#hash.digest("hex") };
  }

  /** Closes and deletes the temporary file; the shard does not appear. */
  async abort(): Promise<void> {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
    await Deno.remove(this.#temporary).catch(() => {});
  }
}
