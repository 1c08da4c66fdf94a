/**
 * The residual MLP of Bachmann, Anagnostidis & Hofmann, "Scaling MLPs: A Tale of Inductive Bias" (2023): an
 * input layer to `width` features, `depth` inverted-bottleneck blocks
 * h ← h + W₂·GELU(W₁·LayerNorm(h) + b₁) + b₂ (W₁ widens by `expansion`), a final LayerNorm and a 1-unit
 * output layer, with its forward and backward passes written out on the engine's products.
 *
 * Activations are [features, batch], as in mlp.ts, so LayerNorm normalises each column (axis 0) and its
 * backward pass reduces over the features. GELU is the exact one, x·Φ(x) (tfjs-layers' `gelu`), so the saved
 * model is stock tfjs layers: Dense, LayerNormalization, Dense with gelu, Dense, Add.
 * @module
 */
import { tf } from "./tf.ts";
import { product, sumOfProducts, transposedProduct } from "./products.ts";
import {
  addBias,
  biasGelu,
  layerNormColumns,
  layerNormColumnsBackward,
  multiplyWithRowSums,
  residualAdd,
  rowSums,
} from "./column_ops.ts";
import { fillRandomNormalTensors, type RandomNormalFill } from "./random_normal.ts";
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
import { emptyTensor } from "./tf.ts";

/** LayerNorm epsilon (PyTorch's and tfjs-layers' default is 1e-5 and 1e-3; this is PyTorch's, saved with the model). */
export const LN_EPSILON = 1e-5;

/** The shape of a residual MLP. */
export interface ResidualShape {
  /** Features carried along the residual stream. */
  width: number;
  /** Residual blocks. */
  depth: number;
  /** Each block's hidden layer is `expansion`·`width` wide. */
  expansion: number;
}

/** A LayerNorm's scale and shift, each [features, 1]. */
export interface LayerNormParameters {
  gamma: tf.Tensor2D;
  beta: tf.Tensor2D;
}

/** One block: LayerNorm, the widening layer (GELU after it) and the narrowing one. */
export interface ResidualBlock {
  norm: LayerNormParameters;
  up: DenseLayer;
  down: DenseLayer;
}

/** The residual net's parameters. */
export interface ResidualNet {
  shape: ResidualShape;
  /** inputSize → width. */
  input: DenseLayer;
  blocks: ResidualBlock[];
  finalNorm: LayerNormParameters;
  /** width → 1 (the logit). */
  output: DenseLayer;
}

/**
 * Builds the net with seeded initialisation: every weight normal with std 1/√(3·fan_in) (the spread of
 * PyTorch's default uniform init for Linear), biases 0, LayerNorm at γ 1, β 0.
 */
export function buildResidualNet(inputSize: number, shape: ResidualShape, seed: number): ResidualNet {
  const fills: RandomNormalFill[] = [];
  let count = 0;
  const dense = (fanIn: number, fanOut: number): DenseLayer => {
    const std = Math.sqrt(1 / (3 * fanIn));
    const layer = count++;
    const weights = chunkRanges(fanIn).map(([a, b], c) => {
      const weight = tf.keep(emptyTensor<tf.Rank.R2>([fanOut, b - a]));
      fills.push({ target: weight, mean: 0, std, seed: seed * 7919 + layer * 1009 + c });
      return weight;
    });
    return { inputSize: fanIn, outputSize: fanOut, weights, bias: tf.keep(tf.zeros([fanOut, 1])) };
  };
  const norm = (): LayerNormParameters => ({
    gamma: tf.keep(tf.ones([shape.width, 1])),
    beta: tf.keep(tf.zeros([shape.width, 1])),
  });
  const hidden = shape.width * shape.expansion;
  const net: ResidualNet = {
    shape,
    input: dense(inputSize, shape.width),
    blocks: Array.from({ length: shape.depth }, () => ({
      norm: norm(),
      up: dense(shape.width, hidden),
      down: dense(hidden, shape.width),
    })),
    finalNorm: norm(),
    output: dense(shape.width, 1),
  };
  fillRandomNormalTensors(fills);
  return net;
}

/** The dense layers in order: input, each block's up and down, output. */
export function residualDenseLayers(net: ResidualNet): DenseLayer[] {
  return [net.input, ...net.blocks.flatMap((b) => [b.up, b.down]), net.output];
}

