/**
 * The net's three kinds of matrix product on tensors: through the engine's own
 * kernels (gemm.ts) on the WASM backend, through tfjs' matMul on the cpu backend.
 * Operands are 2-D float32 tensors, dense and row-major as tfjs keeps them.
 * @module
 */
import { type MatrixProduct, runProduct } from "./gemm.ts";
import type { KernelPool } from "./kernel_pool.ts";
import { kernelPool, tensorPointer, tf, uninitializedTensor } from "./tf.ts";

/** Σ_c A_c·B_c, with A_c [m×k_c] and B_c [k_c×n] (a product over column chunks of A): [m×n]. */
export function sumOfProducts(as: tf.Tensor2D[], bs: tf.Tensor2D[]): tf.Tensor2D {
  return chunkedSum(as, bs, false);
}

/**
 * Σ_c A_c·B_cᵀ, with A_c [m×k_c] and B_c [n×k_c] (both read along k, as dot products): [m×n]. For a narrow
 * first layer, whose product with the batch as the loaders deliver it would otherwise need the batch transposed.
 */
export function sumOfProductsWithTransposed(as: tf.Tensor2D[], bs: tf.Tensor2D[]): tf.Tensor2D {
  return chunkedSum(as, bs, true);
}

/** Σ_c A_c·B_c, or Σ_c A_c·B_cᵀ when `transposedB`, accumulated in one output. */
function chunkedSum(as: tf.Tensor2D[], bs: tf.Tensor2D[], transposedB: boolean): tf.Tensor2D {
  const pool = kernelPool();
  if (!pool) {
    let sum: tf.Tensor2D = tf.matMul(as[0], bs[0], false, transposedB);
    for (let c = 1; c < as.length; c++) sum = tf.add(sum, tf.matMul(as[c], bs[c], false, transposedB));
    return sum;
  }
  const m = as[0].shape[0], n = bs[0].shape[transposedB ? 0 : 1];
  const out = uninitializedTensor<tf.Rank.R2>([m, n]);
  as.forEach((a, i) => {
    const k = a.shape[1], b = bs[i];
    const [bk, bn] = transposedB ? [b.shape[1], b.shape[0]] : b.shape;
    checkShapes(a.shape[0] === m && bk === k && bn === n, a, b);
    const layout = transposedB ? "nt" : "nn";
    run(pool, { layout, m, n, k, a, lda: k, b, ldb: transposedB ? k : n, c: tensorPointer(out), accumulate: i > 0 });
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
    run(pool, { layout: "tn", m, n, k, a, lda: m, b, ldb: n, c: tensorPointer(out) + 4 * row * n, accumulate: false });
    row += m;
  }
  return out;
}

/** One product on the pool, its operands given as tensors, C as a byte offset whose rows are n floats apart. */
function run(
  pool: KernelPool,
  p: Omit<MatrixProduct, "a" | "b" | "ldc"> & { a: tf.Tensor2D; b: tf.Tensor2D },
): void {
  runProduct(pool, { ...p, a: tensorPointer(p.a), b: tensorPointer(p.b), ldc: p.n });
}

function checkShapes(ok: boolean, a: tf.Tensor, b: tf.Tensor): void {
  if (!ok) throw new RangeError(`product of [${a.shape}] and [${b.shape}]: shapes do not fit`);
  if (a.dtype !== "float32" || b.dtype !== "float32") throw new TypeError("products need float32 tensors");
}
