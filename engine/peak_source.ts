/**
 * Four probes of the machine's ceilings for the engine's kernels, as WAT in the kernel module: `fma_peak` runs
 * twelve independent vector multiply-adds per iteration on registers alone (the products' 6×8 tile keeps
 * twelve accumulators too), `gemm_in_cache` runs the product kernel itself on operands that stay in the L1
 * cache (what the kernel's own instructions allow: its loads, V8's bounds check before each, the loop),
 * `stream_sum` reads a buffer with vector loads as fast as memory gives it, and `stream_update` rewrites a
 * buffer in place (x ← x/2 + 1), reading and writing as an optimizer does. The bench runs them on one thread
 * and on all of the pool's, and prints each kernel's GFLOP/s and GB/s against them.
 * @module
 */

/** The in-cache product's shape: two row tiles, four column tiles, half a block of k (A 6 KiB, B 16 KiB). */
export const IN_CACHE_PRODUCT = { m: 12, n: 32, k: 128 };

/**
 * The probes' WAT: `fma_peak(iterations) -> f32` (24·4·iterations flops), `gemm_in_cache(repeats, a, b, c,
 * scratch)` (C += A·B of {@linkcode IN_CACHE_PRODUCT}'s shape `repeats` times, through gemm_nn),
 * `stream_sum(pointer, bytes) -> f32` and `stream_update(pointer, bytes)`.
 */
export function peakFunctions(fusedMultiplyAdd: boolean): string {
  const madd = (a: string, b: string, c: string) =>
    fusedMultiplyAdd ? `(f32x4.relaxed_madd ${a} ${b} ${c})` : `(f32x4.add (f32x4.mul ${a} ${b}) ${c})`;
  const accumulators = Array.from({ length: 12 }, (_, i) => `$c${i}`);
  const locals = accumulators.map((c) => `(local ${c} v128)`).join(" ");
  const init = accumulators.map((c, i) => `(local.set ${c} (f32x4.splat (f32.const ${(i + 1) * 0.001})))`)
    .join("\n    ");
  const body = accumulators.map((c) =>
    `(local.set ${c} ${madd(`(local.get ${c})`, "(local.get $x)", "(local.get $y)")})`
  )
    .join("\n      ");
  const { m, n, k } = IN_CACHE_PRODUCT;
  const sum = accumulators.slice(1).reduce((acc, c) => `(f32x4.add ${acc} (local.get ${c}))`, "(local.get $c0)");
  return `
  (func (export "fma_peak") (param $iterations i32) (result f32)
    (local $i i32) (local $x v128) (local $y v128) ${locals}
    (local.set $x (f32x4.splat (f32.const 0.999)))
    (local.set $y (f32x4.splat (f32.const 0.0001)))
    ${init}
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $iterations)))
      ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (f32x4.extract_lane 0 ${sum}))
  (func (export "gemm_in_cache") (param $repeats i32) (param $a i32) (param $b i32) (param $c i32)
    (param $scratch i32) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $repeats)))
      (call $gemm_nn (i32.const ${m}) (i32.const ${n}) (i32.const ${k}) (local.get $a) (i32.const ${k}) (local.get $b)
        (i32.const ${n}) (local.get $c) (i32.const ${n}) (i32.const 1) (i32.const 0) (local.get $scratch))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  )
  (func (export "stream_sum") (param $pointer i32) (param $bytes i32) (result f32)
    (local $i i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $a (f32x4.add (local.get $a) (v128.load (i32.add (local.get $pointer) (local.get $i)))))
      (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (i32.add (local.get $pointer) (local.get $i)))))
      (local.set $c (f32x4.add (local.get $c) (v128.load offset=32 (i32.add (local.get $pointer) (local.get $i)))))
      (local.set $d (f32x4.add (local.get $d) (v128.load offset=48 (i32.add (local.get $pointer) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $next)))
    (f32x4.extract_lane 0 (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (f32x4.add (local.get $c) (local.get $d)))))
  (func (export "stream_update") (param $pointer i32) (param $bytes i32)
    (local $i i32) (local $at i32) (local $half v128) (local $one v128)
    (local.set $half (f32x4.splat (f32.const 0.5)))
    (local.set $one (f32x4.splat (f32.const 1)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $at (i32.add (local.get $pointer) (local.get $i)))
      ${
    [0, 16, 32, 48].map((offset) =>
      `(v128.store offset=${offset} (local.get $at) ` +
      `(f32x4.add (f32x4.mul (v128.load offset=${offset} (local.get $at)) (local.get $half)) (local.get $one)))`
    ).join("\n      ")
  }
      (local.set $i (i32.add (local.get $i) (i32.const 64)))
      (br $next))))`;
}
