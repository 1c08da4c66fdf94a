/**
 * Batches for training and evaluation, streamed from the shards: a seeded
 * stratified validation split, a seeded shuffle per epoch, and host buffers laid
 * out as the net takes them (column chunks), with the next batch read while the
 * current one trains.
 * @module
 */
import { CorruptShardError, SplitFormatError, type SplitReader } from "../pipeline/mod.ts";
import { betaFrom, seededRandom } from "../lib/mod.ts";
import { applyStandardization, type Standardization } from "../model/mod.ts";
import { applyAugmentation, type AugmentOptions, augments, drawAugmentation } from "./augment.ts";
import { chunkRanges, type InputBatch, tf } from "../engine/mod.ts";

/** Train and validation record indices of a train split. */
export interface TrainValidation {
  /** Indices used for training. */
  train: Uint32Array;
  /** Indices held out for validation. */
  validation: Uint32Array;
}

/** Returns `indices` in a seeded random order (Fisher-Yates). */
export function shuffled(indices: ArrayLike<number>, seed: number): Uint32Array {
  const out = Uint32Array.from(indices);
  const random = seededRandom(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Takes `limit` records (all when undefined) of a split, stratified by label,
 * then holds out `fraction` of each class for validation. Seeded.
 * With `groupSize` g, records [g·i, g·i+g) are one source image (an image and its
 * mirrored copy): they are taken, held out and counted together, so no copy of a
 * validation image is trained on.
 */
export function splitTrainValidation(
  labels: Uint8Array,
  options: { fraction: number; seed: number; limit?: number; groupSize?: number },
): TrainValidation {
  const { fraction, seed, limit } = options;
  const groupSize = options.groupSize ?? 1;
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`--val-fraction must be in [0, 1), got ${fraction}`);
  if (!Number.isInteger(groupSize) || groupSize < 1 || labels.length % groupSize !== 0) {
    throw new RangeError(`cannot group ${labels.length} records by ${groupSize}`);
  }
  const groups = labels.length / groupSize;
  const byClass = [0, 1].map((c) =>
    shuffled(Array.from({ length: groups }, (_, g) => g).filter((g) => labels[g * groupSize] === c), seed + c)
  );
  const total = Math.min(Math.ceil((limit ?? labels.length) / groupSize), groups);
  const train: number[] = [], validation: number[] = [];
  const expand = (into: number[], members: Uint32Array) => {
    for (const g of members) for (let k = 0; k < groupSize; k++) into.push(g * groupSize + k);
  };
  for (const [c, members] of byClass.entries()) {
    // Each class keeps its share of the limit; the rounding remainder goes to class 1.
    const share = c === 0
      ? Math.round((total * members.length) / groups)
      : total - Math.round((total * byClass[0].length) / groups);
    const taken = members.subarray(0, Math.min(share, members.length));
    const held = Math.round(taken.length * fraction);
    expand(validation, taken.subarray(0, held));
    expand(train, taken.subarray(held));
  }
  return { train: Uint32Array.from(train).sort(), validation: Uint32Array.from(validation).sort() };
}

/** A batch in host memory, column-chunked like the first layer. */
export interface HostBatch {
  /** Records in the batch. */
  size: number;
  /** Chunk-major values: chunk c holds [size, chunkWidth] row-major, chunks one after another. */
  values: Float32Array;
  /** Labels as 0/1 floats. */
  labels: Float32Array;
}

/** What a training batch gets beyond its records: augmentation, MixUp, label smoothing, and the epoch's seed. */
export interface BatchAugment {
  /** What may change in each record. */
  options: AugmentOptions;
  /** Seed of this epoch's draws (each record's draw depends on this and its index only). */
  seed: number;
  /**
   * MixUp's α: each batch is mixed with itself reversed, x = λ·x_i + (1−λ)·x_j and likewise the labels, one
   * λ ~ Beta(α, α) per batch (as timm draws it); 0 or absent: none.
   */
  mixup?: number;
  /** Label smoothing ε: a label y becomes y·(1−ε) + ε/2 (the binary form of the usual ε/classes); 0 or absent: none. */
  labelSmoothing?: number;
}

/**
 * Reads records `indices` of a split into one chunk-major host batch, augmenting
 * (before standardising, as the pixels were stored) and standardising when asked.
 * Reading in file order is faster, and the order of samples within a batch does
 * not change its gradient, so indices are sorted.
 */
export async function assembleBatch(
  reader: RecordSource,
  indices: Uint32Array,
  standardization?: Standardization,
  augment?: BatchAugment,
  mirror = false,
): Promise<HostBatch> {
  const sorted = Uint32Array.from(indices).sort();
  const { values: rows, labels } = await reader.readBatch(sorted);
  const n = sorted.length, width = reader.recordSize;
  const targets = Float32Array.from(labels);
  if (augment && augments(augment.options)) {
    const { width: w, height: h } = reader.manifest;
    const scratch = new Float32Array(width);
    for (let r = 0; r < n; r++) {
      const draw = drawAugmentation(augment.options, augment.seed, sorted[r]);
      applyAugmentation(rows.subarray(r * width, (r + 1) * width), w, h, draw, scratch, reader.manifest.channels ?? 1);
    }
  }
  if (mirror) {
    // Every record mirrored left to right: the second look of flip averaging at evaluation.
    const { width: w, height: h } = reader.manifest;
    const scratch = new Float32Array(width), draw = { flip: true, dx: 0, dy: 0 };
    for (let r = 0; r < n; r++) {
      applyAugmentation(rows.subarray(r * width, (r + 1) * width), w, h, draw, scratch, reader.manifest.channels ?? 1);
    }
  }
  if (augment?.mixup) {
    // One λ per batch, a function of the epoch's seed and the batch's records alone (so a resumed run draws it again).
    const random = seededRandom((augment.seed >>> 0) ^ Math.imul(sorted[0] + 1, 0x9e3779b1) ^ Math.imul(n, 0x85ebca6b));
    mixBatch(rows, targets, width, betaFrom(random, augment.mixup, augment.mixup));
  }
  if (augment?.labelSmoothing) {
    const e = augment.labelSmoothing;
    for (let r = 0; r < n; r++) targets[r] = targets[r] * (1 - e) + e / 2;
  }
  if (standardization) {
    for (let r = 0; r < n; r++) applyStandardization(rows.subarray(r * width, (r + 1) * width), standardization);
  }
  const values = new Float32Array(n * width);
  for (const [a, b] of chunkRanges(width)) {
    for (let r = 0; r < n; r++) values.set(rows.subarray(r * width + a, r * width + b), a * n + r * (b - a));
  }
  return { size: n, values, labels: targets };
}

/** MixUp of a batch with itself reversed: record r becomes λ·r + (1−λ)·(n−1−r), records and labels alike. */
export function mixBatch(rows: Float32Array, labels: Float32Array, width: number, lambda: number): void {
  const n = labels.length;
  for (let r = 0, s = n - 1; r < s; r++, s--) {
    const a = rows.subarray(r * width, (r + 1) * width), b = rows.subarray(s * width, (s + 1) * width);
    for (let k = 0; k < width; k++) {
      const x = a[k], y = b[k];
      a[k] = lambda * x + (1 - lambda) * y;
      b[k] = lambda * y + (1 - lambda) * x;
    }
    const [x, y] = [labels[r], labels[s]];
    labels[r] = lambda * x + (1 - lambda) * y;
    labels[s] = lambda * y + (1 - lambda) * x;
  }
}

/** Where a batch's records come from: a split's shards, or the whole split held in memory. */
export type RecordSource = Pick<SplitReader, "readBatch" | "recordSize" | "manifest">;

/**
 * The split held in memory as it is read: each record is read from its shard the first time a batch needs
 * it (verified and checked as any read), and copied from memory after that, so from the second epoch on a
 * batch costs a copy per record instead of a read. Batches come out the same (tested).
 */
export function splitInMemory(reader: SplitReader): RecordSource {
  const width = reader.recordSize;
  const all = new Float32Array(reader.count * width);
  const held = new Uint8Array(reader.count);
  return {
    recordSize: width,
    manifest: reader.manifest,
    async readBatch(indices) {
      const n = indices.length;
      const missing = Uint32Array.from(indices).filter((i) => !held[i]).sort();
      if (missing.length > 0) {
        const fresh = await reader.readBatch(missing);
        missing.forEach((i, k) => {
          all.set(fresh.values.subarray(k * width, (k + 1) * width), i * width);
          held[i] = 1;
        });
      }
      const batch = {
        values: new Float32Array(n * width),
        labels: new Uint8Array(n),
        indices: Uint32Array.from(indices),
      };
      for (let k = 0; k < n; k++) {
        batch.values.set(all.subarray(indices[k] * width, (indices[k] + 1) * width), k * width);
        batch.labels[k] = reader.labels[indices[k]];
      }
      return batch;
    },
  };
}

/** Options of {@linkcode BatchLoader.create}. */
export interface LoaderOptions {
  /** Standardise records with these statistics. */
  standardization?: Standardization;
  /** Verify each shard (sha256, finite values) before its first use; see `openSplit`. */
  verify?: boolean;
  /** Hold the split in the loader's memory as it is read ({@linkcode splitInMemory}). */
  inMemory?: boolean;
}

/**
 * Loads batches of a split on a worker thread, so reading and rearranging the
 * next batch runs on the second core while the current one trains.
 */
export class BatchLoader {
  #worker: Worker;
  #pending = new Map<number, { resolve: (b: HostBatch) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #ranges: [number, number][];

  private constructor(worker: Worker, recordSize: number) {
    this.#worker = worker;
    this.#ranges = chunkRanges(recordSize);
    worker.onmessage = (event: MessageEvent) => {
      const { id, error, name, batch } = event.data;
      const waiting = this.#pending.get(id);
      if (!waiting) return;
      this.#pending.delete(id);
      if (error) waiting.reject(workerError(name, error));
      else waiting.resolve(batch);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      for (const waiting of this.#pending.values()) waiting.reject(new Error(`batch worker failed: ${event.message}`));
      this.#pending.clear();
    };
  }

  /** Starts a loader for the split in `dir` (already checked by the caller's reader). */
  static async create(dir: string, recordSize: number, options: LoaderOptions = {}): Promise<BatchLoader> {
    const worker = new Worker(new URL("./batch_worker.ts", import.meta.url).href, { type: "module" });
    const loader = new BatchLoader(worker, recordSize);
    await loader.#request({ type: "open", dir, ...options });
    return loader;
  }

  /** Reads the records `indices` into one host batch (sorted by index), augmented or mirrored when asked. */
  load(indices: Uint32Array, augment?: BatchAugment, mirror = false): Promise<HostBatch> {
    return this.#request({ type: "load", indices, augment, mirror }) as Promise<HostBatch>;
  }

  #request(message: Record<string, unknown>): Promise<HostBatch | undefined> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (b: HostBatch) => void, reject });
      this.#worker.postMessage({ id, ...message });
    });
  }

  /** Turns a host batch into tensors (the caller disposes them with {@linkcode disposeInput}). */
  toTensors(batch: HostBatch): InputBatch {
    const chunks = this.#ranges.map(([a, b]) =>
      tf.tensor2d(batch.values.subarray(a * batch.size, b * batch.size), [batch.size, b - a])
    );
    return { chunks, labels: tf.tensor2d(batch.labels, [1, batch.size]) };
  }

  /** Stops the worker. */
  close(): void {
    this.#worker.terminate();
    for (const waiting of this.#pending.values()) waiting.reject(new Error("batch loader closed"));
    this.#pending.clear();
  }
}

