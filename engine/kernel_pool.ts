/**
 * The engine's own kernels and the threads that run them, in tfjs-wasm's heap.
 *
 * One WebAssembly module holds the matrix products (gemm_source.ts, gemm_nt_source.ts), Adam
 * (adam_source.ts), GELU, LayerNorm and column_ops.ts's other passes (gelu_source.ts, column_ops_source.ts) and
 * the bench's probes; it is compiled from its WAT text by wabt when the backend starts (~15 ms), with relaxed
 * SIMD's fused multiply-add where the engine has it. On
 * tfjs' threaded build the heap is shared memory, so helper threads
 * (node:worker_threads, unref'd so they never keep the process alive) instantiate
 * the same module over the same heap. A job runs on every thread at once, each with
 * its own arguments: the calling thread does the first part and waits on an Atomics
 * word for the others. Both sides poll their word for a millisecond before sleeping on it: handing over a job
 * takes 2-5 µs that way, ~100 µs when the other thread has to be woken.
 * @module
 */
import { Worker } from "node:worker_threads";
import wabtInit from "wabt";
import { gemmFunctions, SCRATCH_BYTES } from "./gemm_source.ts";
import { gemmNtFunctions } from "./gemm_nt_source.ts";
import { ADAM_FUNCTION, EMA_FUNCTION } from "./adam_source.ts";
import { fillRandomNormal } from "./random_normal_source.ts";
import { BIAS_GELU_FUNCTION } from "./gelu_source.ts";
import { COLUMN_OPS_FUNCTIONS } from "./column_ops_source.ts";
import { peakFunctions } from "./peak_source.ts";
import { TRANSPOSE_FUNCTION } from "./transpose_source.ts";

/**
 * What the pool runs: a kernel of the module, or a JavaScript job on the heap (random_normal: tfjs' normal
 * generator).
 */
export type Job =
  | "gemm_nn"
  | "gemm_tn"
  | "gemm_nt"
  | "adam"
  | "random_normal"
  | "bias_gelu"
  | "fma_peak"
  | "stream_sum"
  | "ema"
  | "transpose"
  | "stream_update"
  | "gemm_in_cache"
  | "layer_norm"
  | "layer_norm_back_columns"
  | "row_sums"
  | "multiply_rows";
const JOBS: Job[] = [
  "gemm_nn",
  "gemm_tn",
  "gemm_nt",
  "adam",
  "random_normal",
  "bias_gelu",
  "fma_peak",
  "stream_sum",
  "ema",
  "transpose",
  "stream_update",
  "gemm_in_cache",
  "layer_norm",
  "layer_norm_back_columns",
  "row_sums",
  "multiply_rows",
];
/** The most arguments a job takes (gemm's 12 and the thread's scratch pointer). */
const MAX_ARGUMENTS = 13;

// Shared words: [start sequence, finished count, failed]; then per helper its job and arguments (float64).
const START = 0, FINISHED = 1, FAILED = 2;
/**
 * How long a thread polls a shared word before it sleeps on it. A thread asleep in Atomics.wait takes ~90-120 µs
 * to wake on these VMs, longer than many of a training step's jobs take and than the gaps between them: a
 * residual-MLP step at batch 128 hands the helper 73 jobs (part1's at batch 64, 27), so sleeping between them
 * cost 7 ms or more of a 150-200 ms step (part1: 1.5 of 10).
 */
const SPIN_MS = 1;

/** The heap the kernels work in, and how to allocate their scratch buffers there. */
export interface KernelHeap {
  /** The memory holding every operand. */
  memory: WebAssembly.Memory;
  /** Allocates `bytes` in it (never freed: the pool lives as long as the heap); 0 when full. */
  malloc: (bytes: number) => number;
}

/** Options of {@linkcode createKernelPool}. */
export interface KernelPoolOptions {
  /** Threads to run jobs on, the caller's included (default 1); more than 1 needs shared memory. */
  threads?: number;
  /** Compile without fused multiply-add even where relaxed SIMD exists (for comparisons and tests). */
  noFusedMultiplyAdd?: boolean;
}

/** Where the threads' time went in jobs split over more than one of them, in milliseconds since the pool started. */
export interface PoolTimings {
  /** From handing a split job out to its last part's end, summed over the split jobs. */
  splitMs: number;
  /** Per thread (the caller's first), the time it spent in its own parts of them. */
  busyMs: number[];
}

