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
import { product, sumOfProducts, transposedProduct } from "./products.ts";
import {
  chunkRanges,
  type DenseLayer,
  firstLayerProduct,
  type InputBatch,
  type Parameter,
  rowChunks,
  type StepResult,
  weightGradients,
} from "./layers.ts";
import {
  buildResidualNet,
  residualDenseLayers,
  type ResidualNet,
  residualParameters,
  residualPredict,
  type ResidualShape,
  residualTrainStep,
} from "./residual_mlp.ts";
import { fillRandomNormalTensors, type RandomNormalFill } from "./random_normal.ts";
import { batchNormReluBackward, batchNormReluForward } from "./batch_norm.ts";

/** BatchNorm epsilon (as PyTorch). */
export const BN_EPSILON = 1e-5;
/** BatchNorm moving-average momentum (Keras convention: moving = m·moving + (1-m)·batch). */
export const BN_MOMENTUM = 0.9;

/** The shape and options of a net. */
export interface MlpSpec {
  /** Inputs (size·size·channels of the cache). */
  inputSize: number;
  /** Hidden layer widths. */
  hidden: number[];
  /** Dense -> BatchNorm -> ReLU in every hidden layer (part3), or Dense+bias -> ReLU (part1). */
  batchNorm: boolean;
  /** Dropout rate after each hidden ReLU (0 = none). */
  dropout: number;
  /** When given, the net is the residual MLP of residual_mlp.ts instead, and `hidden` and `batchNorm` are unused. */
  residual?: ResidualShape;
}

/** A net: its spec and layers (hidden layers, then the 1-unit output layer). */
export interface Mlp {
  /** The spec it was built from. */
  spec: MlpSpec;
  /** Layers in order (of a residual net: its dense layers, input, each block's two, output). */
  layers: DenseLayer[];
  /** The residual net, when the spec asks for one. */
  residual?: ResidualNet;
}

/**
 * Builds a net with seeded initialisation: He normal (std sqrt(2/fan_in)) for
 * the ReLU layers, Glorot normal for the sigmoid output, zero biases, BatchNorm
 * at gamma 1, beta 0.
 */
