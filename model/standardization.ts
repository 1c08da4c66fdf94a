/**
 * Per-pixel standardisation, x' = (x - mean) / max(std, floor), with the training
 * split's statistics: the one definition training batches and inference inputs share.
 * @module
 */
import type { PixelScale } from "../pipeline/mod.ts";

/** Per-pixel standardisation: x' = (x - mean) · invStd. */
export interface Standardization {
  /** Per-pixel mean. */
  mean: Float32Array;
  /** Per-pixel 1/std (std floored so flat pixels do not blow up). */
  invStd: Float32Array;
}

/** Smallest standard deviation used on a unit-scale cache: 1/255, one gray level. */
export const STD_FLOOR_UNIT = 1 / 255;

/** The smallest std used in standardisation: one gray level, 1/255 on a unit-scale cache and 1 on a raw one. */
export function stdFloorFor(scale: PixelScale): number {
  return scale === "unit" ? STD_FLOOR_UNIT : 1;
}

/** Builds a standardisation from a split's `pixel-stats.f32` values (mean then std). */
export function standardizationFromStats(stats: Float32Array, recordSize: number, floor: number): Standardization {
  if (stats.length !== recordSize * 2) {
    throw new RangeError(
      `Cannot standardise ${recordSize}-value records: the pixel statistics hold ${stats.length} values, not ${
        recordSize * 2
      }`,
    );
  }
  const mean = stats.slice(0, recordSize);
  const invStd = new Float32Array(recordSize);
  for (let i = 0; i < recordSize; i++) invStd[i] = 1 / Math.max(stats[recordSize + i], floor);
  return { mean, invStd };
}

/** Standardises one record in place: x' = (x - mean) · invStd. Training and inference both use this. */
export function applyStandardization(record: Float32Array, standardization: Standardization): Float32Array {
  const { mean, invStd } = standardization;
  if (record.length !== mean.length) {
    throw new RangeError(`Cannot standardise a record of ${record.length} values with statistics of ${mean.length}`);
  }
  for (let i = 0; i < record.length; i++) record[i] = (record[i] - mean[i]) * invStd[i];
  return record;
}
