/**
 * A record mirrored left to right, gray or colour: the stored flips of `--store-flipped`, and the second look
 * of flip averaging in classify() and the page (which bundles this module: it imports nothing).
 * @module
 */

/** The record (size×size, `channels` values per pixel) mirrored left to right, whole pixels moved. */
export function mirrored(record: Float32Array, size: number, channels: 1 | 3 = 1): Float32Array {
  const out = new Float32Array(record.length);
  for (let y = 0; y < size; y++) {
    const row = y * size * channels;
    for (let x = 0; x < size; x++) {
      const to = row + x * channels, from = row + (size - 1 - x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = record[from + c];
    }
  }
  return out;
}