/** The trainable tensors in the order {@linkcode residualTrainStep} gives their gradients. */
export function residualParameters(net: ResidualNet): Parameter[] {
  const dense = (layer: DenseLayer): Parameter[] => [
    ...layer.weights.map((tensor) => ({ tensor, kind: "weight" as const })),
    { tensor: layer.bias!, kind: "bias" },
  ];
  const norm = (n: LayerNormParameters): Parameter[] => [
    { tensor: n.gamma, kind: "gamma" },
    { tensor: n.beta, kind: "beta" },
  ];
  return [
    ...dense(net.input),
    ...net.blocks.flatMap((b) => [...norm(b.norm), ...dense(b.up), ...dense(b.down)]),
    ...norm(net.finalNorm),
    ...dense(net.output),
  ];
}

/** W·x for a layer after the first, x [in, batch] (the bias is added by the caller's fused pass). */
function weighted(layer: DenseLayer, x: tf.Tensor2D): tf.Tensor2D {
  return sumOfProducts(layer.weights, rowChunks(x, layer.inputSize));
}

/**
 * The weight-chunk and bias gradients of a layer after the first, from dZ [out, batch] and its input x [in,
 * batch]; the bias's (dZ's row sums) given when a pass has already made it.
 */
function denseGradients(layer: DenseLayer, dz: tf.Tensor2D, x: tf.Tensor2D, biasGradient = rowSums(dz)): tf.Tensor[] {
  return [...weightGradients(dz, rowChunks(x, layer.inputSize)), biasGradient];
}

/** The logits [1, batch] and everything the backward pass needs. */
function forward(net: ResidualNet, chunks: tf.Tensor2D[]) {
  let h = addBias(firstLayerProduct(net.input, chunks), net.input.bias!);
  const blocks = net.blocks.map((block) => {
    const norm = layerNormColumns(h, block.norm.gamma, block.norm.beta, LN_EPSILON);
    const { a, derivative } = biasGelu(weighted(block.up, norm.y), block.up.bias!);
    h = residualAdd(h, weighted(block.down, a), block.down.bias!);
    return { norm, a, derivative };
  });
  const final = layerNormColumns(h, net.finalNorm.gamma, net.finalNorm.beta, LN_EPSILON);
  const logits = addBias(weighted(net.output, final.y), net.output.bias!);
  return { logits, blocks, final };
}

/**
 * One forward and backward pass: the gradients of the mean binary cross-entropy against the (possibly soft)
 * labels, in {@linkcode residualParameters} order.
 */
export function residualTrainStep(net: ResidualNet, batch: InputBatch): StepResult {
  const batchSize = batch.labels.shape[1];
  const result = tf.tidy(() => {
    const { logits, blocks, final } = forward(net, batch.chunks);
    const labels = batch.labels;
    const loss = tf.mean(tf.sub(tf.softplus(logits), tf.mul(labels, logits)));
    const probabilities = tf.sigmoid(logits);
    const correct = tf.sum(tf.cast(tf.equal(tf.greater(probabilities, 0.5), tf.greater(labels, 0.5)), "float32"));

    const dLogits = tf.div(tf.sub(probabilities, labels), batchSize) as tf.Tensor2D;
    const outputGrads = denseGradients(net.output, dLogits, final.y);
    const finalBack = layerNormColumnsBackward(
      transposedProduct(net.output.weights, dLogits),
      final,
      net.finalNorm.gamma,
    );
    let dh = finalBack.dh;
    const blockGrads: tf.Tensor[][] = [];
    for (let k = net.blocks.length - 1; k >= 0; k--) {
      const block = net.blocks[k], saved = blocks[k];
      // The residual branch receives dh as it is; the stream carries dh past it, plus what flows back through it.
      const downGrads = denseGradients(block.down, dh, saved.a);
      const dz1 = multiplyWithRowSums(transposedProduct(block.down.weights, dh), saved.derivative);
      const upGrads = denseGradients(block.up, dz1.product, saved.norm.y, dz1.sums);
      const normBack = layerNormColumnsBackward(
        transposedProduct(block.up.weights, dz1.product),
        saved.norm,
        block.norm.gamma,
        dh,
      );
      dh = normBack.dh;
      blockGrads[k] = [normBack.dGamma, normBack.dBeta, ...upGrads, ...downGrads];
    }
    const inputGrads = [...batch.chunks.map((x) => product(dh, x)), rowSums(dh)];
    const gradients = [
      ...inputGrads,
      ...blockGrads.flat(),
      finalBack.dGamma,
      finalBack.dBeta,
      ...outputGrads,
    ];
    return { gradients, loss, correct };
  });
  const loss = result.loss.dataSync()[0];
  const correct = result.correct.dataSync()[0];
  result.loss.dispose();
  result.correct.dispose();
  return { gradients: result.gradients, loss, correct };
}

/** P(label 1) for each sample, [1, batch]. */
export function residualPredict(net: ResidualNet, chunks: tf.Tensor2D[]): tf.Tensor2D {
  return tf.tidy(() => tf.sigmoid(forward(net, chunks).logits));
}
