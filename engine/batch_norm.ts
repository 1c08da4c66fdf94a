/**
 * part3's BatchNorm + ReLU in training, forward and backward, as single passes over the tensors' memory.
 * Activations are [features, batch], so each feature's batch is one contiguous row: its mean, variance and
 * the backward pass's two sums are taken while the row is in L1. As tfjs ops the same work was ~25 kernel
 * calls per layer (centre, square, mean, rsqrt, scale, shift, relu; and backward step, two products, four
 * means and sums, five element-wise passes), ~35-50 ms of a ~330 ms part3 step at batch 64; here a few ms.
 *
 * Every function allocates its outputs first and only then takes views of memory: an allocation can move the
 * WASM heap, and a view taken before it would read the old one.
 * @module
 */
import { emptyTensor, tensorMemory, tf } from "./tf.ts";

/** What the backward pass needs of a training-mode BatchNorm + ReLU, and the batch's statistics. */
export interface BatchNormReluForward {
  /** relu(γ·x̂ + β), [features, batch]: the next layer's input. */
  a: tf.Tensor2D;
  /** x̂ = (z − mean)·inv, [features, batch]. */
  xhat: tf.Tensor2D;
  /** 1/sqrt(variance + ε) per feature, [features, 1]. */
  inv: tf.Tensor2D;
  /** The batch's mean per feature, [features, 1]. */
  mean: tf.Tensor2D;
  /** The batch's (biased) variance per feature, [features, 1]. */
  variance: tf.Tensor2D;
}

/**
 * BatchNorm of each row of z [features, batch] with the batch's own mean and biased variance (sums in
 * float64), then ReLU: a = max(0, γ·x̂ + β).
 */
export function batchNormReluForward(
  z: tf.Tensor2D,
  gamma: tf.Tensor2D,
  beta: tf.Tensor2D,
  epsilon: number,
): BatchNormReluForward {
  const [rows, columns] = z.shape;
  const a = emptyTensor<tf.Rank.R2>([rows, columns]), xhat = emptyTensor<tf.Rank.R2>([rows, columns]);
  const inv = emptyTensor<tf.Rank.R2>([rows, 1]), mean = emptyTensor<tf.Rank.R2>([rows, 1]);
  const variance = emptyTensor<tf.Rank.R2>([rows, 1]);
  const zs = tensorMemory(z), gs = tensorMemory(gamma), bs = tensorMemory(beta);
  const as = tensorMemory(a), xs = tensorMemory(xhat), is = tensorMemory(inv);
  const ms = tensorMemory(mean), vs = tensorMemory(variance);
  for (let r = 0, start = 0; r < rows; r++, start += columns) {
    const end = start + columns;
    let sum = 0;
    for (let i = start; i < end; i++) sum += zs[i];
    const m = sum / columns;
    let squares = 0;
    for (let i = start; i < end; i++) squares += (zs[i] - m) * (zs[i] - m);
    const v = squares / columns, scale = 1 / Math.sqrt(v + epsilon);
    ms[r] = m;
    vs[r] = v;
    is[r] = scale;
    const g = gs[r], b = bs[r];
    for (let i = start; i < end; i++) {
      const x = Math.fround((zs[i] - m) * scale);
      xs[i] = x;
      const y = g * x + b;
      as[i] = y > 0 ? y : 0;
    }
  }
  return { a, xhat, inv, mean, variance };
}

/**
 * The backward pass of {@linkcode batchNormReluForward}, from da = dL/da: dy = da where a > 0 (ReLU lets
 * through exactly where γ·x̂ + β > 0), dγ = Σ dy·x̂ and dβ = Σ dy over the batch, and
 * dz = γ·inv·(dy − mean(dy) − x̂·mean(dy·x̂)).
 */
export function batchNormReluBackward(
  da: tf.Tensor2D,
  saved: { a: tf.Tensor2D; xhat: tf.Tensor2D; inv: tf.Tensor2D },
  gamma: tf.Tensor2D,
): { dz: tf.Tensor2D; dGamma: tf.Tensor2D; dBeta: tf.Tensor2D } {
  const [rows, columns] = da.shape;
  const dz = emptyTensor<tf.Rank.R2>([rows, columns]);
  const dGamma = emptyTensor<tf.Rank.R2>([rows, 1]), dBeta = emptyTensor<tf.Rank.R2>([rows, 1]);
  const das = tensorMemory(da), as = tensorMemory(saved.a), xs = tensorMemory(saved.xhat);
  const is = tensorMemory(saved.inv), gs = tensorMemory(gamma);
  const dzs = tensorMemory(dz), dgs = tensorMemory(dGamma), dbs = tensorMemory(dBeta);
  for (let r = 0, start = 0; r < rows; r++, start += columns) {
    const end = start + columns;
    let sumDy = 0, sumDyX = 0;
    for (let i = start; i < end; i++) {
      if (as[i] > 0) {
        sumDy += das[i];
        sumDyX += das[i] * xs[i];
      }
    }
    dgs[r] = sumDyX;
    dbs[r] = sumDy;
    const meanDy = sumDy / columns, meanDyX = sumDyX / columns, scale = gs[r] * is[r];
    for (let i = start; i < end; i++) {
      const dy = as[i] > 0 ? das[i] : 0;
      dzs[i] = scale * (dy - meanDy - xs[i] * meanDyX);
    }
  }
  return { dz, dGamma, dBeta };
}
