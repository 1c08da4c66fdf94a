/**
 * What every net of the engine is built from: dense layers whose weights are [out, in] in column chunks,
 * the batch as the nets take it, the first layer's product and the split of an activation into chunks.
 * @module
 */
import { tf } from "./tf.ts";
import { product, sumOfProducts, sumOfProductsWithTransposed } from "./products.ts";
import { transpose2d } from "./transpose.ts";

/** Inputs per column chunk of a weight matrix. */
export const CHUNK_SIZE = 4096;
/** One dense layer's parameters. */
export interface DenseLayer {
  /** Inputs. */
  inputSize: number;
  /** Outputs. */
  outputSize: number;
  /** Weight column chunks, each [out, chunk]; together the [out, in] weight. */
  weights: tf.Tensor2D[];
  /** Bias [out, 1] (layers without BatchNorm, and the output layer). */
  bias?: tf.Tensor2D;
  /** BatchNorm scale [out, 1]. */
  gamma?: tf.Tensor2D;
  /** BatchNorm shift [out, 1]. */
  beta?: tf.Tensor2D;
  /** BatchNorm moving mean [out, 1]. */
  movingMean?: tf.Tensor2D;
  /** BatchNorm moving variance [out, 1]. */
  movingVariance?: tf.Tensor2D;
}

/** A trainable tensor and what it is, for the optimizer. */
export interface Parameter {
  /** The tensor, updated in place. */
  tensor: tf.Tensor;
  /** Kind: weights get L2; BatchNorm and bias do not. */
  kind: "weight" | "bias" | "gamma" | "beta";
}

/** Column ranges [start, end) of the chunks of an `inputSize`-wide weight. */
export function chunkRanges(inputSize: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let start = 0; start < inputSize; start += CHUNK_SIZE) {
    ranges.push([start, Math.min(inputSize, start + CHUNK_SIZE)]);
  }
  return ranges;
}

/**
 * Writes the transpose of `source`, a dense row-major [rows × columns] matrix, into `target` ([columns ×
 * rows]), each value times `columnScale[column]` when given (the product rounded to float32 once), in 64 × 64
 * tiles so that both sides stay in cache (a plain loop strides a whole row per write). The saved model's
 * kernel is [in, out], the engine's chunks [out, chunk]: saving and loading go through here.
 */
export function transposeInto(
  source: Float32Array,
  rows: number,
  columns: number,
  target: Float32Array,
  columnScale?: Float32Array,
): void {
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < columns; c0 += TILE) {
      const c1 = Math.min(columns, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const row = r * columns;
        if (columnScale) { for (let c = c0; c < c1; c++) target[c * rows + r] = source[row + c] * columnScale[c]; }
        else for (let c = c0; c < c1; c++) target[c * rows + r] = source[row + c];
      }
    }
  }
}

/** A batch as the net takes it: the input in column chunks, each [batch, chunk], and labels [1, batch]. */
export interface InputBatch {
  /** Input columns chunked like the first layer's weight. */
  chunks: tf.Tensor2D[];
  /** Labels 0/1 as float [1, batch]. */
  labels: tf.Tensor2D;
}

/** What one training step gives back. */
export interface StepResult {
  /** Gradients, in {@linkcode parameters} order (caller disposes). */
  gradients: tf.Tensor[];
  /** Mean binary cross-entropy of the batch. */
  loss: number;
  /** Correctly classified samples in the batch (training-mode forward). */
  correct: number;
}

/**
 * Widest layer whose products read the batch as it comes, as dot products along it (the "nt" kernel); wider
 * ones transpose the batch (or activation) once for the broadcast kernel, which runs ~30% faster on the first
 * layer and 5-20% faster on weight gradients at batch 64-128: on part3's first layer that pays for the
 * transpose (13 MB at batch 64, ~2 ms on the pool's threads) many times over, while for part1's 5 units or
 * the 1-unit output layer the transpose would be most of the work.
 */
export const NARROW_LAYER = 32;

/** The first layer's Zᵀ = W·Xᵀ [out, batch] from the batch's chunks [batch, chunk]. */
export function firstLayerProduct(layer: DenseLayer, chunks: tf.Tensor2D[]): tf.Tensor2D {
  if (layer.outputSize <= NARROW_LAYER) return sumOfProductsWithTransposed(layer.weights, chunks);
  return sumOfProducts(layer.weights, chunks.map(transpose2d));
}

/**
 * The weight-chunk gradients dW_c = dZ·H_c of a layer after the first, from dZ [out, batch] and its input's
 * row chunks H_cᵀ [chunk, batch] (activations are kept transposed).
 */
export function weightGradients(dz: tf.Tensor2D, inputChunksT: tf.Tensor2D[]): tf.Tensor2D[] {
  if (dz.shape[0] <= NARROW_LAYER) return inputChunksT.map((h) => sumOfProductsWithTransposed([dz], [h]));
  return inputChunksT.map((h) => product(dz, transpose2d(h)));
}

/** Splits a [features, batch] activation into [chunk, batch] row blocks matching {@linkcode chunkRanges}. */
export function rowChunks(activationT: tf.Tensor2D, size: number): tf.Tensor2D[] {
  const ranges = chunkRanges(size);
  if (ranges.length === 1) return [activationT];
  return ranges.map(([a, b]) => tf.slice(activationT, [a, 0], [b - a, activationT.shape[1]]));
}
