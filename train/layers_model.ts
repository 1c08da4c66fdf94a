/**
 * The trained net as a standard tfjs layers model, holding the net's weights, for saving with
 * model/model_files.ts: Dense -> [BatchNorm] -> ReLU ... -> Dense sigmoid (part1, part3, custom), or for the
 * residual MLP a functional model of Dense, LayerNormalization, Dense with gelu, Dense and Add layers.
 *
 * Training standardises each pixel before the net; the saved model takes the pixels as the
 * cache stores them instead, with the standardisation folded into its first layer, so that
 * stock TensorFlow.js anywhere gives the same answers with nothing else to apply:
 * W·((x - μ)·s) + b = (W·s)·x + (b - (W·s)·μ), with s = 1/σ per input.
 * @module
 */
import {
  BN_EPSILON,
  BN_MOMENTUM,
  type DenseLayer,
  emptyTensor,
  type LayerNormParameters,
  LN_EPSILON,
  type Mlp,
  type ResidualNet,
  tensorMemory,
  tf,
  transposeInto,
} from "../engine/mod.ts";
import type { Standardization } from "../model/mod.ts";

/** Options of {@linkcode toLayersModel}. */
export interface LayersModelOptions {
  /** The standardisation training applied before the net, to fold into its first layer. */
  standardization?: Standardization;
}

/**
 * Builds the equivalent tfjs layers model (Dense -> [BatchNorm] -> ReLU ... -> Dense sigmoid) holding `mlp`'s
 * weights, with `standardization` (when given) folded into the first layer.
 */
export function toLayersModel(mlp: Mlp, options: LayersModelOptions = {}): tf.LayersModel {
  if (mlp.residual) return toResidualLayersModel(mlp.residual, options);
  const { spec, layers } = mlp;
  const model = tf.sequential();
  // Weights are set layer by layer: a model's own weight list puts every
  // non-trainable weight (BatchNorm's moving statistics) after all trainable ones.
  const assignments: [tf.layers.Layer, tf.Tensor[]][] = [];
  for (const [l, layer] of layers.entries()) {
    const output = l === layers.length - 1;
    const dense = tf.layers.dense({
      units: layer.outputSize,
      kernelInitializer: "zeros",
      name: `dense_${l + 1}`,
      useBias: layer.bias !== undefined,
      activation: output ? "sigmoid" : "linear",
      ...(l === 0 ? { inputShape: [layer.inputSize] } : {}),
    });
    model.add(dense);
    const folded = l === 0 && options.standardization ? foldStandardization(layer, options.standardization) : null;
    // Our weight is [out, in] in column chunks; Keras's kernel is [in, out].
    const kernel = emptyTensor<tf.Rank.R2>([layer.inputSize, layer.outputSize]);
    writeKerasKernel(layer, tensorMemory(kernel), folded?.scale);
    const bias = layer.bias && tf.tidy(() => {
      const b = tf.reshape(layer.bias!, [layer.outputSize]);
      return folded ? tf.sub(b, tf.tensor1d(folded.shift)) : b;
    });
    assignments.push([dense, bias ? [kernel, bias] : [kernel]]);
    if (output) break;
    if (layer.gamma) {
      const norm = tf.layers.batchNormalization({
        axis: -1,
        epsilon: BN_EPSILON,
        momentum: BN_MOMENTUM,
        name: `batch_norm_${l + 1}`,
      });
      model.add(norm);
      const statistics = [layer.gamma, layer.beta!, layer.movingMean!, layer.movingVariance!].map((t) =>
        tf.reshape(t, [layer.outputSize])
      );
      // With BatchNorm after it, the first layer has no bias: its output is now z + (W·s)·μ, which the
      // moving mean takes up instead (z - m = (z + c) - (m + c)).
      if (folded && !layer.bias) {
        const movingMean = statistics[2];
        statistics[2] = tf.tidy(() => tf.add(movingMean, tf.tensor1d(folded.shift)));
        movingMean.dispose();
      }
      assignments.push([norm, statistics]);
    }
    model.add(tf.layers.activation({ activation: "relu", name: `relu_${l + 1}` }));
    if (spec.dropout > 0) model.add(tf.layers.dropout({ rate: spec.dropout, name: `dropout_${l + 1}` }));
  }
  for (const [layer, weights] of assignments) {
    layer.setWeights(weights);
    weights.forEach((w) => w.dispose());
  }
  return model;
}

/**
 * The residual MLP as a functional tfjs model: input -> Dense(width) -> per block Add([h, Dense(Dense_gelu(
 * LayerNormalization(h)))]) -> LayerNormalization -> Dense(1, sigmoid), with `standardization` (when given)
 * folded into the input layer (its bias takes the shift).
 */
