/**
 * The trained net as a standard tfjs layers model: Dense -> [BatchNorm] -> ReLU ... ->
 * Dense sigmoid, holding the net's weights, for saving with model/model_files.ts.
 * @module
 */
import { tf } from "../engine/mod.ts";
import { BN_EPSILON, BN_MOMENTUM, type Mlp } from "./mlp.ts";

/** Builds the equivalent tfjs layers model (Dense -> [BatchNorm] -> ReLU ... -> Dense sigmoid) holding `mlp`'s weights. */
export function toLayersModel(mlp: Mlp): tf.LayersModel {
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
    // Our weight is [out, in] in column chunks; Keras's kernel is [in, out].
    const kernel = tf.tidy(() =>
      tf.transpose(layer.weights.length === 1 ? layer.weights[0] : tf.concat(layer.weights, 1))
    );
    assignments.push([dense, layer.bias ? [kernel, tf.reshape(layer.bias, [layer.outputSize])] : [kernel]]);
    if (output) break;
    if (layer.gamma) {
      const norm = tf.layers.batchNormalization({
        axis: -1,
        epsilon: BN_EPSILON,
        momentum: BN_MOMENTUM,
        name: `batch_norm_${l + 1}`,
      });
      model.add(norm);
      assignments.push([
        norm,
        [layer.gamma, layer.beta!, layer.movingMean!, layer.movingVariance!].map((t) =>
          tf.reshape(t, [layer.outputSize])
        ),
      ]);
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
