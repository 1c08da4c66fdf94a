import assert from "node:assert/strict";
import { initBackend, kernelPool, tf } from "./tf.ts";
import { measureCeilings } from "./ceilings.ts";

await initBackend("wasm");

Deno.test("measureCeilings() measures multiply-adds and streaming reads on the kernel pool, and nothing on cpu", async () => {
  const ceilings = measureCeilings(1)!;
  assert.equal(ceilings.threads, kernelPool()!.threads);
  // Any machine that runs WASM SIMD does more than a GFLOP/s and reads more than a GB/s.
  for (const value of [ceilings.fma.oneThread, ceilings.fma.allThreads, ceilings.bandwidth.oneThread]) {
    assert.ok(Number.isFinite(value) && value > 1, JSON.stringify(ceilings));
  }
  await tf.setBackend("cpu");
  try {
    assert.equal(measureCeilings(1), null);
  } finally {
    await tf.setBackend("wasm");
  }
});
