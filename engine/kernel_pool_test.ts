import assert from "node:assert/strict";
import { nextShares, partition } from "./kernel_pool.ts";
import { productBands } from "./gemm.ts";

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
