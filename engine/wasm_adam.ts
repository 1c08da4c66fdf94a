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
}

/** One Adam update: m ← β1·m + (1−β1)·g', v ← β2·v + (1−β2)·g'², w ← w − scale·m/(√v + ε), with g' = g + decay·w. */
export type AdamKernel = (args: AdamKernelArgs) => void;

/** Below this many floats the update runs on the calling thread alone. */
const SPLIT_THRESHOLD = 1 << 16;

/** The kernel running on `pool`: big tensors are cut into one range per thread (multiples of 4 floats). */
export function adamKernel(pool: KernelPool): AdamKernel {
  return (a) => {
    const groups = a.count >> 2;
    const threads = groups * 4 < SPLIT_THRESHOLD ? 1 : pool.threads;
    const perThread: number[][] = [];
    for (let t = 0; t < threads; t++) {
      const first = Math.floor((groups * t) / threads) * 4, last = Math.floor((groups * (t + 1)) / threads) * 4;
      const at = (pointer: number) => pointer + 4 * first;
      perThread.push([
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
      ]);
    }
    pool.run("adam", perThread);
  };
}

/**
 * The kernel's WAT: `adam(w, g, m, v, bytes, β1, 1−β1, β2, 1−β2, decay, scale, ε)` over `bytes` (a multiple
 * of 16) from each pointer. Plain multiplies and adds (no fused multiply-add), in the order the JavaScript
 * loop uses, so both give the same floats up to float32 rounding.
 */
export const ADAM_FUNCTION = `
  (func (export "adam") (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $bytes i32)
    (param $beta1 f32) (param $oneMinusBeta1 f32) (param $beta2 f32) (param $oneMinusBeta2 f32)
    (param $decay f32) (param $scale f32) (param $epsilon f32)
    (local $i i32) (local $B1 v128) (local $OMB1 v128) (local $B2 v128) (local $OMB2 v128) (local $DECAY v128)
    (local $SCALE v128) (local $EPS v128) (local $W v128) (local $G v128) (local $M v128) (local $V v128)
    (local.set $B1 (f32x4.splat (local.get $beta1)))
    (local.set $OMB1 (f32x4.splat (local.get $oneMinusBeta1)))
    (local.set $B2 (f32x4.splat (local.get $beta2)))
    (local.set $OMB2 (f32x4.splat (local.get $oneMinusBeta2)))
    (local.set $DECAY (f32x4.splat (local.get $decay)))
    (local.set $SCALE (f32x4.splat (local.get $scale)))
    (local.set $EPS (f32x4.splat (local.get $epsilon)))
    (block $done (loop $four
      (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
      ;; W = w[i]; G = g[i] + decay·W
      (local.set $W (v128.load align=4 (i32.add (local.get $w) (local.get $i))))
      (local.set $G (f32x4.add (v128.load align=4 (i32.add (local.get $g) (local.get $i)))
        (f32x4.mul (local.get $DECAY) (local.get $W))))
      ;; m[i] = M = β1·m[i] + (1−β1)·G
      (local.set $M (f32x4.add (f32x4.mul (local.get $B1) (v128.load align=4 (i32.add (local.get $m) (local.get $i))))
        (f32x4.mul (local.get $OMB1) (local.get $G))))
      (v128.store align=4 (i32.add (local.get $m) (local.get $i)) (local.get $M))
      ;; v[i] = V = β2·v[i] + (1−β2)·G·G
      (local.set $V (f32x4.add (f32x4.mul (local.get $B2) (v128.load align=4 (i32.add (local.get $v) (local.get $i))))
        (f32x4.mul (local.get $OMB2) (f32x4.mul (local.get $G) (local.get $G)))))
      (v128.store align=4 (i32.add (local.get $v) (local.get $i)) (local.get $V))
      ;; w[i] = W − scale·M / (√V + ε)
      (v128.store align=4 (i32.add (local.get $w) (local.get $i))
        (f32x4.sub (local.get $W) (f32x4.div (f32x4.mul (local.get $SCALE) (local.get $M))
          (f32x4.add (f32x4.sqrt (local.get $V)) (local.get $EPS)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $four)))
  )`;
