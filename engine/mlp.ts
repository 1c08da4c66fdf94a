/**
 * The fully-connected nets of the assignment, with a hand-written forward and
 * backward pass, used by training and inference alike.
 *
 * Layout, and why:
 * - each weight is kept as [out, in] and activations as [features, batch], so the
 *   forward product is W·Hᵀ: the engine's kernels (gemm.ts) broadcast elements of
 *   W, streamed from memory once per step, against rows of the small activation,
 *   and the input gradient Wᵀ·dZ reads W as it is stored; the optimizer updates
 *   weights in place.
 * - the first layer's weight is split into column chunks of {@linkcode CHUNK_SIZE}
 *   inputs (the checkpoint and batch layouts are built on them; the products sum
 *   over them).
 * On the cpu backend tfjs' matMul does the same products.
 * The saved model is converted to the standard tfjs layers format (model_files.ts).
 * @module
 */
import { emptyTensor, tensorMemory, tf } from "./tf.ts";
import { product, sumOfProducts, sumOfProductsWithTransposed, transposedProduct } from "./products.ts";
import { fillRandomNormalTensors, type RandomNormalFill } from "./random_normal.ts";

/** Inputs per column chunk of a weight matrix. */
export const CHUNK_SIZE = 4096;
/** BatchNorm epsilon (as PyTorch). */
export const BN_EPSILON = 1e-5;
/** BatchNorm moving-average momentum (Keras convention: moving = m·moving + (1-m)·batch). */
export const BN_MOMENTUM = 0.9;

/** The shape and options of a net. */
export interface MlpSpec {
  /** Inputs (size*size of the cache). */
  inputSize: number;
  /** Hidden layer widths. */
  hidden: number[];
  /** Dense -> BatchNorm -> ReLU in every hidden layer (part3), or Dense+bias -> ReLU (part1). */
  batchNorm: boolean;
  /** Dropout rate after each hidden ReLU (0 = none). */
  dropout: number;
}

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

