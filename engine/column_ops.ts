/**
 * The residual net's element-wise work as single passes over the tensors' memory: bias + GELU (with the
 * derivative its backward pass needs), LayerNorm over each column of a [features, batch] activation and its
 * backward pass, the residual add, a bias's gradient. As tfjs ops the same work took ~110 of a ~250 ms step
 * (214 kernel calls, each a pass over memory, and reductions over axis 0 that tfjs makes by transposing). On
 * the WASM backend GELU, LayerNorm and the row sums run as the kernel module's SIMD functions on the pool's
 * threads (gelu_source.ts, column_ops_source.ts); the rest, and everything on the cpu backend, as plain loops
 * over the backend's buffers (tensorMemory).
 *
 * Every function allocates its outputs first and only then takes views of memory: an allocation can move the
 * WASM heap, and a view taken before it would read the old one.
 * @module
 */
import { emptyTensor, kernelPool, tensorMemory, tensorPointer, tf } from "./tf.ts";
import type { KernelPool } from "./kernel_pool.ts";
import { biasGeluRows } from "./gelu_source.ts";

/**
 * a = GELU(z + b) = u·Φ(u) with u = z + b (b [rows, 1] added to every column), and GELU'(u) = Φ(u) + u·φ(u)
 * for the backward pass: on the WASM backend the kernel module's SIMD version split by rows over the pool's
 * threads (~10x faster than the JavaScript loop), on the cpu backend the same formula in JavaScript.
 */
export function biasGelu(z: tf.Tensor2D, bias: tf.Tensor2D): { a: tf.Tensor2D; derivative: tf.Tensor2D } {
  const [rows, columns] = z.shape;
  const a = emptyTensor<tf.Rank.R2>([rows, columns]), derivative = emptyTensor<tf.Rank.R2>([rows, columns]);
  const pool = kernelPool();
  if (!pool) {
    biasGeluRows(tensorMemory(z), tensorMemory(bias), tensorMemory(a), tensorMemory(derivative), 0, rows, columns);
    return { a, derivative };
  }
  const pointers = [z, bias, a, derivative].map(tensorPointer);
  const threads = threadsFor(pool, z.size, rows);
  pool.run(
    "bias_gelu",
    pool.partition(rows, threads).map(([first, last]) => [...pointers, rows, columns, first, last]),
  );
  return { a, derivative };
}

/**
 * x ⊙ y element by element, and the sums of its rows ([rows, 1]: the gradient of the bias of the layer whose dZ
 * it is): the kernel module's multiply_rows on the pool, the same sums as {@linkcode rowSums} of the product.
 */
export function multiplyWithRowSums(x: tf.Tensor2D, y: tf.Tensor2D): { product: tf.Tensor2D; sums: tf.Tensor2D } {
  const [rows, columns] = x.shape;
  const product = emptyTensor<tf.Rank.R2>([rows, columns]);
  const pool = kernelPool();
  if (!pool) {
    const xs = tensorMemory(x), ys = tensorMemory(y), os = tensorMemory(product);
    for (let i = 0; i < os.length; i++) os[i] = xs[i] * ys[i];
    return { product, sums: rowSums(product) };
  }
  const sums = emptyTensor<tf.Rank.R2>([rows, 1]);
  const pointers = [x, y, product, sums].map(tensorPointer);
  const threads = threadsFor(pool, x.size, rows);
  pool.run("multiply_rows", pool.partition(rows, threads).map(([first, last]) => [...pointers, columns, first, last]));
  return { product, sums };
}

/** h + z + b (b [rows, 1] added to every column): the residual stream after a block. */
export function residualAdd(h: tf.Tensor2D, z: tf.Tensor2D, bias: tf.Tensor2D): tf.Tensor2D {
  const [rows, columns] = h.shape;
  const out = emptyTensor<tf.Rank.R2>([rows, columns]);
  const hs = tensorMemory(h), zs = tensorMemory(z), bs = tensorMemory(bias), os = tensorMemory(out);
  for (let r = 0; r < rows; r++) {
    const b = bs[r];
    for (let i = r * columns, end = i + columns; i < end; i++) os[i] = hs[i] + zs[i] + b;
  }
  return out;
}

