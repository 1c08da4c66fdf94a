/**
 * The ceilings the engine's kernels work under on this machine, measured with the kernel module's probes
 * (peak_source.ts): vector multiply-adds on registers alone (GFLOP/s), a streaming read of a buffer much
 * larger than the caches and an in-place rewrite of it (GB/s), on one thread and on all of the kernel pool's.
 * WASM SIMD is 128 bits wide whatever the CPU, so on an AVX2 or AVX-512 machine native code (OpenBLAS) can
 * exceed the first of these.
 * @module
 */
import { kernelPool, tfjsHeap } from "./tf.ts";

/** Measured ceilings. */
export interface Ceilings {
  /** Threads of the kernel pool. */
  threads: number;
  /** Multiply-add GFLOP/s on one thread and on all. */
  fma: { oneThread: number; allThreads: number };
  /** Streaming read GB/s on one thread and on all. */
  bandwidth: { oneThread: number; allThreads: number };
  /** GB/s read plus written when a buffer is rewritten in place, as an optimizer does, on one thread and on all. */
  update: { oneThread: number; allThreads: number };
}

const FLOPS_PER_ITERATION = 12 * 4 * 2; // twelve 4-lane multiply-adds
const ITERATIONS = 5_000_000;
const STREAM_BYTES = 256 * 2 ** 20;

/** Measures the ceilings (best of `repeats` runs each), or null without the engine's kernels (cpu backend). */
export function measureCeilings(repeats = 3): Ceilings | null {
  const pool = kernelPool(), heap = tfjsHeap();
  if (!pool || !heap) return null;
  const best = (run: () => void) => {
    let fastest = Infinity;
    for (let r = 0; r < repeats; r++) {
      const start = performance.now();
      run();
      fastest = Math.min(fastest, (performance.now() - start) / 1000);
    }
    return fastest;
  };
  const all = pool.threads;
  const fma = (threads: number) =>
    (threads * ITERATIONS * FLOPS_PER_ITERATION) /
    best(() => pool.run("fma_peak", Array.from({ length: threads }, () => [ITERATIONS]))) / 1e9;
  const pointer = heap.malloc(STREAM_BYTES);
  if (pointer === 0) throw new RangeError("the WASM heap is full: no room to measure its bandwidth");
  try {
    new Uint8Array(heap.memory.buffer, pointer, STREAM_BYTES).fill(1); // touch every page first
    const stream = (job: "stream_sum" | "stream_update", threads: number) => {
      const part = Math.floor(STREAM_BYTES / threads / 64) * 64;
      const bytes = job === "stream_update" ? 2 * part : part; // an update reads and writes every byte
      return (threads * bytes) /
        best(() => pool.run(job, Array.from({ length: threads }, (_, t) => [pointer + t * part, part]))) / 1e9;
    };
    return {
      threads: all,
      fma: { oneThread: fma(1), allThreads: fma(all) },
      bandwidth: { oneThread: stream("stream_sum", 1), allThreads: stream("stream_sum", all) },
      update: { oneThread: stream("stream_update", 1), allThreads: stream("stream_update", all) },
    };
  } finally {
    heap.free(pointer);
  }
}
