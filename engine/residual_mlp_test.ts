import assert from "node:assert/strict";
import { initBackend, tensorMemory, tf } from "./tf.ts";
import { CHUNK_SIZE, chunkRanges } from "./layers.ts";
import { buildMlp, disposeMlp, type Mlp, parameters, predictProbabilities, trainStep } from "./mlp.ts";
import { LN_EPSILON, type ResidualNet } from "./residual_mlp.ts";

await initBackend("wasm");

/**
 * The residual net written the textbook way ([batch, features], x·Wᵀ, tfjs' own erf-GELU and moments),
 * differentiated by tfjs autodiff: the loss and the gradients in parameters() order.
 */
function reference(net: ResidualNet, all: tf.Tensor[], x: tf.Tensor2D, labels: number[]) {
  const f = (...values: tf.Tensor[]) => {
    let i = 0;
    const dense = (h: tf.Tensor2D, chunks: number) => {
      const w = tf.concat(values.slice(i, i + chunks) as tf.Tensor2D[], 1);
      i += chunks;
      return tf.add(tf.matMul(h, w, false, true), tf.transpose(values[i++])) as tf.Tensor2D;
    };
    const norm = (h: tf.Tensor2D) => {
      const [gamma, beta] = [tf.transpose(values[i++]), tf.transpose(values[i++])];
      const { mean, variance } = tf.moments(h, 1, true);
      return tf.add(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, LN_EPSILON))), gamma), beta) as tf.Tensor2D;
    };
    const gelu = (z: tf.Tensor2D) => tf.mul(z, tf.mul(0.5, tf.add(1, tf.erf(tf.div(z, Math.SQRT2))))) as tf.Tensor2D;
    let h = dense(x, net.input.weights.length);
    for (const block of net.blocks) {
      const u = norm(h);
      const a = gelu(dense(u, block.up.weights.length));
      h = tf.add(h, dense(a, block.down.weights.length));
    }
    const z = dense(norm(h), net.output.weights.length);
    const y = tf.tensor2d(labels, [labels.length, 1]);
    return tf.mean(tf.sub(tf.softplus(z), tf.mul(y, z))) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads(f)(all);
  return { loss: value.dataSync()[0], gradients: grads.map((g) => g.dataSync() as Float32Array) };
}

function inputBatch(x: tf.Tensor2D, y: number[]) {
  const chunks = chunkRanges(x.shape[1]).map(([a, b]) => tf.slice(x, [0, a], [x.shape[0], b - a]) as tf.Tensor2D);
  return { chunks, labels: tf.tensor2d(y, [1, y.length]) };
}

/** Moves every parameter off its initial value, so LayerNorm's γ and β and the biases are tested too. */
function perturb(mlp: Mlp, seed: number): void {
  for (const [i, p] of parameters(mlp).entries()) {
    const noise = tf.tidy(() => tf.randomNormal([p.tensor.size], 0, 0.2, "float32", seed + i).dataSync());
    const memory = tensorMemory(p.tensor);
    memory.forEach((v, k) => memory[k] = v + noise[k]);
  }
}

// Odd shapes: a two-chunk input, a width and expansion that fit no tile; on cpu, tfjs' matMul and ops.
const CASES = [
  { inputSize: CHUNK_SIZE + 300, width: 13, depth: 2, expansion: 3, backend: "wasm" },
  { inputSize: 37, width: 9, depth: 1, expansion: 4, backend: "wasm" },
  { inputSize: 37, width: 9, depth: 3, expansion: 2, backend: "cpu" },
] as const;

for (const c of CASES) {
  Deno.test(`residual trainStep() matches tfjs autodiff (in ${c.inputSize}, width ${c.width}, depth ${c.depth}, ${c.backend})`, async () => {
    await tf.setBackend(c.backend);
    try {
      const { inputSize, width, depth, expansion } = c;
      const mlp = buildMlp({
        inputSize,
        hidden: [],
        batchNorm: false,
        dropout: 0,
        residual: { width, depth, expansion },
      }, 5);
      perturb(mlp, 40);
      const x = tf.randomNormal([7, inputSize], 0, 1, "float32", 12) as tf.Tensor2D;
      // Soft labels, as label smoothing and MixUp make them.
      const y = [1, 0, 0.9, 0.05, 0.3, 1, 0.5];
      const expected = reference(mlp.residual!, parameters(mlp).map((p) => p.tensor), x, y);
      const before = tf.memory().numTensors;
      const batch = inputBatch(x, y);
      const step = trainStep(mlp, batch);
      assert.ok(Math.abs(step.loss - expected.loss) < 1e-5, `loss ${step.loss} vs ${expected.loss}`);
      assert.equal(step.gradients.length, expected.gradients.length);
      for (const [i, g] of step.gradients.entries()) {
        const ours = g.dataSync(), theirs = expected.gradients[i];
        assert.equal(ours.length, theirs.length, `gradient ${i}`);
        let worst = 0, scale = 1e-3;
        for (let k = 0; k < ours.length; k++) {
          worst = Math.max(worst, Math.abs(ours[k] - theirs[k]));
          scale = Math.max(scale, Math.abs(theirs[k]));
        }
        assert.ok(worst < 2e-5 * scale + 1e-6, `gradient ${i} (${parameters(mlp)[i].kind}): max difference ${worst}`);
      }
      step.gradients.forEach((g) => g.dispose());
      batch.chunks.forEach((chunk) => chunk.dispose());
      batch.labels.dispose();
      assert.equal(tf.memory().numTensors, before, "trainStep() leaked tensors");
      // Inference gives the same probabilities one sample at a time as in a batch (LayerNorm is per sample).
      const all = predictProbabilities(mlp, inputBatch(x, y).chunks).dataSync();
      const third = predictProbabilities(
        mlp,
        inputBatch(tf.slice(x, [2, 0], [1, inputSize]) as tf.Tensor2D, [0]).chunks,
      );
      assert.ok(Math.abs(third.dataSync()[0] - all[2]) < 1e-5);
      x.dispose();
      disposeMlp(mlp);
    } finally {
      await tf.setBackend("wasm");
    }
  });
}

Deno.test("a residual net's parameters: input, each block's LayerNorm and two layers, final LayerNorm, output", () => {
  const mlp = buildMlp({
    inputSize: 10,
    hidden: [],
    batchNorm: false,
    dropout: 0,
    residual: { width: 4, depth: 2, expansion: 2 },
  }, 1);
  const shapes = parameters(mlp).map((p) => `${p.kind}:${p.tensor.shape.join("x")}`);
  const block = ["gamma:4x1", "beta:4x1", "weight:8x4", "bias:8x1", "weight:4x8", "bias:4x1"];
  assert.deepEqual(shapes, [
    "weight:4x10",
    "bias:4x1",
    ...block,
    ...block,
    "gamma:4x1",
    "beta:4x1",
    "weight:1x4",
    "bias:1x1",
  ]);
  disposeMlp(mlp);
});
