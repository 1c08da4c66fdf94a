/**
 * Training checkpoints: every tensor of the net, the optimizer state, the
 * best epoch's weights and the moving average of the weights (when kept),
 * written after each epoch so `--resume` can continue.
 *
 * Binary files are named after their epoch and written atomically; `state.json`,
 * which names them, is replaced last, then older files are removed. A run killed
 * at any point leaves the previous complete checkpoint in place.
 * @module
 */
import { join } from "node:path";
import { OptionNamingError, sweepTemporaryFiles, writeFileAtomic, writeTextFileAtomic } from "../lib/mod.ts";

/** Version of the checkpoint layout. */
export const CHECKPOINT_VERSION = 1;
const STATE_FILE = "state.json";

/** The JSON part of a checkpoint. */
export interface CheckpointState<Config, History> {
  /** {@linkcode CHECKPOINT_VERSION}. */
  formatVersion: number;
  /** Epochs completed. */
  epoch: number;
  /** The configuration that must match to resume. */
  config: Config;
  /** Per-epoch history so far. */
  history: History[];
  /** Best epoch by validation loss so far (1-based), its loss, and epochs since it. */
  best: { epoch: number; validationLoss: number; epochsSince: number } | null;
  /** Optimizer steps taken. */
  optimizerStep: number;
  /** Updates the moving average of the weights has had, when the run keeps one. */
  averageUpdates?: number;
  /**
   * Binary files: net tensors, optimizer slots, best weights, the moving average of the weights (float32,
   * concatenated; checkpoints made before averages existed have no `average`).
   */
  files: { tensors: string; optimizer: string; best: string | null; average?: string | null };
  /** Float32 counts of each tensor, in order, for checking. */
  sizes: { tensors: number[]; optimizerSlots: number };
}

/** A checkpoint read back. */
export interface Checkpoint<Config, History> {
  /** Its JSON state. */
  state: CheckpointState<Config, History>;
  /** The net's tensors, in stateTensors() order. */
  tensors: Float32Array[];
  /** Optimizer slots, [slot][parameter]. */
  optimizerSlots: Float32Array[][];
  /** Best weights, in stateTensors() order, when recorded. */
  best: Float32Array[] | null;
  /** The moving average of the weights, in stateTensors() order, when the run keeps one. */
  average: Float32Array[] | null;
}

/** Raised when a checkpoint is missing, cannot be written, or does not fit the run. */
export class CheckpointError extends OptionNamingError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckpointError";
  }
}

function split(bytes: Uint8Array, sizes: number[], path: string): Float32Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (bytes.length !== total * 4) {
    throw new CheckpointError(`${path} is ${bytes.length} bytes, expected ${total * 4}: the checkpoint is damaged`);
  }
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, total);
  const out: Float32Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    out.push(all.slice(offset, offset + size));
    offset += size;
  }
  return out;
}

/**
 * Writes a checkpoint for `state.epoch` into `dir`. The optimizer's slots (views of live state) are copied
 * before this returns, so the caller may go on training while the files are written; `tensors` and `best`
 * must be copies that nobody changes.
 */
export function saveCheckpoint<C, H>(
  dir: string,
  state: Omit<CheckpointState<C, H>, "files" | "sizes" | "formatVersion">,
  data: {
    tensors: Float32Array[];
    optimizerSlots: Float32Array[][];
    best: Float32Array[] | null;
    bestChanged: boolean;
    /** The moving average of the weights (live state, copied here), when the run keeps one. */
    average?: Float32Array[] | null;
  },
): Promise<void> {
  // The slots and the average are live state: copied now, the rest (copies already) written as they are.
  const slots = data.optimizerSlots;
  return writeCheckpoint(dir, state, {
    ...data,
    optimizer: slots.flat().map((s) => s.slice()),
    slots: slots.length,
    average: data.average?.map((a) => a.slice()) ?? null,
  });
}

async function writeCheckpoint<C, H>(
  dir: string,
  state: Omit<CheckpointState<C, H>, "files" | "sizes" | "formatVersion">,
  data: {
    tensors: Float32Array[];
    /** The optimizer's slots, [slot][parameter] flattened, copied. */
    optimizer: Float32Array[];
    /** How many slots. */
    slots: number;
    best: Float32Array[] | null;
    bestChanged: boolean;
    average: Float32Array[] | null;
  },
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await sweepTemporaryFiles(dir); // left by a run killed while writing
  const tag = String(state.epoch).padStart(4, "0");
  const previous = await readState<C, H>(dir).catch(() => null);
  const files = {
    tensors: `epoch-${tag}-tensors.bin`,
    optimizer: `epoch-${tag}-optimizer.bin`,
    best: data.best ? (data.bestChanged || !previous?.files.best ? `best-${tag}.bin` : previous.files.best) : null,
    average: data.average ? `epoch-${tag}-average.bin` : null,
  };
  await writeFileAtomic(join(dir, files.tensors), data.tensors);
  if (data.average) await writeFileAtomic(join(dir, files.average!), data.average);
  await writeFileAtomic(join(dir, files.optimizer), data.optimizer);
  if (data.best && files.best !== previous?.files.best) {
    await writeFileAtomic(join(dir, files.best!), data.best);
  }
  const sizes = { tensors: data.tensors.map((t) => t.length), optimizerSlots: data.slots };
  const full: CheckpointState<C, H> = { formatVersion: CHECKPOINT_VERSION, ...state, files, sizes };
  await writeTextFileAtomic(join(dir, STATE_FILE), JSON.stringify(full, null, 1) + "\n");
  const keep = new Set([STATE_FILE, files.tensors, files.optimizer, files.best, files.average]);
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".bin") && !keep.has(entry.name)) await Deno.remove(join(dir, entry.name));
  }
}

async function readState<C, H>(dir: string): Promise<CheckpointState<C, H>> {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new CheckpointError(
      `no checkpoint in ${dir} (${STATE_FILE} is missing): nothing to resume; run without {resume}`,
    );
  }
  const state = JSON.parse(text) as CheckpointState<C, H>;
  if (state.formatVersion !== CHECKPOINT_VERSION) {
    throw new CheckpointError(`${path} has format ${state.formatVersion}, this version reads ${CHECKPOINT_VERSION}`);
  }
  return state;
}

/** Reads the checkpoint in `dir`; `parameterSizes` are the optimizer's per-parameter sizes. */
export async function loadCheckpoint<C, H>(dir: string, parameterSizes: number[]): Promise<Checkpoint<C, H>> {
  const state = await readState<C, H>(dir);
  const read = (name: string) => Deno.readFile(join(dir, name));
  const tensors = split(await read(state.files.tensors), state.sizes.tensors, state.files.tensors);
  const slotSizes = Array.from({ length: state.sizes.optimizerSlots }, () => parameterSizes).flat();
  const flat = split(await read(state.files.optimizer), slotSizes, state.files.optimizer);
  const optimizerSlots = Array.from(
    { length: state.sizes.optimizerSlots },
    (_, s) => flat.slice(s * parameterSizes.length, (s + 1) * parameterSizes.length),
  );
  const best = state.files.best ? split(await read(state.files.best), state.sizes.tensors, state.files.best) : null;
  const averageFile = state.files.average;
  const average = averageFile ? split(await read(averageFile), state.sizes.tensors, averageFile) : null;
  return { state, tensors, optimizerSlots, best, average };
}
