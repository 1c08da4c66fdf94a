import assert from "node:assert/strict";
import { type Layout, type MatrixProduct, productBands, runProduct } from "./gemm.ts";
import { createKernelPool, kernelModuleSource, type KernelPool } from "./kernel_pool.ts";
import { initBackend, tf } from "./tf.ts";
import { seededRandom } from "../lib/mod.ts";

await initBackend("cpu");

// Shapes off every block size: rows not a multiple of 6 (1-5 left), columns leaving 1-7 over after the 8s,
// k crossing the 256 block, n crossing the 512 block, single rows and columns.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [5, 3, 2],
  [7, 13, 9],
  [13, 5, 300],
  [6, 8, 4],
  [17, 33, 530],
  [1, 1030, 70],
  [64, 7, 513],
  [31, 529, 64],
  [30, 1030, 300], // B rows 4 KiB apart: packed
  [2, 9, 17], // every height of the last row tile: 2, 3 (9 = 6 + 3), 4 (64 = 60 + 4), 5, 1
  [9, 13, 40],
  [8, 20, 30],
  [197, 20, 300], // tn: two whole blocks of rows packed, then 5 rows (a partial tile) in a third
];

/** A heap whose allocations come from its top pages (the tests' matrices start at its bottom). */
function topOf(memory: WebAssembly.Memory) {
  let top = memory.buffer.byteLength;
  return { memory, malloc: (bytes: number) => (top -= bytes) };
}

/** Heap, bump allocator and reference product for one gemm instance. */
function setUp(pool: KernelPool, memory: WebAssembly.Memory) {
  const random = seededRandom(7);
  let top = 64;
  const matrix = (rows: number, columns: number) => {
    const pointer = top;
    top += 4 * rows * columns + 4; // a gap, so that a write past the end would show in the next matrix
    const values = new Float32Array(memory.buffer, pointer, rows * columns);
    for (let i = 0; i < values.length; i++) values[i] = random() * 2 - 1;
    return { pointer, values };
  };
  const check = (layout: Layout, m: number, n: number, k: number, accumulate: boolean) => {
    top = 64;
    const a = layout === "tn" ? matrix(k, m) : matrix(m, k);
    // B's rows are padded to a multiple of 1 KiB when n is (1030 -> 1024 + 1024 floats apart) to exercise packing;
    // nt's B is [n×k], its rows padded by 3 floats (reads must stop at k).
    const ldb = layout === "nt" ? k + 3 : n > 1024 ? 2048 : n;
    const b = layout === "nt" ? matrix(n, ldb) : matrix(k, ldb);
    const c = matrix(m, n);
    const guard = matrix(1, 1);
    const guardValue = guard.values[0];
    const expected = tf.tidy(() => {
      const aTensor = layout === "tn"
        ? tf.transpose(tf.tensor2d(a.values.slice(), [k, m]))
        : tf.tensor2d(a.values.slice(), [m, k]);
      const bTensor = layout === "nt"
        ? tf.transpose(tf.slice(tf.tensor2d(b.values.slice(), [n, ldb]), [0, 0], [n, k]))
        : tf.slice(tf.tensor2d(b.values.slice(), [k, ldb]), [0, 0], [k, n]);
      const sum = tf.matMul(aTensor, bTensor);
      return (accumulate ? tf.add(sum, tf.tensor2d(c.values.slice(), [m, n])) : sum).dataSync();
    });
    runProduct(pool, {
      layout,
      m,
      n,
      k,
      a: a.pointer,
      lda: layout === "tn" ? m : k,
      b: b.pointer,
      ldb,
      c: c.pointer,
      ldc: n,
      accumulate,
    });
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - c.values[i]));
    assert.ok(worst <= 1e-5 * Math.sqrt(k), `${layout} ${m}x${n}x${k} accumulate=${accumulate}: off by ${worst}`);
    assert.equal(guard.values[0], guardValue, `${layout} ${m}x${n}x${k} wrote past the end of C`);
  };
  return check;
}

