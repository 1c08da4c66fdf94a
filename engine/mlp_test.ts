import assert from "node:assert/strict";
import { initBackend, tf } from "./tf.ts";
import { CHUNK_SIZE, chunkRanges } from "./layers.ts";
import { buildMlp, disposeMlp, type Mlp, parameters, predictProbabilities, trainStep } from "./mlp.ts";

await initBackend("wasm");

function inputBatch(x: tf.Tensor2D, y: number[]) {
  const chunks = chunkRanges(x.shape[1]).map(([a, b]) => tf.slice(x, [0, a], [x.shape[0], b - a]) as tf.Tensor2D);
  return { chunks, labels: tf.tensor2d(y, [1, y.length]) };
}

/** The same net written the textbook way ([batch, features], x·Wᵀ), differentiated by tfjs autodiff. */
function referenceGradients(mlp: Mlp, x: tf.Tensor2D, y: number[]): { loss: number; gradients: Float32Array[] } {
  const params = parameters(mlp).map((p) => p.tensor);
  const f = (...values: tf.Tensor[]) => {
    let i = 0;
    let h: tf.Tensor2D = x;
    for (const [l, layer] of mlp.layers.entries()) {
      const chunks = values.slice(i, i + layer.weights.length) as tf.Tensor2D[];
      i += layer.weights.length;
      let z = tf.matMul(h, tf.concat(chunks, 1), false, true);
      if (layer.bias) {
        z = tf.add(z, tf.transpose(values[i++]));
      }
      if (l === mlp.layers.length - 1) {
        const labels = tf.tensor2d(y, [y.length, 1]);
        return tf.mean(tf.sub(tf.softplus(z), tf.mul(labels, z))) as tf.Scalar;
      }
      if (layer.gamma) {
        const [gamma, beta] = [tf.transpose(values[i++]), tf.transpose(values[i++])];
        const { mean, variance } = tf.moments(z, 0, true);
        z = tf.add(tf.mul(tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma), beta);
      }
      h = tf.relu(z) as tf.Tensor2D;
    }
    throw new Error("unreachable");
  };
  const { value, grads } = tf.valueAndGrads(f)(params);
  return { loss: value.dataSync()[0], gradients: grads.map((g) => g.dataSync() as Float32Array) };
}

// Narrow first layers (7 units) take the "nt" product, wide ones (40) the broadcast one; on cpu, tfjs' matMul.
const CASES = [
  [false, [7, 5], "wasm"],
  [true, [7, 5], "wasm"],
  [true, [40, 6], "wasm"],
  [false, [40], "wasm"],
  [true, [40, 6], "cpu"],
  [false, [7, 5], "cpu"],
] as const;
for (const [batchNorm, hidden, backend] of CASES) {
  Deno.test(`trainStep() matches tfjs autodiff on a chunked net (hidden ${hidden}, batchNorm ${batchNorm}, ${backend})`, async () => {
    await tf.setBackend(backend);
    try {
      const inputSize = CHUNK_SIZE + 300; // two chunks
      const mlp = buildMlp({ inputSize, hidden: [...hidden], batchNorm, dropout: 0 }, 3);
      const x = tf.randomNormal([6, inputSize], 0, 1, "float32", 11) as tf.Tensor2D;
      const y = [1, 0, 0, 1, 1, 0];
      const reference = referenceGradients(mlp, x, y);
      const before = tf.memory().numTensors;
      const batch = inputBatch(x, y);
      const step = trainStep(mlp, batch);
      assert.ok(Math.abs(step.loss - reference.loss) < 1e-5, `loss ${step.loss} vs ${reference.loss}`);
      assert.equal(step.gradients.length, reference.gradients.length);
      for (const [i, g] of step.gradients.entries()) {
        const ours = g.dataSync(), theirs = reference.gradients[i];
        assert.equal(ours.length, theirs.length);
        let worst = 0;
        for (let k = 0; k < ours.length; k++) worst = Math.max(worst, Math.abs(ours[k] - theirs[k]));
        assert.ok(worst < 1e-5, `gradient ${i}: max difference ${worst}`);
      }
      step.gradients.forEach((g) => g.dispose());
      batch.chunks.forEach((c) => c.dispose());
      batch.labels.dispose();
      assert.equal(tf.memory().numTensors, before, "trainStep() leaked tensors");
      x.dispose();
      disposeMlp(mlp);
    } finally {
      await tf.setBackend("wasm");
    }
  });
}

Deno.test("trainStep() moves the BatchNorm moving statistics towards the batch's", () => {
  const mlp = buildMlp({ inputSize: 10, hidden: [4], batchNorm: true, dropout: 0 }, 1);
  const x = tf.add(tf.randomNormal([32, 10], 0, 1, "float32", 2), 3) as tf.Tensor2D;
  const batch = inputBatch(x, Array.from({ length: 32 }, (_, i) => i % 2));
  const z = tf.matMul(mlp.layers[0].weights[0], tf.transpose(x));
  const batchMean = tf.mean(z, 1).dataSync();
  trainStep(mlp, batch).gradients.forEach((g) => g.dispose());
  const moving = mlp.layers[0].movingMean!.dataSync();
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(moving[i] - 0.1 * batchMean[i]) < 1e-5);
});

Deno.test("predictProbabilities() uses the moving statistics (inference mode) and returns P(1) per sample", () => {
  const mlp = buildMlp({ inputSize: 6, hidden: [3], batchNorm: true, dropout: 0.5 }, 4);
  const x = tf.randomNormal([5, 6], 0, 1, "float32", 9) as tf.Tensor2D;
  const p = predictProbabilities(mlp, [x]);
  assert.deepEqual(p.shape, [1, 5]);
  // One sample alone gets the same probability as inside a batch: no batch statistics, no dropout.
  const single = predictProbabilities(mlp, [tf.slice(x, [2, 0], [1, 6]) as tf.Tensor2D]).dataSync()[0];
  assert.ok(Math.abs(single - p.dataSync()[2]) < 1e-6);
});
