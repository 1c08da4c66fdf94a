/**
 * The net's three kinds of matrix product on tensors: through the engine's own
 * kernels (gemm.ts) on the WASM backend, through tfjs' matMul on the cpu backend.
 * Operands are 2-D float32 tensors, dense and row-major as tfjs keeps them.
 * @module
 */
import { runProduct } from "./gemm.ts";
import type { KernelPool } from "./kernel_pool.ts";
import { kernelPool, tensorPointer, tf, uninitializedTensor } from "./tf.ts";

/** Σ_c A_c·B_c, with A_c [m×k_c] and B_c [k_c×n] (a product over column chunks of A): [m×n]. */
export function sumOfProducts(as: tf.Tensor2D[], bs: tf.Tensor2D[]): tf.Tensor2D {
  const pool = kernelPool();
  if (!pool) {
    let sum: tf.Tensor2D = tf.matMul(as[0], bs[0]);
    for (let c = 1; c < as.length; c++) sum = tf.add(sum, tf.matMul(as[c], bs[c]));
    return sum;
  }
  const [m, n] = [as[0].shape[0], bs[0].shape[1]];
  const out = uninitializedTensor<tf.Rank.R2>([m, n]);
  const c = tensorPointer(out);
  as.forEach((a, i) => {
    const [k, b] = [a.shape[1], bs[i]];
    checkShapes(a.shape[0] === m && b.shape[0] === k && b.shape[1] === n, a, b);
    run(pool, "nn", m, n, k, a, k, b, c, i > 0);
  });
  return out;
}

/**
 * Σ_c A_c·B_cᵀ, with A_c [m×k_c] and B_c [n×k_c] (both read along k, as dot products): [m×n]. For a narrow
 * first layer, whose product with the batch as the loaders deliver it would otherwise need the batch transposed.
 */
export function sumOfProductsWithTransposed(as: tf.Tensor2D[], bs: tf.Tensor2D[]): tf.Tensor2D {
  const pool = kernelPool();
  if (!pool) {
    let sum: tf.Tensor2D = tf.matMul(as[0], bs[0], false, true);
    for (let c = 1; c < as.length; c++) sum = tf.add(sum, tf.matMul(as[c], bs[c], false, true));
    return sum;
  }
  const [m, n] = [as[0].shape[0], bs[0].shape[0]];
  const out = uninitializedTensor<tf.Rank.R2>([m, n]);
  const c = tensorPointer(out);
  as.forEach((a, i) => {
    const [k, b] = [a.shape[1], bs[i]];
    checkShapes(a.shape[0] === m && b.shape[1] === k && b.shape[0] === n, a, b);
    runProduct(pool, {
      layout: "nt",
      m,
      n,
      k,
      a: tensorPointer(a),
      lda: k,
      b: tensorPointer(b),
      ldb: k,
      c,
      ldc: n,
      accumulate: i > 0,
    });
  });
  return out;
}

/** A·B with A [m×k] and B [k×n]: [m×n]. */
export function product(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return sumOfProducts([a], [b]);
}

/**
 * [A_0ᵀ; A_1ᵀ; …]·B, with A_c [k×m_c] (column chunks of one [k×Σm_c] matrix) and B [k×n]: the rows
 * of each chunk's Aᵀ·B stacked, [Σm_c×n]. No transposed copy of A is made.
 */
export function transposedProduct(as: tf.Tensor2D[], b: tf.Tensor2D): tf.Tensor2D {
  const pool = kernelPool();
  if (!pool) {
    const whole = as.length === 1 ? as[0] : tf.concat(as, 1);
    return tf.matMul(tf.transpose(whole), b);
  }
  const [k, n] = b.shape;
  const rows = as.reduce((sum, a) => sum + a.shape[1], 0);
  const out = uninitializedTensor<tf.Rank.R2>([rows, n]);
  let row = 0;
  for (const a of as) {
    const m = a.shape[1];
    checkShapes(a.shape[0] === k, a, b);
    run(pool, "tn", m, n, k, a, m, b, tensorPointer(out) + 4 * row * n, false);
    row += m;
  }
  return out;
}

function run(
  pool: KernelPool,
  layout: "nn" | "tn",
  m: number,
  n: number,
  k: number,
  a: tf.Tensor2D,
  lda: number,
  b: tf.Tensor2D,
  c: number,
  accumulate: boolean,
): void {
  runProduct(pool, { layout, m, n, k, a: tensorPointer(a), lda, b: tensorPointer(b), ldb: n, c, ldc: n, accumulate });
}

function checkShapes(ok: boolean, a: tf.Tensor, b: tf.Tensor): void {
  if (!ok) throw new RangeError(`product of [${a.shape}] and [${b.shape}]: shapes do not fit`);
  if (a.dtype !== "float32" || b.dtype !== "float32") throw new TypeError("products need float32 tensors");
}
