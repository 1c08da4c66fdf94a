import assert from "node:assert/strict";
import { initBackend, tf } from "../engine/mod.ts";
import { Optimizer, type OptimizerName } from "./optimizers.ts";

await initBackend("wasm");

/** tfjs's own optimizers as the reference (same formulas up to epsilon placement). */
const reference: Record<"adam" | "sgd" | "momentum" | "rmsprop", (lr: number) => tf.Optimizer> = {
  adam: (lr) => tf.train.adam(lr, 0.9, 0.999, 1e-8),
  sgd: (lr) => tf.train.sgd(lr),
  momentum: (lr) => tf.train.momentum(lr, 0.9),
  rmsprop: (lr) => tf.train.rmsprop(lr, 0.99, 0, 1e-8),
};

for (const name of ["adam", "sgd", "momentum", "rmsprop"] as const) {
  Deno.test(`Optimizer ${name} follows tfjs's ${name} over several steps`, () => {
    const start = [0.5, -1.5, 2, 0.1];
    const ours = tf.tensor1d(start);
    const theirs = tf.variable(tf.tensor1d(start));
    const optimizer = new Optimizer([{ tensor: ours, kind: "weight" }], { name });
    const tfOptimizer = reference[name](0.05);
    for (let step = 0; step < 5; step++) {
      // Loss sum(w^2 * c): gradient 2cw, the same function for both.
      const c = tf.tensor1d([1, 2, 3, 4]);
      const gradient = tf.mul(tf.mul(ours, c), 2);
      optimizer.apply([gradient], 0.05);
      tfOptimizer.minimize(() => tf.sum(tf.mul(tf.square(theirs), c)) as tf.Scalar);
      gradient.dispose();
      c.dispose();
    }
    const [a, b] = [ours.dataSync(), theirs.dataSync()];
    for (let k = 0; k < a.length; k++) assert.ok(Math.abs(a[k] - b[k]) < 1e-5, `${name}[${k}]: ${a[k]} vs ${b[k]}`);
  });
}

Deno.test("Optimizer applies L2 to weights only and restores its state", () => {
  const w = tf.tensor1d([1, 1]), bias = tf.tensor1d([1, 1]);
  const optimizer = new Optimizer([{ tensor: w, kind: "weight" }, { tensor: bias, kind: "bias" }], {
    name: "sgd",
    l2: 0.5,
  });
  const zero = tf.zeros([2]);
  optimizer.apply([zero, zero], 0.1);
  assert.deepEqual(Array.from(w.dataSync()), [0.949999988079071, 0.949999988079071]);
  assert.deepEqual(Array.from(bias.dataSync()), [1, 1]);
  const adam = new Optimizer([{ tensor: w, kind: "weight" }], { name: "adam" });
  adam.apply([tf.ones([2])], 0.1);
  const copy = new Optimizer([{ tensor: tf.tensor1d([0, 0]), kind: "weight" }], { name: "adam" });
  copy.restore(structuredClone(adam.state()));
  assert.equal(copy.step, 1);
  assert.deepEqual(copy.state().slots, adam.state().slots);
  assert.throws(() => new Optimizer([], { name: "adagrad" as OptimizerName }), /unknown optimizer "adagrad"/);
});

/** PyTorch's AdamW and Lion steps, written out in float64 from their documented algorithms. */
function referenceStep(
  name: "adamw" | "lion",
  w: number[],
  g: number[],
  state: number[][],
  lr: number,
  wd: number,
  t: number,
) {
  for (let k = 0; k < w.length; k++) {
    w[k] *= 1 - lr * wd;
    if (name === "adamw") {
      const [m, v] = state;
      m[k] = 0.9 * m[k] + 0.1 * g[k];
      v[k] = 0.999 * v[k] + 0.001 * g[k] * g[k];
      const mHat = m[k] / (1 - 0.9 ** t), vHat = v[k] / (1 - 0.999 ** t);
      w[k] -= lr * mHat / (Math.sqrt(vHat) + 1e-8);
    } else {
      const [m] = state;
      w[k] -= lr * Math.sign(0.9 * m[k] + 0.1 * g[k]);
      m[k] = 0.99 * m[k] + 0.01 * g[k];
    }
  }
}

for (const name of ["adamw", "lion"] as const) {
  Deno.test(`Optimizer ${name} follows PyTorch's ${name} with decoupled weight decay, weights only`, () => {
    // Six values: the SIMD kernel's groups of four and the rest done in JavaScript.
    const start = [0.5, -1.5, 2, 0.1, -0.3, 0.8];
    const weight = tf.tensor1d(start), bias = tf.tensor1d(start);
    const optimizer = new Optimizer([{ tensor: weight, kind: "weight" }, { tensor: bias, kind: "bias" }], {
      name,
      weightDecay: 0.1,
    });
    const expected = [...start], expectedBias = [...start];
    const state = [new Array(6).fill(0), new Array(6).fill(0)],
      biasState = [new Array(6).fill(0), new Array(6).fill(0)];
    for (let t = 1; t <= 5; t++) {
      const c = [1, 2, 3, 4, 5, 6];
      const g = Array.from(weight.dataSync(), (w, k) => 2 * c[k] * w),
        gb = Array.from(bias.dataSync(), (w, k) => 2 * c[k] * w);
      const lr = 0.05 * t;
      optimizer.apply([tf.tensor1d(g), tf.tensor1d(gb)], lr);
      referenceStep(name, expected, Array.from(g), state, lr, 0.1, t);
      referenceStep(name, expectedBias, Array.from(gb), biasState, lr, 0, t);
    }
    const [a, b] = [weight.dataSync(), bias.dataSync()];
    for (let k = 0; k < 6; k++) {
      assert.ok(Math.abs(a[k] - expected[k]) < 1e-5, `${name} weight[${k}]: ${a[k]} vs ${expected[k]}`);
      assert.ok(
        Math.abs(b[k] - expectedBias[k]) < 1e-5,
        `${name} bias[${k}] (no decay): ${b[k]} vs ${expectedBias[k]}`,
      );
    }
  });
}
