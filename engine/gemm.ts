/**
 * Matrix products in tfjs-wasm's heap with the engine's own WebAssembly SIMD
 * kernels (gemm_source.ts), split over the kernel pool's threads.
 *
 * Why not tfjs' matMul: XNNPACK's kernels in tfjs 4.22 do not use relaxed SIMD's
 * fused multiply-add and re-pack their right operand; on the net's big products
 * they reach ~14 GFLOP/s per core, these ~35-45 (see docs/speed.md).
 * @module
 */
import { type KernelPool, partition } from "./kernel_pool.ts";
import { TILE_ROWS } from "./gemm_source.ts";

/** How the operands are stored: "nn" A [m×k], B [k×n]; "tn" A as [k×m]; "nt" B as [n×k] (dot products). */
export type Layout = "nn" | "tn" | "nt";

/** One product C[m×n] (+)= A·B over byte offsets in the heap; leading dimensions are in floats. */
export interface MatrixProduct {
  /** "nn": A [m×k] and B [k×n]; "tn": A stored transposed, [k×m]; "nt": B stored transposed, [n×k]. */
  layout: Layout;
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** The summed dimension. */
  k: number;
  /** Byte offset of A. */
  a: number;
  /** Floats between A's rows as stored. */
  lda: number;
  /** Byte offset of B, row-major [k×n] (nt: [n×k]). */
  b: number;
  /** Floats between B's rows. */
  ldb: number;
  /** Byte offset of C, row-major [m×n]. */
  c: number;
  /** Floats between C's rows. */
  ldc: number;
  /** Add the product to C instead of overwriting C. */
  accumulate: boolean;
}

/** Products smaller than this (multiply-adds) run on the calling thread alone: handing part of it to a helper costs 2-5 µs. */
const SPLIT_THRESHOLD = 1 << 19;

/** One product as {@linkcode logProducts} records it. */
export interface ProductRecord {
  /** How the operands were stored. */
  layout: Layout;
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** The summed dimension. */
  k: number;
  /** Wall-clock milliseconds, threads included. */
  ms: number;
}

let productLog: ProductRecord[] | null = null;

/**
 * Records every product run from now on into `log` (null: stop recording), for the bench's split of a
 * training step. Off by default: it costs two clock reads per product.
 */
export function logProducts(log: ProductRecord[] | null): void {
  productLog = log;
}

/** Computes one product on `pool`, split into bands of rows (or of columns when there are few rows). */
export function runProduct(pool: KernelPool, p: MatrixProduct): void {
  const start = productLog ? performance.now() : 0;
  // Bands as wide as each thread's share; each band's rows (or columns) per ms then teach the pool the shares.
  const parts = productBands(p, pool.shares);
  const ms = pool.run(`gemm_${p.layout}`, parts.map((band) => argumentsOf(band.product, pool.scratch[band.thread])));
  productLog?.push({ layout: p.layout, m: p.m, n: p.n, k: p.k, ms: performance.now() - start });
  pool.learnShares(parts.map((band, t) => band.size / ms[t]));
}

/** One thread's band of a product: the product it computes and how many rows or columns it has. */
export interface Band {
  /** The band as a product of its own (pointers moved to its first row or column). */
  product: MatrixProduct;
  /** The thread it is cut for (its scratch buffer's index). */
  thread: number;
  /** Its rows, or its columns when the product is cut into columns. */
  size: number;
}

/**
 * The product cut into one band per thread that gets work (`shares`: each thread's fraction, summing to 1),
 * rows in whole tiles; small products stay whole on the calling thread.
 */
export function productBands(p: MatrixProduct, shares: number[]): Band[] {
  const threads = shares.length;
  if (threads === 1 || p.m * p.n * p.k < SPLIT_THRESHOLD) return [{ product: p, thread: 0, size: p.m }];
  const out: Band[] = [];
  if (p.m >= TILE_ROWS * threads * 2) {
    // Bands of whole row tiles; A and C move down by the band's first row.
    const aStep = p.layout === "tn" ? 1 : p.lda;
    for (const [t, [first, last]] of partition(p.m, shares, threads, TILE_ROWS).entries()) {
      if (last <= first) continue;
      const product = { ...p, m: last - first, a: p.a + 4 * first * aStep, c: p.c + 4 * first * p.ldc };
      out.push({ product, thread: t, size: last - first });
    }
  } else {
    // Few rows (the output layer, part1's first): bands of columns, in multiples of 8; nt's columns are B's rows.
    const bStep = p.layout === "nt" ? p.ldb : 1;
    for (const [t, [first, last]] of partition(p.n, shares, threads, 8).entries()) {
      if (last <= first) continue;
      const product = { ...p, n: last - first, b: p.b + 4 * first * bStep, c: p.c + 4 * first };
      out.push({ product, thread: t, size: last - first });
    }
  }
  return out;
}

/** The kernel's 12 arguments for one band on the thread with scratch buffer `scratch`. */
function argumentsOf(p: MatrixProduct, scratch: number): number[] {
  // B's blocks go into panels of 8 columns (packPanels in gemm_source.ts) when there are enough rows of A to
  // repay the copy: 3-10% faster on one thread for the nets' products, up to 8% on part3's first layer.
  const pack = p.layout !== "nt" && p.m >= 4 * TILE_ROWS && p.n >= 8;
  return [p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.c, p.ldc, +p.accumulate, +pack, scratch];
}