/** The worker's error as the class it was thrown as, where the caller may tell it apart. */
function workerError(name: string, message: string): Error {
  if (name === "CorruptShardError") return new CorruptShardError(message);
  if (name === "SplitFormatError") return new SplitFormatError(message);
  return Object.assign(new Error(message), { name });
}

/** Frees a batch's tensors. */
export function disposeInput(batch: InputBatch): void {
  batch.chunks.forEach((c) => c.dispose());
  batch.labels.dispose();
}

/**
 * Yields host batches of `order` (`batchSize` at a time), with the next
 * `depth` batches already being read while the caller works on the current.
 */
export async function* prefetchBatches(
  loader: Pick<BatchLoader, "load">,
  order: Uint32Array,
  batchSize: number,
  options: { depth?: number; augment?: BatchAugment; mirror?: boolean } = {},
): AsyncGenerator<HostBatch> {
  const depth = options.depth ?? 2;
  const slice = (i: number) => order.subarray(i * batchSize, Math.min(order.length, (i + 1) * batchSize));
  const count = Math.ceil(order.length / batchSize);
  const queue: Promise<HostBatch>[] = [];
  const load = (i: number) => loader.load(slice(i), options.augment, options.mirror ?? false);
  for (let i = 0; i < Math.min(depth, count); i++) queue.push(load(i));
  try {
    for (let i = 0; i < count; i++) {
      const current = await queue.shift()!;
      if (i + depth < count) queue.push(load(i + depth));
      yield current;
    }
  } finally {
    // Stopped early (an error, a break): batches still being read are not wanted, nor are their errors.
    for (const pending of queue) pending.catch(() => {});
  }
}
