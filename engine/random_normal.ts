/**
 * tfjs' seeded `randomNormal`, value for value, written as one tight loop.
 *
 * Initialising part3 draws 61 M normal values; `tf.randomNormal` spends ~27 ns on
 * each (a method call per value, then a copy into the backend), 1.6 s in all before
 * the first batch. This is the same algorithm — seedrandom's Alea generator seeded
 * with the seed's decimal text, Marsaglia's polar method, in the same float64
 * operations in the same order — with the generator's state in local variables,
 * writing straight into the tensor's memory, and the kernel pool's threads fill
 * several tensors at once. The values are bit-identical (tested), so fixed-seed
 * runs are unchanged.
 * @module
 */
import { kernelPool, tensorMemory, tensorPointer, type tf } from "./tf.ts";

/** One tensor to fill with {@linkcode fillRandomNormal}. */
export interface RandomNormalFill {
  /** A float32 tensor, overwritten. */
  target: tf.Tensor;
  /** Mean. */
  mean: number;
  /** Standard deviation. */
  std: number;
  /** Seed, as tf.randomNormal's. */
  seed: number;
}

/** Fills each target tensor, several at once on the kernel pool's threads when there is one. */
export function fillRandomNormalTensors(fills: RandomNormalFill[]): void {
  const pool = kernelPool();
  if (!pool || pool.threads === 1) {
    for (const f of fills) fillRandomNormal(tensorMemory(f.target), f.mean, f.std, f.seed);
    return;
  }
  // Biggest first, one per thread at a time.
  const queue = [...fills].sort((a, b) => b.target.size - a.target.size);
  for (let i = 0; i < queue.length; i += pool.threads) {
    const round = queue.slice(i, i + pool.threads);
    pool.run("random_normal", round.map((f) => [tensorPointer(f.target), f.target.size, f.mean, f.std, f.seed]));
  }
}

/**
 * Fills `out` with normal values of `mean` and `std`, exactly as `tf.randomNormal(shape, mean, std,
 * "float32", seed)` would for a non-zero seed (tfjs takes a seed of 0 as "no seed"; here it is a seed).
 * Self-contained (the kernel pool's threads run it from its source text).
 */
export function fillRandomNormal(out: Float32Array, mean: number, std: number, seed: number): void {
  const TWO_TO_MINUS_32 = 2.3283064365386963e-10;
  // Alea's seeding: seedrandom's Mash hash of " " three times, each less the hash of the seed's text.
  let n = 0xefc8249d;
  const mash = (data: string) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000;
    }
    return (n >>> 0) * TWO_TO_MINUS_32;
  };
  const text = String(seed);
  let s0 = mash(" "), s1 = mash(" "), s2 = mash(" "), c = 1;
  s0 -= mash(text);
  if (s0 < 0) s0 += 1;
  s1 -= mash(text);
  if (s1 < 0) s1 += 1;
  s2 -= mash(text);
  if (s2 < 0) s2 += 1;
  // Marsaglia's polar method, as tfjs' MPRandGauss, on two draws of Alea per try.
  const count = out.length;
  let i = 0;
  while (i < count) {
    let v1: number, v2: number, s: number;
    do {
      // One draw of Alea: t = 2091639·s0 + c·2⁻³², carry c = ⌊t⌋, next = t − c.
      let t = 2091639 * s0 + c * TWO_TO_MINUS_32;
      s0 = s1;
      s1 = s2;
      c = t | 0;
      s2 = t - c;
      v1 = 2 * s2 - 1;
      t = 2091639 * s0 + c * TWO_TO_MINUS_32;
      s0 = s1;
      s1 = s2;
      c = t | 0;
      s2 = t - c;
      v2 = 2 * s2 - 1;
      s = v1 * v1 + v2 * v2;
    } while (s >= 1 || s === 0);
    const mul = Math.sqrt(-2.0 * Math.log(s) / s);
    out[i++] = mean + std * v1 * mul;
    if (i < count) out[i++] = mean + std * v2 * mul;
  }
}
