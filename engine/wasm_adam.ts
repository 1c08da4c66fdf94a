/**
 * Adam as a WebAssembly SIMD kernel that works directly in tfjs-wasm's heap, split
 * over the kernel pool's threads.
 *
 * The JavaScript Adam loop is scalar: about 6 ns per parameter, ~390 ms per part3 step
 * (61 M parameters). This kernel updates four floats per instruction, reading the
 * weight and gradient tensors where tfjs keeps them and the two moments from
 * buffers allocated in the same heap, so nothing is copied. It is bound by memory
 * (seven floats read or written per parameter); two threads move more of it.
 * @module
 */
import type { KernelPool } from "./kernel_pool.ts";

/** Arguments of one kernel call: byte offsets in the heap, then the step's constants. */
export interface AdamKernelArgs {
  /** Weights (updated). */
  weights: number;
  /** Gradients (read). */
  gradients: number;
  /** First moment (updated). */
  m: number;
  /** Second moment (updated). */
  v: number;
  /** Number of floats; the kernel does the multiple-of-4 part, the caller the rest. */
  count: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** L2 coefficient added to the gradient as decay·w. */
  decay: number;
  /** lr·√(1−β2ᵗ)/(1−β1ᵗ). */
  scale: number;
  /** ε·√(1−β2ᵗ). */
  epsilon: number;
  /** Each weight is multiplied by this first: 1 − lr·weightDecay for AdamW, 1 for Adam. */
  keep: number;
}

/**
 * One Adam update: w ← keep·w, then m ← β1·m + (1−β1)·g', v ← β2·v + (1−β2)·g'², w ← w − scale·m/(√v + ε), with
 * g' = g + decay·w.
 */
export type AdamKernel = (args: AdamKernelArgs) => void;

/** Below this many floats a per-element kernel runs on the calling thread alone. */
const SPLIT_THRESHOLD = 1 << 16;

/**
 * The ranges [first, last) of `count` floats a per-element kernel gives the pool's threads: whole groups of four
 * (the kernels' vector width), one range per thread for big tensors (each as long as its thread's share), one
 * range in all for small ones; the last `count % 4` floats are left to the caller.
 */
export function fourFloatRanges(count: number, pool: KernelPool): [number, number][] {
  const whole = count - (count & 3);
  return pool.partition(whole, whole < SPLIT_THRESHOLD ? 1 : pool.threads, 4);
}

/** The kernel running on `pool`: big tensors are cut into one range per thread (multiples of 4 floats). */
export function adamKernel(pool: KernelPool): AdamKernel {
  return (a) => {
    const perThread = fourFloatRanges(a.count, pool).map(([first, last]) => {
      const at = (pointer: number) => pointer + 4 * first;
      return [
        at(a.weights),
        at(a.gradients),
        at(a.m),
        at(a.v),
        4 * (last - first),
        a.beta1,
        1 - a.beta1,
        a.beta2,
        1 - a.beta2,
        a.decay,
        a.scale,
        a.epsilon,
        a.keep,
      ];
    });
    pool.run("adam", perThread);
  };
}