function toResidualLayersModel(net: ResidualNet, options: LayersModelOptions): tf.LayersModel {
  const assignments: [tf.layers.Layer, tf.Tensor[]][] = [];
  const dense = (layer: DenseLayer, name: string, activation: "linear" | "gelu" | "sigmoid", folded?: Folding) => {
    const keras = tf.layers.dense({ units: layer.outputSize, kernelInitializer: "zeros", activation, name });
    const kernel = emptyTensor<tf.Rank.R2>([layer.inputSize, layer.outputSize]);
    writeKerasKernel(layer, tensorMemory(kernel), folded?.scale);
    const bias = tf.tidy(() => {
      const b = tf.reshape(layer.bias!, [layer.outputSize]);
      return folded ? tf.sub(b, tf.tensor1d(folded.shift)) : b;
    });
    assignments.push([keras, [kernel, bias]]);
    return keras;
  };
  const norm = (parameters: LayerNormParameters, name: string) => {
    const keras = tf.layers.layerNormalization({ axis: -1, epsilon: LN_EPSILON, name });
    assignments.push([keras, [parameters.gamma, parameters.beta].map((t) => tf.reshape(t, [net.shape.width]))]);
    return keras;
  };
  const folded = options.standardization ? foldStandardization(net.input, options.standardization) : undefined;
  const input = tf.input({ shape: [net.input.inputSize], name: "pixels" });
  let h = dense(net.input, "dense_in", "linear", folded).apply(input) as tf.SymbolicTensor;
  for (const [k, block] of net.blocks.entries()) {
    const name = `block_${k + 1}`;
    const normed = norm(block.norm, `${name}_norm`).apply(h) as tf.SymbolicTensor;
    const widened = dense(block.up, `${name}_up`, "gelu").apply(normed) as tf.SymbolicTensor;
    const narrowed = dense(block.down, `${name}_down`, "linear").apply(widened) as tf.SymbolicTensor;
    h = tf.layers.add({ name: `${name}_add` }).apply([h, narrowed]) as tf.SymbolicTensor;
  }
  const last = norm(net.finalNorm, "final_norm").apply(h) as tf.SymbolicTensor;
  const output = dense(net.output, "dense_out", "sigmoid").apply(last) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output, name: "resmlp" });
  for (const [layer, weights] of assignments) {
    layer.setWeights(weights);
    weights.forEach((w) => w.dispose());
  }
  return model;
}

/** The first layer's folding of the standardisation: a scale per input and a shift per unit. */
interface Folding {
  scale: Float32Array;
  shift: Float32Array;
}

/**
 * Writes the layer's weight as Keras keeps it, [in, out], into `kernel`, each input's column scaled by `scale`
 * when given, straight from the chunks' memory: tfjs' transpose of part3's first layer takes 0.5-0.6 s, this
 * about half of that.
 */
function writeKerasKernel(layer: DenseLayer, kernel: Float32Array, scale?: Float32Array): void {
  let first = 0; // the chunk's first input
  for (const chunk of layer.weights) {
    const width = chunk.shape[1];
    // The chunk [out, width] becomes rows [first, first + width) of the kernel.
    transposeInto(
      tensorMemory(chunk),
      layer.outputSize,
      width,
      kernel.subarray(first * layer.outputSize, (first + width) * layer.outputSize),
      scale?.subarray(first, first + width),
    );
    first += width;
  }
}

/**
 * The first layer's folding: the scale 1/σ per input, and the shift (W·s)·μ per unit, summed in float64
 * from the float32-rounded scaled weights (as {@linkcode writeKerasKernel} rounds them) so that the folded
 * layer's own algebra is exact.
 */
function foldStandardization(layer: DenseLayer, standardization: Standardization): Folding {
  const { mean, invStd } = standardization;
  if (mean.length !== layer.inputSize) {
    throw new RangeError(`Cannot fold ${mean.length}-value statistics into a layer of ${layer.inputSize} inputs`);
  }
  const shift = new Float64Array(layer.outputSize);
  let first = 0;
  for (const chunk of layer.weights) {
    const width = chunk.shape[1];
    const values = tensorMemory(chunk);
    for (let o = 0; o < layer.outputSize; o++) {
      let sum = shift[o];
      for (let j = 0; j < width; j++) sum += Math.fround(values[o * width + j] * invStd[first + j]) * mean[first + j];
      shift[o] = sum;
    }
    first += width;
  }
  return { scale: invStd, shift: Float32Array.from(shift) };
}