/** A net: its spec and layers (hidden layers, then the 1-unit output layer). */
export interface Mlp {
  /** The spec it was built from. */
  spec: MlpSpec;
  /** Layers in order. */
  layers: DenseLayer[];
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

/**
 * Builds a net with seeded initialisation: He normal (std sqrt(2/fan_in)) for
 * the ReLU layers, Glorot normal for the sigmoid output, zero biases, BatchNorm
 * at gamma 1, beta 0.
 */
export function buildMlp(spec: MlpSpec, seed: number): Mlp {
  const sizes = [spec.inputSize, ...spec.hidden, 1];
  const layers: DenseLayer[] = [];
  const fills: RandomNormalFill[] = [];
  for (let l = 0; l < sizes.length - 1; l++) {
    const [fanIn, fanOut] = [sizes[l], sizes[l + 1]];
    const output = l === sizes.length - 2;
    const std = output ? Math.sqrt(2 / (fanIn + fanOut)) : Math.sqrt(2 / fanIn);
    const weights = chunkRanges(fanIn).map(([a, b], c) => {
      const weight = tf.keep(emptyTensor<tf.Rank.R2>([fanOut, b - a]));
      // tf.randomNormal(shape, 0, std, "float32", seed), value for value (random_normal.ts), filled below.
      fills.push({ target: weight, mean: 0, std, seed: seed * 7919 + l * 1009 + c });
      return weight;
    });
    const layer: DenseLayer = { inputSize: fanIn, outputSize: fanOut, weights };
    if (spec.batchNorm && !output) {
      layer.gamma = tf.keep(tf.ones([fanOut, 1]));
      layer.beta = tf.keep(tf.zeros([fanOut, 1]));
      layer.movingMean = tf.keep(tf.zeros([fanOut, 1]));
      layer.movingVariance = tf.keep(tf.ones([fanOut, 1]));
    } else {
      layer.bias = tf.keep(tf.zeros([fanOut, 1]));
    }
    layers.push(layer);
  }
  fillRandomNormalTensors(fills);
  return { spec, layers };
}

/** The trainable tensors in a fixed order (the order of gradients from {@linkcode trainStep}). */
export function parameters(mlp: Mlp): Parameter[] {
  const list: Parameter[] = [];
  for (const layer of mlp.layers) {
    for (const w of layer.weights) list.push({ tensor: w, kind: "weight" });
    if (layer.bias) list.push({ tensor: layer.bias, kind: "bias" });
    if (layer.gamma) list.push({ tensor: layer.gamma, kind: "gamma" }, { tensor: layer.beta!, kind: "beta" });
  }
  return list;
}

/** Every tensor of the net, trainable or not, in a fixed order (for checkpoints). */
export function stateTensors(mlp: Mlp): tf.Tensor[] {
  const list: tf.Tensor[] = [];
  for (const layer of mlp.layers) {
    list.push(...layer.weights);
    for (const t of [layer.bias, layer.gamma, layer.beta, layer.movingMean, layer.movingVariance]) if (t) list.push(t);
  }
  return list;
}

/** Number of trainable values. */
export function countParameters(mlp: Mlp): number {
  return parameters(mlp).reduce((n, p) => n + p.tensor.size, 0);
}

/** Frees every tensor of the net. */
export function disposeMlp(mlp: Mlp): void {
  stateTensors(mlp).forEach((t) => t.dispose());
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

/** Options of {@linkcode trainStep}. */
export interface StepOptions {
  /** Seed for this step's dropout masks. */
  dropoutSeed?: number;
}

/**
 * Widest first layer whose forward product takes the batch as it comes, as dot products (the "nt" kernel);
 * wider ones transpose the batch once for the broadcast kernel, which runs ~30% faster: on part3 that pays
 * for the transpose (13 MB at batch 64, ~6 ms) many times over, on part1's 5 units the transpose would be
 * most of the step.
 */
export const NARROW_FIRST_LAYER = 32;

/** The first layer's Zᵀ = W·Xᵀ [out, batch] from the batch's chunks [batch, chunk]. */
function firstLayerProduct(layer: DenseLayer, chunks: tf.Tensor2D[]): tf.Tensor2D {
  if (layer.outputSize <= NARROW_FIRST_LAYER) return sumOfProductsWithTransposed(layer.weights, chunks);
  return sumOfProducts(layer.weights, chunks.map((x) => tf.transpose(x)));
}

/** Splits a [features, batch] activation into [chunk, batch] row blocks matching {@linkcode chunkRanges}. */
function rowChunks(activationT: tf.Tensor2D, size: number): tf.Tensor2D[] {
  const ranges = chunkRanges(size);
  if (ranges.length === 1) return [activationT];
  return ranges.map(([a, b]) => tf.slice(activationT, [a, 0], [b - a, activationT.shape[1]]));
}

/** BatchNorm's normalisation of z [features, batch] over the batch axis. */
interface Normalized {
  /** The mean used, [features, 1]. */
  mean: tf.Tensor2D;
  /** The variance used, [features, 1]. */
  variance: tf.Tensor2D;
  /** (z - mean) · inv. */
  xhat: tf.Tensor2D;
  /** 1 / sqrt(variance + epsilon). */
  inv: tf.Tensor2D;
}

/**
 * Normalises z with the batch's own mean and (biased) variance, as in training, or with the
 * layer's moving statistics, as in inference. The one BatchNorm forward of training and prediction.
 */
function batchNorm(z: tf.Tensor2D, layer: DenseLayer, batchStatistics: boolean): Normalized {
  const mean = batchStatistics ? tf.mean(z, 1, true) as tf.Tensor2D : layer.movingMean!;
  const centered = tf.sub(z, mean) as tf.Tensor2D;
  const variance = batchStatistics ? tf.mean(tf.square(centered), 1, true) as tf.Tensor2D : layer.movingVariance!;
  const inv = tf.rsqrt(tf.add(variance, BN_EPSILON)) as tf.Tensor2D;
  return { mean, variance, xhat: tf.mul(centered, inv), inv };
}

/**
 * One forward and backward pass in training mode (batch statistics, dropout):
 * returns the gradients of the mean binary cross-entropy and updates the
 * BatchNorm moving statistics.
 */
export function trainStep(mlp: Mlp, batch: InputBatch, options: StepOptions = {}): StepResult {
  const { layers, spec } = mlp;
  const batchSize = batch.labels.shape[1];
  const movingUpdates: [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D][] = [];
  const result = tf.tidy(() => {
    // Forward, keeping what the backward pass needs.
    const inputsT: tf.Tensor2D[][] = [[]]; // [l]: input of layer l, transposed (layer 0 reads batch.chunks)
    const saved: { z: tf.Tensor2D; xhat?: tf.Tensor2D; inv?: tf.Tensor2D; mask?: tf.Tensor2D; relu?: tf.Tensor2D }[] =
      [];
    let logits!: tf.Tensor2D;
    for (const [l, layer] of layers.entries()) {
      const z = l === 0 ? firstLayerProduct(layer, batch.chunks) : sumOfProducts(layer.weights, inputsT[l]);
      if (l === layers.length - 1) {
        logits = tf.add(z, layer.bias!);
        saved.push({ z: logits });
        break;
      }
      let y: tf.Tensor2D;
      const entry: (typeof saved)[number] = { z };
      if (layer.gamma) {
        const { mean, variance, xhat, inv } = batchNorm(z, layer, true);
        y = tf.add(tf.mul(xhat, layer.gamma), layer.beta!);
        Object.assign(entry, { xhat, inv });
        movingUpdates.push([
          layer.movingMean!,
          layer.movingVariance!,
          tf.keep(tf.add(tf.mul(layer.movingMean!, BN_MOMENTUM), tf.mul(mean, 1 - BN_MOMENTUM))),
          tf.keep(tf.add(tf.mul(layer.movingVariance!, BN_MOMENTUM), tf.mul(variance, 1 - BN_MOMENTUM))),
        ]);
      } else {
        y = tf.add(z, layer.bias!);
      }
      let a = tf.relu(y);
      entry.relu = y;
      if (spec.dropout > 0) {
        const keep = 1 - spec.dropout;
        const seed = (options.dropoutSeed ?? 0) * 131 + l;
        const mask = tf.div(tf.cast(tf.less(tf.randomUniform(a.shape, 0, 1, "float32", seed), keep), "float32"), keep);
        a = tf.mul(a, mask);
        entry.mask = mask as tf.Tensor2D;
      }
      saved.push(entry);
      inputsT.push(rowChunks(a, layer.outputSize));
    }

    // Loss: mean of softplus(z) - y·z, the stable form of sigmoid + cross-entropy.
    const labels = batch.labels;
    const loss = tf.mean(tf.sub(tf.softplus(logits), tf.mul(labels, logits)));
    const probabilities = tf.sigmoid(logits);
    const correct = tf.sum(tf.cast(tf.equal(tf.greater(probabilities, 0.5), tf.cast(labels, "bool")), "float32"));

    // Backward: per layer, the weight-chunk gradients and the bias or gamma/beta gradients.
    const weightGrads: tf.Tensor[][] = [], otherGrads: tf.Tensor[][] = layers.map(() => []);
    let dz = tf.div(tf.sub(probabilities, labels), batchSize) as tf.Tensor2D; // dL/dz of the output
    for (let l = layers.length - 1; l >= 0; l--) {
      const layer = layers[l];
      // dW = dZ · H, with H the (non-transposed) input chunks [batch, chunk].
      const inputs = l === 0 ? batch.chunks : inputsT[l].map((h) => tf.transpose(h));
      weightGrads[l] = inputs.map((h) => product(dz, h));
      if (layer.bias) otherGrads[l] = [tf.sum(dz, 1, true)];
      if (l === 0) break;
      // dH^T = W^T · dZ.
      let da = transposedProduct(layer.weights, dz);
      const below = saved[l - 1];
      if (below.mask) da = tf.mul(da, below.mask);
      let dy = tf.mul(da, tf.step(below.relu!)) as tf.Tensor2D;
      const previous = layers[l - 1];
      if (previous.gamma) {
        // BatchNorm backward over the batch axis.
        const xhat = below.xhat!;
        const dyXhat = tf.mul(dy, xhat);
        otherGrads[l - 1] = [tf.sum(dyXhat, 1, true), tf.sum(dy, 1, true)];
        const centred = tf.sub(tf.sub(dy, tf.mean(dy, 1, true)), tf.mul(xhat, tf.mean(dyXhat, 1, true)));
        dy = tf.mul(tf.mul(previous.gamma, below.inv!), centred) as tf.Tensor2D;
      }
      dz = dy;
    }
    return { gradients: layers.flatMap((_, l) => [...weightGrads[l], ...otherGrads[l]]), loss, correct };
  });
  for (const [mean, variance, newMean, newVariance] of movingUpdates) {
    tensorCopyInto(newMean, mean);
    tensorCopyInto(newVariance, variance);
    newMean.dispose();
    newVariance.dispose();
  }
  const loss = result.loss.dataSync()[0];
  const correct = result.correct.dataSync()[0];
  result.loss.dispose();
  result.correct.dispose();
  return { gradients: result.gradients, loss, correct };
}

function tensorCopyInto(source: tf.Tensor, target: tf.Tensor): void {
  // Moving statistics are never a right-hand matMul operand, so an in-place write is safe.
  const values = source.dataSync() as Float32Array;
  tensorMemory(target).set(values);
}

/**
 * Inference-mode forward pass (moving statistics, no dropout): P(label 1) for each sample, shape [1, batch].
 * `batchStatistics` normalises with the batch's own mean and variance instead, as a BatchNorm left in
 * training mode at test time does (the course baseline's bug); only for measuring what that costs.
 */
export function predictProbabilities(
  mlp: Mlp,
  chunks: tf.Tensor2D[],
  options: { batchStatistics?: boolean } = {},
): tf.Tensor2D {
  return tf.tidy(() => {
    let inputT: tf.Tensor2D[] = [];
    let out!: tf.Tensor2D;
    for (const [l, layer] of mlp.layers.entries()) {
      const z = l === 0 ? firstLayerProduct(layer, chunks) : sumOfProducts(layer.weights, inputT);
      if (l === mlp.layers.length - 1) {
        out = tf.sigmoid(tf.add(z, layer.bias!));
        break;
      }
      let y: tf.Tensor2D;
      if (layer.gamma) {
        y = tf.add(tf.mul(batchNorm(z, layer, options.batchStatistics ?? false).xhat, layer.gamma), layer.beta!);
      } else {
        y = tf.add(z, layer.bias!);
      }
      inputT = rowChunks(tf.relu(y) as tf.Tensor2D, layer.outputSize);
    }
    return out;
  });
}
