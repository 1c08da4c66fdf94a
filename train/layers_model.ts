/**
 * The trained net as a standard tfjs layers model: Dense -> [BatchNorm] -> ReLU ... ->
 * Dense sigmoid, holding the net's weights, for saving with model/model_files.ts.
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
  type Mlp,
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
function foldStandardization(layer: DenseLayer, standardization: Standardization): {
  scale: Float32Array;
  shift: Float32Array;
} {
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