for (const threads of [1, 2]) {
  Deno.test(`the engine's matrix products agree with tfjs' matMul on odd shapes, all three layouts (${threads} thread(s))`, async () => {
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    const pool = await createKernelPool(topOf(memory), { threads });
    try {
      assert.equal(pool.threads, threads);
      const check = setUp(pool, memory);
      for (const [m, n, k] of SHAPES) {
        for (const layout of ["nn", "tn", "nt"] as const) {
          for (const accumulate of [false, true]) check(layout, m, n, k, accumulate);
        }
      }
      // Big enough to be split over the threads, by rows and (one row) by columns.
      check("nn", 100, 64, 200, false);
      check("tn", 100, 64, 200, true);
      check("nn", 1, 2000, 300, false);
      check("nt", 100, 64, 1100, true); // k past the nt block of 512
      check("nt", 5, 64, 2000, false); // few rows: split by B's rows
    } finally {
      pool.dispose();
    }
  });
}

Deno.test("the products are the same with and without fused multiply-add, to float rounding", async () => {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536 });
  const pool = await createKernelPool(topOf(memory), { noFusedMultiplyAdd: true });
  assert.equal(pool.fusedMultiplyAdd, false);
  const check = setUp(pool, memory);
  check("nn", 17, 33, 530, true);
  check("tn", 17, 33, 530, false);
  check("nt", 17, 33, 530, true);
});

Deno.test("the kernel text is plain WAT with no fused multiply-add when told so", () => {
  const fused = kernelModuleSource({ fusedMultiplyAdd: true, sharedMemory: false });
  const plain = kernelModuleSource({ fusedMultiplyAdd: false, sharedMemory: true });
  assert.match(fused, /f32x4\.relaxed_madd/);
  assert.doesNotMatch(plain, /relaxed/);
  assert.match(plain, /memory 1 65536 shared/);
});

Deno.test("a product's bands cover its rows (or columns) once, in whole tiles, whatever each thread's share", () => {
  const base = { layout: "nn" as const, a: 0, lda: 600, b: 0, ldb: 600, c: 0, ldc: 600, accumulate: false };
  const cases: [MatrixProduct, "m" | "n"][] = [
    [{ ...base, m: 2048, n: 128, k: 512 }, "m"],
    [{ ...base, layout: "tn", m: 515, n: 64, k: 300 }, "m"],
    [{ ...base, m: 5, n: 1030, k: 600 }, "n"], // few rows: bands of columns
  ];
  for (const [product, along] of cases) {
    for (const shares of [[0.5, 0.5], [0.9, 0.1], [0.02, 0.98], [0.3, 0.3, 0.4]]) {
      const bands = productBands(product, shares);
      assert.equal(bands.length, shares.length, `${shares}: every thread gets a band of ${product.m}x${product.n}`);
      let next = 0;
      for (const band of bands) {
        const size = along === "m" ? band.product.m : band.product.n;
        // Each band starts where the last ended: its pointer into C moved by exactly the rows/columns before it.
        const offset = along === "m" ? next * product.ldc : next;
        assert.equal(band.product.c, product.c + 4 * offset);
        assert.equal(band.size, size);
        if (band !== bands.at(-1)) assert.equal(size % (along === "m" ? 6 : 8), 0, "bands end on whole tiles");
        next += size;
      }
      assert.equal(next, along === "m" ? product.m : product.n);
      const expected = shares[0] * (along === "m" ? product.m : product.n);
      const first = along === "m" ? bands[0].product.m : bands[0].product.n;
      assert.ok(
        Math.abs(first - expected) <= 8,
        `${shares}: the first band (${first}) is about its share (${expected})`,
      );
    }
  }
  const small = productBands({ ...base, m: 10, n: 10, k: 10 }, [0.5, 0.5]);
  assert.deepEqual(small.map((band) => band.size), [10], "a small product stays whole");
});
