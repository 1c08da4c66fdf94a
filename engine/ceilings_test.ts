import assert from "node:assert/strict";
import { initBackend, kernelPool, tf } from "./tf.ts";
import { measureCeilings } from "./ceilings.ts";

await initBackend("wasm");

Deno.test("measureCeilings() measures multiply-adds, the product kernel in cache, streaming reads and in-place updates on the kernel pool, and nothing on cpu", async () => {
  const ceilings = measureCeilings(1)!;
  assert.equal(ceilings.threads, kernelPool()!.threads);
  // Any machine that runs WASM SIMD does more than a GFLOP/s and reads more than a GB/s.
  const { fma, product, bandwidth, update } = ceilings;
  for (
    const value of [
      fma.oneThread,
      fma.allThreads,
      product.oneThread,
      product.allThreads,
      bandwidth.oneThread,
      update.oneThread,
      update.allThreads,
    ]
  ) {
    assert.ok(Number.isFinite(value) && value > 1, JSON.stringify(ceilings));
  }
  await tf.setBackend("cpu");
  try {
    assert.equal(measureCeilings(1), null);
  } finally {
    await tf.setBackend("wasm");
  }
});