/** Weight of the latest measurement in a thread's average speed. */
const SHARE_RATE = 0.2;
/**
 * The least share a thread keeps, as a fraction of an equal one: a thread that stalled in a run of jobs
 * (descheduled by the host) must keep some work, or it would never be timed again and never win its share back.
 */
const LEAST_SHARE = 0.25;

/**
 * The threads' shares moved toward their latest rates (work per ms, one per thread), none below
 * {@linkcode LEAST_SHARE} of an equal share, summing to 1.
 */
export function nextShares(shares: number[], rates: number[]): number[] {
  // A part too quick to time (or a thread that got none) says nothing about its thread.
  if (!rates.every((rate) => Number.isFinite(rate) && rate > 0)) return shares;
  const total = rates.reduce((a, b) => a + b);
  const least = LEAST_SHARE / shares.length;
  const moved = shares.map((share, t) => Math.max(least, (1 - SHARE_RATE) * share + SHARE_RATE * rates[t] / total));
  const sum = moved.reduce((a, b) => a + b);
  return moved.map((share) => share / sum);
}

/**
 * [first, last) of `count` items for each of `parts` threads, cut at multiples of `step` (the last part takes the
 * rest), each thread's as long as its share (`shares`, summing to 1; equal parts when there are fewer parts than
 * shares).
 */
export function partition(count: number, shares: number[], parts: number, step = 1): [number, number][] {
  const groups = Math.ceil(count / step);
  const weights = parts === shares.length ? shares : Array<number>(parts).fill(1 / parts);
  let before = 0;
  return weights.map((share, t) => {
    const first = Math.min(count, Math.round(groups * before) * step);
    before += share;
    const last = t === parts - 1 ? count : Math.min(count, Math.round(groups * before) * step);
    return [first, last];
  });
}

/** The compiled kernels bound to one heap, and the threads that share their work. */
export class KernelPool {
  /** Threads a job can run on (the caller's included). */
  readonly threads: number;
  /** Whether the products use relaxed SIMD's fused multiply-add. */
  readonly fusedMultiplyAdd: boolean;
  /** Per thread, a scratch buffer of {@linkcode SCRATCH_BYTES} in the heap for the products. */
  readonly scratch: number[];
  #jobs: ((...args: number[]) => void)[];
  #control: Int32Array;
  #arguments: Float64Array;
  #helpers: Worker[];
  #busy: Float64Array;
  #splitMs = 0;
  #shares: number[];

  /** Use {@linkcode createKernelPool}. */
  constructor(
    jobs: ((...args: number[]) => void)[],
    fusedMultiplyAdd: boolean,
    shared: { control: Int32Array; arguments: Float64Array; busy: Float64Array },
    helpers: Worker[],
    scratch: number[],
  ) {
    this.#jobs = jobs;
    this.fusedMultiplyAdd = fusedMultiplyAdd;
    this.#control = shared.control;
    this.#arguments = shared.arguments;
    this.#busy = shared.busy;
    this.#helpers = helpers;
    this.threads = helpers.length + 1;
    this.scratch = scratch;
    this.#shares = Array(this.threads).fill(1 / this.threads);
  }

  /**
   * Each thread's share of a job's work, the caller's first: an exponential average of how fast each ran its
   * part of the products before (products report it, {@linkcode learnShares}). Equal parts kept the threads
   * waiting for each other 9-10% of their time in a residual-MLP step: the calling thread, which also runs the
   * step's JavaScript, ran its part ~10% slower than its helper did, and a shared host slows either core for
   * seconds at a time. Where a part starts changes no result: every job's parts compute disjoint outputs.
   */
  get shares(): number[] {
    return this.#shares;
  }

  /** Moves the shares toward the threads' latest rates (work per ms); a job not cut for every thread says nothing. */
  learnShares(rates: number[]): void {
    if (rates.length === this.threads) this.#shares = nextShares(this.#shares, rates);
  }

