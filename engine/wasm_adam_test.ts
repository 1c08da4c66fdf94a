import assert from "node:assert/strict";
import { initBackend, kernelPool, tf, tfjsHeap } from "./tf.ts";
import { adamKernel } from "./wasm_adam.ts";
import { Optimizer } from "../train/mod.ts";

// Two threads, so that the update of a big tensor is split.
await initBackend("wasm", { threads: 2 });

Deno.test("the SIMD Adam kernel computes the Adam(W) update in the tfjs heap, four floats at a time", () => {
  const heap = tfjsHeap();
  assert.ok(heap, "the wasm backend exposes its heap");
  const n = 100_001; // the kernel does 100,000 (in two ranges, one per thread); the last float is left to the caller
  const [w, g, m, v] = [0, 1, 2, 3].map(() => heap.malloc(n * 4));
  const view = (pointer: number) => new Float32Array(heap.memory.buffer, pointer, n);
  for (let k = 0; k < n; k++) {
    view(w)[k] = Math.sin(k);
    view(g)[k] = Math.cos(3 * k);
    view(m)[k] = 0.01 * Math.sin(7 * k);
    view(v)[k] = 0.001 * (1 + Math.cos(k));
  }
  const before = [w, g, m, v].map((p) => view(p).slice());
  const [beta1, beta2, decay, scale, epsilon, keep] = [0.9, 0.999, 0.01, 0.001, 1e-8, 0.99];
  adamKernel(kernelPool()!)({ weights: w, gradients: g, m, v, count: n, beta1, beta2, decay, scale, epsilon, keep });
  for (let k = 0; k < n - 1; k++) {
    const kept = Math.fround(before[0][k] * keep);
    const grad = before[1][k] + decay * kept;
    const mk = beta1 * before[2][k] + (1 - beta1) * grad;
    const vk = beta2 * before[3][k] + (1 - beta2) * grad * grad;
    assert.ok(Math.abs(view(m)[k] - mk) < 1e-7, `m[${k}]`);
    assert.ok(Math.abs(view(v)[k] - vk) < 1e-7, `v[${k}]`);
    assert.ok(Math.abs(view(w)[k] - (kept - scale * mk / (Math.sqrt(vk) + epsilon))) < 1e-6, `w[${k}]`);
  }
  assert.equal(view(w)[n - 1], before[0][n - 1]);
  [w, g, m, v].forEach(heap.free);
});

Deno.test("Adam gives the same weights with the SIMD kernel (wasm) and the JavaScript loop (cpu)", async () => {
  const run = () => {
    const w = tf.tensor1d(Array.from({ length: 103 }, (_, k) => Math.sin(k)));
    const optimizer = new Optimizer([{ tensor: w, kind: "weight" }], { name: "adam", l2: 0.01 });
    for (let step = 0; step < 4; step++) {
      const gradient = tf.mul(w, tf.linspace(-1, 2, 103));
      optimizer.apply([gradient], 0.01);
      gradient.dispose();
    }
    const [values, moments] = [w.dataSync().slice(), optimizer.state().slots.map((s) => s[0].slice())];
    optimizer.dispose();
    w.dispose();
    return { values, moments };
  };
  const simd = run();
  await tf.setBackend("cpu");
  const plain = run();
  await tf.setBackend("wasm");
  for (let k = 0; k < 103; k++) {
    assert.ok(Math.abs(simd.values[k] - plain.values[k]) < 1e-6, `w[${k}]: ${simd.values[k]} vs ${plain.values[k]}`);
    assert.ok(Math.abs(simd.moments[1][k] - plain.moments[1][k]) < 1e-7, `v[${k}]`);
  }
});
