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
import { fillRandomNormal } from "./random_normal_source.ts";

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
