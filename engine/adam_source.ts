/**
 * The WAT text of the engine's Adam kernel, compiled into the kernel module by kernel_pool.ts; the driver
 * that splits a tensor over the pool's threads is wasm_adam.ts.
 * @module
 */

/**
 * The kernel's WAT: `adam(w, g, m, v, bytes, β1, 1−β1, β2, 1−β2, decay, scale, ε, keep)` over `bytes` (a
 * multiple of 16) from each pointer; each weight is first multiplied by `keep` (AdamW's decoupled decay,
 * 1 − lr·weightDecay; 1 for Adam, which leaves the weight as it is). Plain multiplies and adds (no fused multiply-add), in the order the JavaScript
 * loop uses, so both give the same floats up to float32 rounding.
 */
export const ADAM_FUNCTION = `
  (func (export "adam") (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $bytes i32)
    (param $beta1 f32) (param $oneMinusBeta1 f32) (param $beta2 f32) (param $oneMinusBeta2 f32)
    (param $decay f32) (param $scale f32) (param $epsilon f32) (param $keep f32)
    (local $i i32) (local $B1 v128) (local $OMB1 v128) (local $B2 v128) (local $OMB2 v128) (local $DECAY v128)
    (local $SCALE v128) (local $EPS v128) (local $KEEP v128) (local $W v128) (local $G v128) (local $M v128)
    (local $V v128)
    (local.set $B1 (f32x4.splat (local.get $beta1)))
    (local.set $OMB1 (f32x4.splat (local.get $oneMinusBeta1)))
    (local.set $B2 (f32x4.splat (local.get $beta2)))
    (local.set $OMB2 (f32x4.splat (local.get $oneMinusBeta2)))
    (local.set $DECAY (f32x4.splat (local.get $decay)))
    (local.set $SCALE (f32x4.splat (local.get $scale)))
    (local.set $EPS (f32x4.splat (local.get $epsilon)))
    (local.set $KEEP (f32x4.splat (local.get $keep)))
    (block $done (loop $four
      (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
      ;; W = keep·w[i]; G = g[i] + decay·W
      (local.set $W (f32x4.mul (v128.load align=4 (i32.add (local.get $w) (local.get $i))) (local.get $KEEP)))
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

/**
 * The WAT of the moving average of the weights: `ema(a, w, bytes, d, 1−d)` sets a ← d·a + (1−d)·w over `bytes`
 * (a multiple of 16) from each pointer, four floats at a time.
 */
export const EMA_FUNCTION = `
  (func (export "ema") (param $a i32) (param $w i32) (param $bytes i32) (param $d f32) (param $oneMinusD f32)
    (local $i i32) (local $D v128) (local $OMD v128)
    (local.set $D (f32x4.splat (local.get $d)))
    (local.set $OMD (f32x4.splat (local.get $oneMinusD)))
    (block $done (loop $four
      (br_if $done (i32.ge_u (local.get $i) (local.get $bytes)))
      (v128.store align=4 (i32.add (local.get $a) (local.get $i))
        (f32x4.add (f32x4.mul (local.get $D) (v128.load align=4 (i32.add (local.get $a) (local.get $i))))
          (f32x4.mul (local.get $OMD) (v128.load align=4 (i32.add (local.get $w) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $four)))
  )`;