export function buildMlp(spec: MlpSpec, seed: number): Mlp {
  if (spec.residual) {
    const residual = buildResidualNet(spec.inputSize, spec.residual, seed);
    return { spec, layers: residualDenseLayers(residual), residual };
  }
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
  if (mlp.residual) return residualParameters(mlp.residual);
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
  if (mlp.residual) return residualParameters(mlp.residual).map((p) => p.tensor);
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

/** Options of {@linkcode trainStep}. */
export interface StepOptions {
  /** Seed for this step's dropout masks. */
  dropoutSeed?: number;
}

/**
 * Inference's BatchNorm of z [features, batch]: γ·x̂ + β with the layer's moving statistics, or with the batch's
 * own mean and (biased) variance (only for measuring the course baseline's bug: training's BatchNorm is
 * batch_norm.ts's fused pass).
 */
function batchNormInference(z: tf.Tensor2D, layer: DenseLayer, batchStatistics: boolean): tf.Tensor2D {
  const mean = batchStatistics ? tf.mean(z, 1, true) as tf.Tensor2D : layer.movingMean!;
  const centered = tf.sub(z, mean) as tf.Tensor2D;
  const variance = batchStatistics ? tf.mean(tf.square(centered), 1, true) as tf.Tensor2D : layer.movingVariance!;
  const xhat = tf.mul(centered, tf.rsqrt(tf.add(variance, BN_EPSILON)));
  return tf.add(tf.mul(xhat, layer.gamma!), layer.beta!);
}

/**
 * One forward and backward pass in training mode (batch statistics, dropout):
 * returns the gradients of the mean binary cross-entropy and updates the
 * BatchNorm moving statistics.
 */
export function trainStep(mlp: Mlp, batch: InputBatch, options: StepOptions = {}): StepResult {
  if (mlp.residual) return residualTrainStep(mlp.residual, batch);
  const { layers, spec } = mlp;
  const batchSize = batch.labels.shape[1];
  const movingUpdates: [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D][] = [];
  const result = tf.tidy(() => {
    // Forward, keeping what the backward pass needs.
    const inputsT: tf.Tensor2D[][] = [[]]; // [l]: input of layer l, transposed (layer 0 reads batch.chunks)
    // Per hidden layer: its ReLU's output before dropout (where it is > 0 the ReLU let the gradient through),
    // BatchNorm's x̂ and 1/σ, the dropout mask.
    const saved: { relu?: tf.Tensor2D; xhat?: tf.Tensor2D; inv?: tf.Tensor2D; mask?: tf.Tensor2D }[] = [];
    let logits!: tf.Tensor2D;
    for (const [l, layer] of layers.entries()) {
      const z = l === 0 ? firstLayerProduct(layer, batch.chunks) : sumOfProducts(layer.weights, inputsT[l]);
      if (l === layers.length - 1) {
        logits = tf.add(z, layer.bias!);
        break;
      }
      let a: tf.Tensor2D;
      const entry: (typeof saved)[number] = {};
      if (layer.gamma) {
        const normalized = batchNormReluForward(z, layer.gamma, layer.beta!, BN_EPSILON);
        const { mean, variance } = normalized;
        a = normalized.a;
        Object.assign(entry, { relu: a, xhat: normalized.xhat, inv: normalized.inv });
        movingUpdates.push([
          layer.movingMean!,
          layer.movingVariance!,
          tf.keep(tf.add(tf.mul(layer.movingMean!, BN_MOMENTUM), tf.mul(mean, 1 - BN_MOMENTUM))),
          tf.keep(tf.add(tf.mul(layer.movingVariance!, BN_MOMENTUM), tf.mul(variance, 1 - BN_MOMENTUM))),
        ]);
      } else {
        a = tf.relu(tf.add(z, layer.bias!));
        entry.relu = a;
      }
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
    // Labels may be soft (label smoothing, MixUp): a prediction is right when it is on the label's side of 1/2.
    const correct = tf.sum(tf.cast(tf.equal(tf.greater(probabilities, 0.5), tf.greater(labels, 0.5)), "float32"));

    // Backward: per layer, the weight-chunk gradients and the bias or gamma/beta gradients.
    const weightGrads: tf.Tensor[][] = [], otherGrads: tf.Tensor[][] = layers.map(() => []);
    let dz = tf.div(tf.sub(probabilities, labels), batchSize) as tf.Tensor2D; // dL/dz of the output
    for (let l = layers.length - 1; l >= 0; l--) {
      const layer = layers[l];
      // dW = dZ · H: the batch's chunks [batch, chunk] as they come, or the activation kept transposed.
      weightGrads[l] = l === 0 ? batch.chunks.map((x) => product(dz, x)) : weightGradients(dz, inputsT[l]);
      if (layer.bias) otherGrads[l] = [tf.sum(dz, 1, true)];
      if (l === 0) break;
      // dH^T = W^T · dZ.
      let da = transposedProduct(layer.weights, dz);
      const below = saved[l - 1];
      if (below.mask) da = tf.mul(da, below.mask);
      const previous = layers[l - 1];
      if (previous.gamma) {
        const back = batchNormReluBackward(da, { a: below.relu!, xhat: below.xhat!, inv: below.inv! }, previous.gamma);
        otherGrads[l - 1] = [back.dGamma, back.dBeta];
        dz = back.dz;
      } else {
        // ReLU lets the gradient through where its output is positive.
        dz = tf.mul(da, tf.step(below.relu!)) as tf.Tensor2D;
      }
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
  if (mlp.residual) return residualPredict(mlp.residual, chunks);
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
        y = batchNormInference(z, layer, options.batchStatistics ?? false);
      } else {
        y = tf.add(z, layer.bias!);
      }
      inputT = rowChunks(tf.relu(y) as tf.Tensor2D, layer.outputSize);
    }
    return out;
  });
}
