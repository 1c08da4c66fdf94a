/**
 * Writes one shard: float32 records appended in order to a temporary file,
 * hashed and summed per pixel as they go, and renamed into place only when
 * complete, so a killed run never leaves a shard that looks whole.
 *
 * The writing, hashing and summing (about 0.5 ms per 227×227 record) run on a
 * worker thread (shard_writer_worker.ts), so the thread that decodes images
 * never waits for them; the thread hands each record's buffer back when it is
 * written, for {@linkcode ShardWriter.recordBuffer} to lend out again.
 * @module
 */
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

/** A request to the writer thread. */
export type WriterRequest =
  | { type: "open"; path: string; temporary: string; recordSize: number }
  | { type: "append"; record: Float32Array }
  | { type: "finish" }
  | { type: "abort" };

/** A reply from the writer thread. */
export type WriterReply =
  | { type: "opened" }
  | { type: "appended"; record: Float32Array }
  | { type: "finished"; count: number; sha256: string; sums: Float64Array }
  | { type: "aborted" }
  | { type: "error"; message: string };

/** Records handed over but not yet written, before {@linkcode ShardWriter.append} waits (bounds memory). */
const MAX_IN_FLIGHT = 16;
/** Written records' buffers kept for reuse. */
const MAX_SPARE = 64;

/** Appends records to a shard file that appears at `path` only on {@linkcode ShardWriter.finish}. */
export class ShardWriter {
  #worker: Worker;
  #inFlight = 0;
  #error: Error | null = null;
  #waiters: { resolve: (reply: WriterReply) => void; reject: (error: Error) => void; until: WriterReply["type"] }[] =
    [];
  #drained: (() => void)[] = [];
  #closed = false;
  /** Record buffers the writer thread has finished with, handed back for the next records. */
  #spare: Float32Array[] = [];

  private constructor(readonly path: string, readonly recordSize: number) {
    this.#worker = new Worker(new URL("./shard_writer_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<WriterReply>) => this.#receive(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`shard writer for ${path} failed: ${event.message}`));
    };
  }

  /** Opens a writer for the shard at `path` holding records of `recordSize` float32 values. */
  static async create(path: string, recordSize: number): Promise<ShardWriter> {
    const writer = new ShardWriter(path, recordSize);
    try {
      await writer.#request({ type: "open", path, temporary: temporaryPathFor(path), recordSize }, "opened");
    } catch (error) {
      writer.#close();
      throw error;
    }
    return writer;
  }

  /**
   * A buffer for one record: one the writer thread has finished with when there is one (so a run of records
   * allocates a few dozen buffers, not one per record), else a new one. Its contents are not cleared.
   */
  recordBuffer(): Float32Array {
    return this.#spare.pop() ?? new Float32Array(this.recordSize);
  }

  /** Appends one record; the record's buffer is handed to the writer thread and must not be used again. */
  async append(record: Float32Array): Promise<void> {
    if (record.length !== this.recordSize) {
      throw new RangeError(`record has ${record.length} values, shard records have ${this.recordSize}`);
    }
    if (this.#error) throw this.#error;
    // Only a buffer holding exactly this record can be transferred; anything else is copied first.
    const own = record.byteOffset === 0 && record.buffer instanceof ArrayBuffer &&
        record.buffer.byteLength === record.byteLength
      ? record
      : record.slice();
    this.#inFlight++;
    this.#worker.postMessage({ type: "append", record: own } satisfies WriterRequest, [own.buffer as ArrayBuffer]);
    while (this.#inFlight >= MAX_IN_FLIGHT && !this.#error) await new Promise<void>((r) => this.#drained.push(r));
    if (this.#error) throw this.#error;
  }

  /** Flushes, renames into place and returns the shard's count, digest and pixel sums. */
  async finish(): Promise<WrittenShard> {
    try {
      const reply = await this.#request({ type: "finish" }, "finished");
      if (reply.type !== "finished") throw new Error(`unexpected reply ${reply.type}`);
      return { count: reply.count, sha256: reply.sha256, sums: reply.sums };
    } finally {
      this.#close();
    }
  }

  /** Deletes the temporary file; the shard does not appear. */
  async abort(): Promise<void> {
    if (this.#closed) return;
    try {
      this.#error = null;
      await this.#request({ type: "abort" }, "aborted");
    } catch {
      // the writer thread is gone; nothing more to clean up from here
    } finally {
      this.#close();
    }
  }

  #request(request: WriterRequest, until: WriterReply["type"]): Promise<WriterReply> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject, until });
      this.#worker.postMessage(request);
    });
  }

  #receive(reply: WriterReply): void {
    if (reply.type === "error") return this.#fail(new Error(`${this.path}: ${reply.message}`));
    if (reply.type === "appended") {
      this.#inFlight--;
      if (this.#spare.length < MAX_SPARE) this.#spare.push(reply.record);
      for (const wake of this.#drained.splice(0)) wake();
      return;
    }
    const index = this.#waiters.findIndex((w) => w.until === reply.type);
    if (index >= 0) this.#waiters.splice(index, 1)[0].resolve(reply);
  }

  #fail(error: Error): void {
    this.#error = error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    for (const wake of this.#drained.splice(0)) wake();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
  }
}
