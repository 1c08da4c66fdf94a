/**
 * Matrix products in tfjs-wasm's heap with the engine's own WebAssembly SIMD
 * kernels (gemm_source.ts), split over the cores.
 *
 * Why not tfjs' matMul: XNNPACK's kernels in tfjs 4.22 do not use relaxed SIMD's
 * fused multiply-add and re-pack their right operand; on the net's big products
 * they reach ~14 GFLOP/s per core, these ~35-45 (see the README's Speed section).
 *
 * The module is compiled from its WAT text by wabt when the backend starts (a few
 * ms). On tfjs' threaded build the heap is shared memory, so helper threads
 * (node:worker_threads, unref'd so they never keep the process alive) instantiate
 * the same module over the same heap and each computes a band of C's rows; the
 * calling thread computes the first band and waits on an Atomics word for the rest.
 * @module
 */
import { Worker } from "node:worker_threads";
import wabtInit from "wabt";
import { gemmSource, type Layout, SCRATCH_BYTES, TILE_ROWS } from "./gemm_source.ts";

export type { Layout };

/** One product C[m×n] (+)= A·B over byte offsets in the heap; leading dimensions are in floats. */
export interface MatrixProduct {
  /** "nn": A is row-major [m×k]; "tn": A is stored transposed, row-major [k×m]. */
  layout: Layout;
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** The summed dimension. */
  k: number;
  /** Byte offset of A. */
  a: number;
  /** Floats between A's rows as stored. */
  lda: number;
  /** Byte offset of B, row-major [k×n]. */
  b: number;
  /** Floats between B's rows. */
  ldb: number;
  /** Byte offset of C, row-major [m×n]. */
  c: number;
  /** Floats between C's rows. */
  ldc: number;
  /** Add the product to C instead of overwriting C. */
  accumulate: boolean;
}

/** Products smaller than this (multiply-adds) run on the calling thread alone: waking a helper costs ~15 µs. */
const SPLIT_THRESHOLD = 1 << 19;

// Control words shared with the helpers: [start sequence, finished count, failed, then per helper its 12 arguments].
const START = 0, FINISHED = 1, FAILED = 2, ARGUMENTS = 3, ARGUMENT_COUNT = 12;

/** The compiled kernels, bound to one heap, and the threads that share the work. */
export class Gemm {
  /** Threads a product is split over (the caller's included). */
  readonly threads: number;
  /** Whether the kernels use relaxed SIMD's fused multiply-add. */
  readonly fusedMultiplyAdd: boolean;
  #kernels: Record<Layout, (...args: number[]) => void>;
  #control: Int32Array;
  #helpers: Worker[];
  #scratch: number;

  /** Use {@linkcode createGemm}. */
  constructor(
    instance: WebAssembly.Instance,
    fusedMultiplyAdd: boolean,
    control: Int32Array,
    helpers: Worker[],
    scratch: number,
  ) {
    this.#scratch = scratch;
    const exports = instance.exports as Record<string, (...args: number[]) => void>;
    this.#kernels = { nn: exports.gemm_nn, tn: exports.gemm_tn };
    this.fusedMultiplyAdd = fusedMultiplyAdd;
    this.#control = control;
    this.#helpers = helpers;
    this.threads = helpers.length + 1;
  }

  /** Computes one product, split into bands of rows (or of columns when there are few rows) over the threads. */
  run(p: MatrixProduct): void {
    const bands = this.#bands(p);
    const control = this.#control;
    if (bands.length > 1) {
      const finished = Atomics.load(control, FINISHED);
      for (let h = 1; h < bands.length; h++) control.set(argumentsOf(bands[h]), ARGUMENTS + (h - 1) * ARGUMENT_COUNT);
      // Helpers beyond the bands get an empty product, so that every helper answers every start.
      for (let h = bands.length; h < this.threads; h++) {
        control.fill(0, ARGUMENTS + (h - 1) * ARGUMENT_COUNT, ARGUMENTS + h * ARGUMENT_COUNT);
      }
      Atomics.add(control, START, 1);
      Atomics.notify(control, START);
      try {
        this.#kernels[bands[0].layout](...argumentsOf(bands[0]).slice(1), this.#scratch);
      } finally {
        for (let done = Atomics.load(control, FINISHED); done - finished < this.#helpers.length;) {
          Atomics.wait(control, FINISHED, done);
          done = Atomics.load(control, FINISHED);
        }
      }
      if (Atomics.exchange(control, FAILED, 0) !== 0) {
        throw new Error("a matrix-product helper thread failed (an operand outside the heap?)");
      }
      return;
    }
    this.#kernels[p.layout](...argumentsOf(p).slice(1), this.#scratch);
  }