/** z + b (b [rows, 1] added to every column). */
export function addBias(z: tf.Tensor2D, bias: tf.Tensor2D): tf.Tensor2D {
  const [rows, columns] = z.shape;
  const out = emptyTensor<tf.Rank.R2>([rows, columns]);
  const zs = tensorMemory(z), bs = tensorMemory(bias), os = tensorMemory(out);
  for (let r = 0; r < rows; r++) {
    const b = bs[r];
    for (let i = r * columns, end = i + columns; i < end; i++) os[i] = zs[i] + b;
  }
  return out;
}

/** Below this many values a pass runs on the calling thread alone: handing part of it to a helper costs 2-5 µs. */
const SPLIT_THRESHOLD = 1 << 15;

/** How many of the pool's threads a pass over `size` values uses, at most `parts`. */
function threadsFor(pool: KernelPool, size: number, parts: number): number {
  return size < SPLIT_THRESHOLD ? 1 : Math.max(1, Math.min(pool.threads, parts));
}

/**
 * Σ over each row of x [rows, columns] (a bias's gradient from dZ), [rows, 1]: the kernel module's row_sums on
 * the pool (float64 sums), tfjs' sum on the cpu backend.
 */
export function rowSums(x: tf.Tensor2D): tf.Tensor2D {
  const pool = kernelPool();
  if (!pool) return tf.sum(x, 1, true);
  const [rows, columns] = x.shape;
  const sums = emptyTensor<tf.Rank.R2>([rows, 1]);
  const [xs, out] = [tensorPointer(x), tensorPointer(sums)];
  const threads = threadsFor(pool, x.size, rows);
  pool.run("row_sums", pool.partition(rows, threads).map(([first, last]) => [xs, 0, out, 0, columns, first, last]));
  return sums;
}

/**
 * LayerNorm of each column of h [features, batch]: y = γ·x̂ + β, with x̂ and 1/σ kept for the backward pass. On
 * the WASM backend the kernel module's layer_norm (column_ops_source.ts: the same float64 arithmetic, four
 * columns at a time, columns split over the pool's threads), else the JavaScript below.
 */
export function layerNormColumns(
  h: tf.Tensor2D,
  gamma: tf.Tensor2D,
  beta: tf.Tensor2D,
  epsilon: number,
): { y: tf.Tensor2D; xhat: tf.Tensor2D; inv: tf.Tensor2D } {
  const [rows, columns] = h.shape;
  const y = emptyTensor<tf.Rank.R2>([rows, columns]), xhat = emptyTensor<tf.Rank.R2>([rows, columns]);
  const inv = emptyTensor<tf.Rank.R2>([1, columns]);
  const pool = kernelPool();
  if (pool) {
    const pointers = [h, gamma, beta, y, xhat, inv].map(tensorPointer);
    const threads = threadsFor(pool, h.size, Math.ceil(columns / 4));
    pool.run(
      "layer_norm",
      pool.partition(columns, threads, 4).map(([c0, c1]) => [...pointers, rows, columns, c0, c1, epsilon]),
    );
    return { y, xhat, inv };
  }
  const hs = tensorMemory(h), gs = tensorMemory(gamma), bs = tensorMemory(beta);
  const ys = tensorMemory(y), xs = tensorMemory(xhat), is = tensorMemory(inv);
  // Row by row (the memory order), each column's sums in its own accumulator, in float64.
  const mean = new Float64Array(columns), square = new Float64Array(columns);
  for (let r = 0; r < rows; r++) for (let c = 0, i = r * columns; c < columns; c++, i++) mean[c] += hs[i];
  for (let c = 0; c < columns; c++) mean[c] /= rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0, i = r * columns; c < columns; c++, i++) {
      const d = hs[i] - mean[c];
      square[c] += d * d;
    }
  }
  for (let c = 0; c < columns; c++) is[c] = 1 / Math.sqrt(square[c] / rows + epsilon);
  for (let r = 0; r < rows; r++) {
    const g = gs[r], b = bs[r];
    for (let c = 0, i = r * columns; c < columns; c++, i++) {
      const x = (hs[i] - mean[c]) * is[c];
      xs[i] = x;
      ys[i] = g * x + b;
    }
  }
  return { y, xhat, inv };
}

