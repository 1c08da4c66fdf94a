import assert from "node:assert/strict";
import { createKernelPool, nextShares, partition } from "./kernel_pool.ts";
import { productBands, runProduct } from "./gemm.ts";

Deno.test("partition cuts a job's items once, in whole steps, each thread's part as long as its share", () => {
  for (const [count, step] of [[2048, 6], [515, 4], [13, 4], [3, 4], [0, 1]]) {
    for (const shares of [[0.5, 0.5], [0.9, 0.1], [0.2, 0.3, 0.5]]) {
      const parts = partition(count, shares, shares.length, step);
      assert.equal(parts.length, shares.length);
      assert.equal(parts[0][0], 0);
      assert.equal(parts.at(-1)![1], count);
      for (const [t, [first, last]] of parts.entries()) {
        assert.ok(first <= last, `${count}/${step} ${shares}: part ${t} [${first}, ${last})`);
        if (t > 0) assert.equal(first, parts[t - 1][1], "each part starts where the last ended");
        if (last < count) assert.equal(last % step, 0, "parts end on whole steps (or at the end)");
        assert.ok(Math.abs(last - first - shares[t] * count) <= step, `${count}/${step} ${shares}: part ${t}`);
      }
    }
  }
  // Fewer parts than threads (a small job on part of the pool): equal parts.
  assert.deepEqual(partition(100, [0.9, 0.1], 1), [[0, 100]]);
  assert.deepEqual(partition(8, [0.5, 0.25, 0.25], 2, 2), [[0, 4], [4, 8]]);
});

Deno.test("each thread's share follows its measured speed, and a stalled thread keeps a band", () => {
  let shares = [0.5, 0.5];
  // The calling thread runs its rows 10% slower: its share settles where both take the same time.
  for (let i = 0; i < 60; i++) shares = nextShares(shares, [0.9, 1]);
  assert.ok(Math.abs(shares[0] - 0.9 / 1.9) < 1e-6, `${shares}`);
  assert.ok(Math.abs(shares[0] + shares[1] - 1) < 1e-12);
  // A helper stalled through many products still gets about an eighth of the rows, so it is timed again.
  for (let i = 0; i < 100; i++) shares = nextShares(shares, [1, 1e-6]);
  assert.ok(shares[1] > 0.1 && shares[1] < 0.13, `about an eighth: ${shares}`);
  const bands = productBands({
    layout: "nn",
    m: 2048,
    n: 128,
    k: 512,
    a: 0,
    lda: 512,
    b: 0,
    ldb: 128,
    c: 0,
    ldc: 128,
    accumulate: false,
  }, shares);
  assert.equal(bands.length, 2);
  // Back to speed, it wins its share back.
  for (let i = 0; i < 60; i++) shares = nextShares(shares, [1, 1]);
  assert.ok(Math.abs(shares[1] - 0.5) < 1e-3, `${shares}`);
  // Parts too quick to time leave the shares as they were.
  assert.deepEqual(nextShares([0.3, 0.7], [Infinity, 2]), [0.3, 0.7]);
});

Deno.test("a pool whose helpers have ended runs every product on the calling thread", async () => {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
  let top = memory.buffer.byteLength;
  const pool = await createKernelPool({ memory, malloc: (bytes) => (top -= bytes) }, { threads: 2 });
  pool.learnShares([1, 3]);
  pool.dispose();
  assert.equal(pool.threads, 1);
  assert.deepEqual(pool.shares, [1]);
  // Big enough to be split on two threads: A 128x64 at 0, B 64x64 after it, C after that, all ones.
  const [m, n, k] = [128, 64, 64];
  const floats = new Float32Array(memory.buffer, 0, m * k + k * n + m * n).fill(1);
  runProduct(pool, {
    layout: "nn",
    m,
    n,
    k,
    a: 0,
    lda: k,
    b: 4 * m * k,
    ldb: n,
    c: 4 * (m * k + k * n),
    ldc: n,
    accumulate: false,
  });
  assert.ok(floats.subarray(m * k + k * n).every((value) => value === k), "C = A·B on the calling thread");
});
