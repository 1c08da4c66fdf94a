/**
 * The residual net's element-wise work as single passes over the tensors' memory: bias + GELU (with the
 * derivative its backward pass needs), LayerNorm over each column of a [features, batch] activation and its
 * backward pass, the residual add. Written as plain loops over the backend's buffers (tensorMemory): as tfjs
 * ops the same work took ~110 of a ~250 ms step (214 kernel calls, each a pass over memory, and reductions
 * over axis 0 that tfjs makes by transposing), here a few ms.
 *
 * Every function allocates its outputs first and only then takes views of memory: an allocation can move the
 * WASM heap, and a view taken before it would read the old one.
 * @module
 */
import { emptyTensor, kernelPool, tensorMemory, tensorPointer, tf } from "./tf.ts";
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
  const threads = Math.min(pool.threads, rows);
  pool.run(
    "bias_gelu",
    Array.from({ length: threads }, (_, t) => [
      ...pointers,
      rows,
      columns,
      Math.floor((rows * t) / threads),
      Math.floor((rows * (t + 1)) / threads),
    ]),
  );
  return { a, derivative };
}

/** x ⊙ y, element by element. */
export function multiply(x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
  const out = emptyTensor<tf.Rank.R2>(x.shape);
  const xs = tensorMemory(x), ys = tensorMemory(y), os = tensorMemory(out);
  for (let i = 0; i < os.length; i++) os[i] = xs[i] * ys[i];
  return out;
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

/** LayerNorm of each column of h [features, batch]: y = γ·x̂ + β, with x̂ and 1/σ kept for the backward pass. */
export function layerNormColumns(
  h: tf.Tensor2D,
  gamma: tf.Tensor2D,
  beta: tf.Tensor2D,
  epsilon: number,
): { y: tf.Tensor2D; xhat: tf.Tensor2D; inv: tf.Tensor2D } {
  const [rows, columns] = h.shape;
  const y = emptyTensor<tf.Rank.R2>([rows, columns]), xhat = emptyTensor<tf.Rank.R2>([rows, columns]);
  const inv = emptyTensor<tf.Rank.R2>([1, columns]);
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
 * dx̂ = γ·dy, the means over each column; and dγ, dβ summed over the batch.
 */
export function layerNormColumnsBackward(
  dy: tf.Tensor2D,
  saved: { xhat: tf.Tensor2D; inv: tf.Tensor2D },
  gamma: tf.Tensor2D,
): { dh: tf.Tensor2D; dGamma: tf.Tensor2D; dBeta: tf.Tensor2D } {
  const [rows, columns] = dy.shape;
  const dh = emptyTensor<tf.Rank.R2>([rows, columns]);
  const dGamma = emptyTensor<tf.Rank.R2>([rows, 1]), dBeta = emptyTensor<tf.Rank.R2>([rows, 1]);
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
  return { dh, dGamma, dBeta };
}