  /** The product cut into one band per thread that gets work. */
  #bands(p: MatrixProduct): MatrixProduct[] {
    if (this.threads === 1 || p.m * p.n * p.k < SPLIT_THRESHOLD) return [p];
    const bands: MatrixProduct[] = [];
    if (p.m >= TILE_ROWS * this.threads * 2) {
      // Bands of whole row tiles; A and C move down by the band's first row.
      const tiles = Math.ceil(p.m / TILE_ROWS);
      for (let t = 0; t < this.threads; t++) {
        const first = Math.floor((tiles * t) / this.threads) * TILE_ROWS;
        const last = Math.min(p.m, Math.floor((tiles * (t + 1)) / this.threads) * TILE_ROWS);
        if (last <= first) continue;
        const aStep = p.layout === "nn" ? p.lda : 1;
        bands.push({ ...p, m: last - first, a: p.a + 4 * first * aStep, c: p.c + 4 * first * p.ldc });
      }
    } else {
      // Few rows (the output layer): bands of columns, in multiples of 8.
      const groups = Math.ceil(p.n / 8);
      for (let t = 0; t < this.threads; t++) {
        const first = Math.floor((groups * t) / this.threads) * 8;
        const last = Math.min(p.n, Math.floor((groups * (t + 1)) / this.threads) * 8);
        if (last <= first) continue;
        bands.push({ ...p, n: last - first, b: p.b + 4 * first, c: p.c + 4 * first });
      }
    }
    return bands;
  }

  /** Ends the helper threads; the kernels then run on the calling thread only. */
  dispose(): void {
    for (const helper of this.#helpers) helper.terminate();
    this.#helpers = [];
    (this as { threads: number }).threads = 1;
  }
}

/** The 12 control words of a product: layout, then the kernel's arguments but the thread's own scratch. */
function argumentsOf(p: MatrixProduct): number[] {
  // B rows a multiple of 1 KiB apart evict each other from L1 (see packBlock in gemm_source.ts): pack them,
  // when there are enough rows of A to repay the copy.
  const pack = p.ldb % 256 === 0 && p.ldb >= 512 && p.m >= 4 * TILE_ROWS;
  return [p.layout === "nn" ? 0 : 1, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.c, p.ldc, +p.accumulate, +pack];
}

/** Options of {@linkcode createGemm}. */
export interface GemmOptions {
  /** Threads to split products over (default 1); more than 1 needs shared memory. */
  threads?: number;
  /** Compile without fused multiply-add even where relaxed SIMD exists (for comparisons). */
  noFusedMultiplyAdd?: boolean;
}

/** The heap the kernels work in, and how to allocate their scratch buffers there. */
export interface GemmHeap {
  /** The memory holding every operand. */
  memory: WebAssembly.Memory;
  /** Allocates `bytes` in it (never freed: the kernels live as long as the heap); 0 when full. */
  malloc: (bytes: number) => number;
}

/** Compiles the kernels for `heap` and starts their helper threads. */
export async function createGemm(heap: GemmHeap, options: GemmOptions = {}): Promise<Gemm> {
  const { memory } = heap;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const threads = shared ? Math.max(1, options.threads ?? 1) : 1;
  const wabt = await wabtInit();
  const compile = (fusedMultiplyAdd: boolean) => {
    const text = gemmSource({ fusedMultiplyAdd, sharedMemory: shared });
    const parsed = wabt.parseWat("gemm.wat", text, { simd: true, relaxed_simd: true, threads: true });
    try {
      return new Uint8Array(parsed.toBinary({}).buffer);
    } finally {
      parsed.destroy();
    }
  };
  let fusedMultiplyAdd = !options.noFusedMultiplyAdd;
  let bytes = compile(fusedMultiplyAdd);
  if (!WebAssembly.validate(bytes)) {
    // No relaxed SIMD here: a multiply then an add (about 40% slower).
    fusedMultiplyAdd = false;
    bytes = compile(false);
  }
  const module = new WebAssembly.Module(bytes);
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const control = new Int32Array(new SharedArrayBuffer(4 * (ARGUMENTS + ARGUMENT_COUNT * (threads - 1))));
  const scratch = Array.from({ length: threads }, () => {
    const pointer = heap.malloc(SCRATCH_BYTES);
    if (pointer === 0) throw new RangeError("the WASM heap is full: no room for the matrix products' scratch");
    return pointer;
  });
  const helpers: Worker[] = [];
  for (let h = 0; h < threads - 1; h++) {
    const source =
      `const { parentPort, workerData } = require("node:worker_threads");\n(${helperMain})(parentPort, workerData);`;
    const helper = new Worker(source, {
      eval: true,
      workerData: {
        memory,
        module,
        control: control.buffer,
        slot: ARGUMENTS + h * ARGUMENT_COUNT,
        scratch: scratch[h + 1],
      },
    });
    await new Promise<void>((resolve, reject) => {
      helper.once("message", () => resolve());
      helper.once("error", reject);
    });
    helper.unref();
    helpers.push(helper);
  }
  return new Gemm(instance, fusedMultiplyAdd, control, helpers, scratch[0]);
}

/**
 * A helper thread's whole program (run from its source text, so it must not refer to anything outside):
 * wait for the start word to move, run its band, count itself finished.
 */
function helperMain(
  parentPort: { postMessage(message: string): void },
  workerData: {
    memory: WebAssembly.Memory;
    module: WebAssembly.Module;
    control: SharedArrayBuffer;
    slot: number;
    scratch: number;
  },
): void {
  const instance = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } });
  const kernels = [instance.exports.gemm_nn, instance.exports.gemm_tn] as ((...args: number[]) => void)[];
  const control = new Int32Array(workerData.control);
  const slot: number = workerData.slot;
  let seen = Atomics.load(control, 0);
  parentPort.postMessage("ready");
  while (true) {
    Atomics.wait(control, 0, seen);
    seen = Atomics.load(control, 0);
    try {
      const [layout, ...args] = control.subarray(slot, slot + 12);
      if (args[0] > 0 && args[1] > 0) kernels[layout](...args, workerData.scratch);
    } catch {
      Atomics.store(control, 2, 1);
    }
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  }
}