/**
 * The backward pass of {@linkcode layerNormColumns}: dh = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with
 * dx̂ = γ·dy, the means over each column, plus `residual` when given (the gradient that reached the LayerNorm's
 * input along the residual stream); and dγ, dβ summed over the batch. On the WASM backend the kernel
 * module's row_sums (dβ = Σ dy, dγ = Σ dy·x̂, rows split over the pool) and layer_norm_back_columns (dh, columns
 * split), else the JavaScript below.
 */
export function layerNormColumnsBackward(
  dy: tf.Tensor2D,
  saved: { xhat: tf.Tensor2D; inv: tf.Tensor2D },
  gamma: tf.Tensor2D,
  residual?: tf.Tensor2D,
): { dh: tf.Tensor2D; dGamma: tf.Tensor2D; dBeta: tf.Tensor2D } {
  const [rows, columns] = dy.shape;
  const dh = emptyTensor<tf.Rank.R2>([rows, columns]);
  const dGamma = emptyTensor<tf.Rank.R2>([rows, 1]), dBeta = emptyTensor<tf.Rank.R2>([rows, 1]);
  const pool = kernelPool();
  if (pool) {
    const [dyAt, xhatAt, invAt, gammaAt, dhAt] = [dy, saved.xhat, saved.inv, gamma, dh].map(tensorPointer);
    const [dBetaAt, dGammaAt] = [dBeta, dGamma].map(tensorPointer);
    pool.run(
      "row_sums",
      pool.partition(rows, threadsFor(pool, dy.size, rows)).map(([first, last]) => [
        dyAt,
        xhatAt,
        dBetaAt,
        dGammaAt,
        columns,
        first,
        last,
      ]),
    );
    pool.run(
      "layer_norm_back_columns",
      pool.partition(columns, threadsFor(pool, dy.size, Math.ceil(columns / 4)), 4).map(([c0, c1]) => [
        dyAt,
        xhatAt,
        invAt,
        gammaAt,
        dhAt,
        rows,
        columns,
        c0,
        c1,
        residual ? tensorPointer(residual) : 0,
      ]),
    );
    return { dh, dGamma, dBeta };
  }
  const dys = tensorMemory(dy), xs = tensorMemory(saved.xhat), is = tensorMemory(saved.inv);
  const gs = tensorMemory(gamma), dhs = tensorMemory(dh), dgs = tensorMemory(dGamma), dbs = tensorMemory(dBeta);
  const meanD = new Float64Array(columns), meanDX = new Float64Array(columns);
  for (let r = 0; r < rows; r++) {
    const g = gs[r];
    let sumGamma = 0, sumBeta = 0;
    for (let c = 0, i = r * columns; c < columns; c++, i++) {
      const d = dys[i], x = xs[i], dx = g * d;
      sumGamma += d * x;
      sumBeta += d;
      meanD[c] += dx;
      meanDX[c] += dx * x;
    }
    dgs[r] = sumGamma;
    dbs[r] = sumBeta;
  }
  for (let c = 0; c < columns; c++) {
    meanD[c] /= rows;
    meanDX[c] /= rows;
  }
  for (let r = 0; r < rows; r++) {
    const g = gs[r];
    for (let c = 0, i = r * columns; c < columns; c++, i++) {
      dhs[i] = is[c] * (g * dys[i] - meanD[c] - xs[i] * meanDX[c]);
    }
  }
  if (residual) {
    const rs = tensorMemory(residual);
    for (let i = 0; i < dhs.length; i++) dhs[i] = rs[i] + dhs[i];
  }
  return { dh, dGamma, dBeta };
}
