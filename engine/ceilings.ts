/**
 * The ceilings the engine's kernels work under on this machine, measured with the kernel module's probes
 * (peak_source.ts): vector multiply-adds on registers alone and the product kernel on operands in the L1 cache
 * (GFLOP/s), a streaming read of a buffer much larger than the caches and an in-place rewrite of it (GB/s), on
 * one thread and on all of the kernel pool's. WASM SIMD is 128 bits wide whatever the CPU, so on an AVX2 or
 * AVX-512 machine native code (OpenBLAS) can exceed the first of these. The second is lower than the first by
 * what the kernel's instructions cost besides its multiply-adds: on a Zen 3 ~20%, about 12 points of it the
 * bounds check V8 puts before every load (Deno runs WebAssembly without V8's trap handler; measured with V8's
 * test-only --no-wasm-bounds-checks).
 * @module
 */
import { kernelPool, tfjsHeap } from "./tf.ts";
import type { Job } from "./kernel_pool.ts";
import { IN_CACHE_PRODUCT } from "./peak_source.ts";

/** Measured ceilings. */
export interface Ceilings {
  /** Threads of the kernel pool. */
  threads: number;
  /** Multiply-add GFLOP/s on one thread and on all. */
  fma: { oneThread: number; allThreads: number };
  /** The product kernel's GFLOP/s on operands in L1, one thread and all: what it can reach on any product. */
  product: { oneThread: number; allThreads: number };
  /** Streaming read GB/s on one thread and on all. */
  bandwidth: { oneThread: number; allThreads: number };
  /** GB/s read plus written when a buffer is rewritten in place, as an optimizer does, on one thread and on all. */
  update: { oneThread: number; allThreads: number };
}

const FLOPS_PER_ITERATION = 12 * 4 * 2; // twelve 4-lane multiply-adds
const ITERATIONS = 5_000_000;
const STREAM_BYTES = 256 * 2 ** 20;
const PRODUCT_REPEATS = 20_000;

/**
 * Measures the ceilings, or null without the engine's kernels (cpu backend). Each probe runs `repeats` times,
 * in rounds that take every probe in turn (so that a spell of load from elsewhere on a shared host spoils one
 * round, not all of one probe's runs), and its fastest run counts.
 */
export function measureCeilings(repeats = 3): Ceilings | null {
  const pool = kernelPool(), heap = tfjsHeap();
  if (!pool || !heap) return null;
  const all = pool.threads;
  const { m, n, k } = IN_CACHE_PRODUCT;
  // The product's A and B, shared by the threads, and a C each (a few KiB), at the start of the streams' buffer.
  const floats = m * k + k * n + all * m * n;
  const pointer = heap.malloc(STREAM_BYTES);
  if (pointer === 0) throw new RangeError("the WASM heap is full: no room to measure its bandwidth");
  try {
    new Uint8Array(heap.memory.buffer, pointer, STREAM_BYTES).fill(0); // touch every page first
    // Every product operand 0.01, so the sums stay far from overflow (and from subnormals).
    new Float32Array(heap.memory.buffer, pointer, floats).fill(0.01);
    const [a, b, c] = [pointer, pointer + 4 * m * k, pointer + 4 * (m * k + k * n)];
    type Probe = "fma" | "product" | "bandwidth" | "update";
    /** One run of `probe` on `threads` threads: its job, each thread's arguments, the work done (GFLOP or GB). */
    const plan = (probe: Probe, threads: number): [Job, number[][], number] => {
      const each = (args: (t: number) => number[]) => Array.from({ length: threads }, (_, t) => args(t));
      // The streams: a part of the buffer per thread; an update reads and writes every byte.
      const part = Math.floor(STREAM_BYTES / threads / 64) * 64;
      switch (probe) {
        case "fma":
          return ["fma_peak", each(() => [ITERATIONS]), threads * ITERATIONS * FLOPS_PER_ITERATION / 1e9];
        case "product":
          return [
            "gemm_in_cache",
            each((t) => [PRODUCT_REPEATS, a, b, c + 4 * t * m * n, pool.scratch[t]]),
            threads * PRODUCT_REPEATS * 2 * m * n * k / 1e9,
          ];
        case "bandwidth":
          return ["stream_sum", each((t) => [pointer + t * part, part]), threads * part / 1e9];
        case "update":
          return ["stream_update", each((t) => [pointer + t * part, part]), 2 * threads * part / 1e9];
      }
    };
    const fastest = new Map<string, number>();
    for (let round = 0; round < repeats; round++) {
      for (const probe of ["fma", "product", "bandwidth", "update"] as const) {
        for (const threads of [1, all]) {
          const [job, perThread, work] = plan(probe, threads);
          const start = performance.now();
          pool.run(job, perThread);
          const rate = work / ((performance.now() - start) / 1000);
          fastest.set(`${probe}/${threads}`, Math.max(fastest.get(`${probe}/${threads}`) ?? 0, rate));
        }
      }
    }
    const both = (probe: string) => ({
      oneThread: fastest.get(`${probe}/1`)!,
      allThreads: fastest.get(`${probe}/${all}`)!,
    });
    return {
      threads: all,
      fma: both("fma"),
      product: both("product"),
      bandwidth: both("bandwidth"),
      update: both("update"),
    };
  } finally {
    heap.free(pointer);
  }
}
