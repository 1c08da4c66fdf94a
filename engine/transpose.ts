/**
 * The transpose of a 2-D tensor on the kernel pool's threads (transpose_source.ts); tfjs' transpose on the
 * cpu backend.
 * @module
 */
import { kernelPool, tensorPointer, tf, uninitializedTensor } from "./tf.ts";

/** Below this many values one thread transposes alone: handing part of it to a helper costs 2-5 µs. */
const SPLIT_THRESHOLD = 1 << 16;

/** xᵀ: [columns, rows] from x [rows, columns]. */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  const pool = kernelPool();
  if (!pool) return tf.transpose(x);
  if (x.dtype !== "float32") throw new TypeError("transpose2d() needs a float32 tensor");
  const [rows, columns] = x.shape;
  const out = uninitializedTensor<tf.Rank.R2>([columns, rows]);
  // Bands of whole blocks of four rows, one per thread, each as wide as its thread's share.
  const blocks = Math.ceil(rows / 4);
  const threads = x.size < SPLIT_THRESHOLD ? 1 : Math.min(pool.threads, blocks);
  const source = tensorPointer(x), target = tensorPointer(out);
  pool.run(
    "transpose",
    pool.partition(rows, threads, 4).map(([first, last]) => [source, rows, columns, target, first, last]),
  );
  return out;
}