  /** [first, last) of `count` items for `parts` of the threads, in multiples of `step`, by {@linkcode shares}. */
  partition(count: number, parts: number, step = 1): [number, number][] {
    return partition(count, this.#shares, parts, step);
  }

  /**
   * Runs `job` once per entry of `perThread` (at most {@linkcode threads}), the first on the calling thread,
   * and returns when all are done, with the milliseconds each part took when there was more than one (else
   * an empty list). Helpers without an entry do nothing.
   */
  run(job: Job, perThread: number[][]): number[] {
    const id = JOBS.indexOf(job);
    if (perThread.length > this.threads) throw new RangeError(`${perThread.length} parts for ${this.threads} threads`);
    if (perThread.length > 1) {
      const control = this.#control;
      const finished = Atomics.load(control, FINISHED);
      for (let h = 0; h < this.#helpers.length; h++) {
        const args = perThread[h + 1];
        const slot = h * (MAX_ARGUMENTS + 1);
        this.#arguments[slot] = args ? id : -1;
        if (args) this.#arguments.set(args, slot + 1);
      }
      const before = Array.from(this.#busy);
      const started = performance.now();
      Atomics.add(control, START, 1);
      Atomics.notify(control, START);
      try {
        this.#jobs[id](...perThread[0]);
      } finally {
        this.#busy[0] += performance.now() - started;
        // (| 0: the count wraps around at 2³¹.)
        const helpers = this.#helpers.length;
        let done = Atomics.load(control, FINISHED);
        for (const deadline = performance.now() + SPIN_MS; ((done - finished) | 0) < helpers;) {
          if (performance.now() > deadline) Atomics.wait(control, FINISHED, done);
          else Atomics.pause();
          done = Atomics.load(control, FINISHED);
        }
        this.#splitMs += performance.now() - started;
      }
      if (Atomics.exchange(control, FAILED, 0) !== 0) {
        throw new Error(`a kernel thread failed in ${job} (an operand outside the heap?)`);
      }
      return perThread.map((_, t) => this.#busy[t] - before[t]);
    }
    if (perThread.length === 1) this.#jobs[id](...perThread[0]);
    return [];
  }

  /**
   * The threads' time in split jobs so far: two readings' difference tells how long a stretch of work kept the
   * threads waiting for each other (splitMs − busyMs[t] for each thread t).
   */
  timings(): PoolTimings {
    return { splitMs: this.#splitMs, busyMs: Array.from(this.#busy) };
  }

  /** Ends the helper threads; jobs then run on the calling thread only. */
  dispose(): void {
    for (const helper of this.#helpers) helper.terminate();
    this.#helpers = [];
    (this as { threads: number }).threads = 1;
    this.#shares = [1];
  }
}

/** The module's whole text. */
export function kernelModuleSource(options: { fusedMultiplyAdd: boolean; sharedMemory: boolean }): string {
  const memory = `(import "env" "memory" (memory 1 65536${options.sharedMemory ? " shared" : ""}))`;
  const products = `${gemmFunctions(options.fusedMultiplyAdd)}\n${gemmNtFunctions(options.fusedMultiplyAdd)}`;
  const probes = peakFunctions(options.fusedMultiplyAdd);
  return `(module\n  ${memory}\n${products}\n${ADAM_FUNCTION}\n${EMA_FUNCTION}\n${TRANSPOSE_FUNCTION}\n${BIAS_GELU_FUNCTION}\n${COLUMN_OPS_FUNCTIONS}\n${probes}\n)\n`;
}

/** Compiles the kernels for `heap` and starts their helper threads. */
export async function createKernelPool(heap: KernelHeap, options: KernelPoolOptions = {}): Promise<KernelPool> {
  const { memory } = heap;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const threads = shared ? Math.max(1, options.threads ?? 1) : 1;
  const wabt = await wabtInit();
  const compile = (fusedMultiplyAdd: boolean) => {
    const text = kernelModuleSource({ fusedMultiplyAdd, sharedMemory: shared });
    const parsed = wabt.parseWat("kernels.wat", text, { simd: true, relaxed_simd: true, threads: true });
    try {
      return new Uint8Array(parsed.toBinary({}).buffer);
    } finally {
      parsed.destroy();
    }
  };
  let fusedMultiplyAdd = !options.noFusedMultiplyAdd;
  let bytes = compile(fusedMultiplyAdd);
  if (!WebAssembly.validate(bytes)) {
    // No relaxed SIMD here: a multiply then an add (the products run about 40% slower).
    fusedMultiplyAdd = false;
    bytes = compile(false);
  }
  const module = new WebAssembly.Module(bytes);
  const scratch = Array.from({ length: threads }, () => {
    const pointer = heap.malloc(SCRATCH_BYTES);
    if (pointer === 0) throw new RangeError("the WASM heap is full: no room for the kernels' scratch buffers");
    return pointer;
  });
  const control = new Int32Array(new SharedArrayBuffer(4 * 3));
  const args = new Float64Array(new SharedArrayBuffer(8 * (MAX_ARGUMENTS + 1) * Math.max(1, threads - 1)));
  const busy = new Float64Array(new SharedArrayBuffer(8 * threads));
  const helpers: Worker[] = [];
  for (let h = 0; h < threads - 1; h++) {
    const source = `const { parentPort, workerData } = require("node:worker_threads");\n` +
      `(${helperMain})(parentPort, workerData, ${jobTable}, ${fillRandomNormal}, ${SPIN_MS});`;
    const helper = new Worker(source, {
      eval: true,
      workerData: {
        memory,
        module,
        control: control.buffer,
        args: args.buffer,
        busy: busy.buffer,
        slot: h * (MAX_ARGUMENTS + 1),
        thread: h + 1,
      },
    });
    await new Promise<void>((resolve, reject) => {
      helper.once("message", () => resolve());
      helper.once("error", reject);
    });
    helper.unref();
    helpers.push(helper);
  }
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return new KernelPool(
    jobTable(instance, memory, fillRandomNormal),
    fusedMultiplyAdd,
    { control, arguments: args, busy },
    helpers,
    scratch,
  );
}

/** The jobs in {@linkcode JOBS} order, as one thread calls them (self-contained: helpers run it from its text). */
function jobTable(
  instance: WebAssembly.Instance,
  memory: WebAssembly.Memory,
  fill: typeof fillRandomNormal,
): ((...args: number[]) => void)[] {
  const kernel = (name: string) => instance.exports[name] as (...args: number[]) => void;
  const view = (pointer: number, count: number) => new Float32Array(memory.buffer, pointer, count);
  return [
    kernel("gemm_nn"),
    kernel("gemm_tn"),
    kernel("gemm_nt"),
    kernel("adam"),
    (pointer, count, mean, std, seed) => fill(view(pointer, count), mean, std, seed),
    kernel("bias_gelu"),
    kernel("fma_peak"),
    kernel("stream_sum"),
    kernel("ema"),
    kernel("transpose"),
    kernel("stream_update"),
    kernel("gemm_in_cache"),
    kernel("layer_norm"),
    kernel("layer_norm_back_columns"),
    kernel("row_sums"),
    kernel("multiply_rows"),
  ];
}

/**
 * A helper thread's whole program, run from its source text (so it must not refer to anything outside it):
 * build the job table, then wait for the start word to move, run its part, count itself finished.
 */
function helperMain(
  parentPort: { postMessage(message: string): void },
  workerData: {
    memory: WebAssembly.Memory;
    module: WebAssembly.Module;
    control: SharedArrayBuffer;
    args: SharedArrayBuffer;
    busy: SharedArrayBuffer;
    slot: number;
    thread: number;
  },
  table: typeof jobTable,
  fill: typeof fillRandomNormal,
  spinMs: number,
): void {
  const { memory, slot, thread } = workerData;
  const jobs = table(new WebAssembly.Instance(workerData.module, { env: { memory } }), memory, fill);
  const control = new Int32Array(workerData.control);
  const args = new Float64Array(workerData.args);
  const busy = new Float64Array(workerData.busy);
  let seen = Atomics.load(control, 0);
  parentPort.postMessage("ready");
  while (true) {
    // Poll a while before sleeping: the next job of a step usually comes within microseconds.
    for (const deadline = performance.now() + spinMs; Atomics.load(control, 0) === seen;) {
      if (performance.now() > deadline) Atomics.wait(control, 0, seen);
      else Atomics.pause();
    }
    seen = Atomics.load(control, 0);
    const job = args[slot];
    if (job >= 0) {
      const started = performance.now();
      try {
        jobs[job](...args.subarray(slot + 1, slot + 14));
      } catch {
        Atomics.store(control, 2, 1);
      }
      busy[thread] += performance.now() - started;
    }
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  }
}
