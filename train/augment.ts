/**
 * Training-time augmentation: each time a training record is drawn it may be
 * mirrored and shifted by a few pixels, so over the epochs the net sees many
 * variants of the same photo. Drawn afresh per record and epoch from a seed,
 * so runs (and resumed runs) repeat exactly. Validation and test records are
 * never augmented.
 * @module
 */
import { OptionError, seededRandom } from "../lib/mod.ts";

/** What augmentation a training batch gets. */
export interface AugmentOptions {
  /** Mirror each record left-right with probability 1/2. */
  flip: boolean;
  /** Shift each record by a whole number of pixels in -shift..shift along each axis (edges repeated). */
  shift: number;
}

/** No augmentation. */
export const NO_AUGMENT: AugmentOptions = { flip: false, shift: 0 };

/** True when `options` changes anything. */
export function augments(options: AugmentOptions): boolean {
  return options.flip || options.shift > 0;
}

/** One record's draw: mirrored or not, and its shift. */
export interface AugmentDraw {
  /** Mirror left-right. */
  flip: boolean;
  /** Columns moved right (negative: left). */
  dx: number;
  /** Rows moved down (negative: up). */
  dy: number;
}

/**
 * The draw for record `index` in the epoch seeded `seed`: a function of both
 * alone, so it does not depend on batch composition or order.
 */
export function drawAugmentation(options: AugmentOptions, seed: number, index: number): AugmentDraw {
  // Seeds of neighbouring records are spread apart by an odd multiplier (golden ratio) before mulberry32 mixes them.
  const next = seededRandom((seed >>> 0) ^ Math.imul(index + 1, 0x9e3779b1));
  next(); // the first output of nearby seeds is the least mixed
  const span = 2 * options.shift + 1;
  const flip = next() < 0.5;
  const dx = Math.floor(next() * span) - options.shift;
  const dy = Math.floor(next() * span) - options.shift;
  return { flip: options.flip && flip, dx: options.shift > 0 ? dx : 0, dy: options.shift > 0 ? dy : 0 };
}

/**
 * Applies `draw` to one `width`×`height` row-major record of `channels` values per pixel (gray 1, colour 3,
 * interleaved) in place (`scratch` holds a copy of it): mirrored first, then shifted. Pixels shifted in from
 * outside repeat the nearest edge pixel, so no artificial black border appears.
 */
export function applyAugmentation(
  record: Float32Array,
  width: number,
  height: number,
  draw: AugmentDraw,
  scratch: Float32Array,
  channels = 1,
): void {
  if (!draw.flip && draw.dx === 0 && draw.dy === 0) return;
  const rowLength = width * channels;
  scratch.set(record.subarray(0, rowLength * height));
  for (let y = 0; y < height; y++) {
    const sy = Math.min(height - 1, Math.max(0, y - draw.dy));
    const source = sy * rowLength, target = y * rowLength;
    for (let x = 0; x < width; x++) {
      let sx = Math.min(width - 1, Math.max(0, x - draw.dx));
      if (draw.flip) sx = width - 1 - sx;
      for (let c = 0; c < channels; c++) record[target + x * channels + c] = scratch[source + sx * channels + c];
    }
  }
}

/** Parses a `--augment` value such as `flip`, `shift:4` or `flip,shift:4`. */
export function parseAugment(text: string): AugmentOptions {
  const options: AugmentOptions = { ...NO_AUGMENT };
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p !== "" && p !== "none")) {
    const shift = /^shift:(\d+)$/.exec(part);
    if (part === "flip") options.flip = true;
    else if (shift) options.shift = Number(shift[1]);
    else {
      throw new OptionError(`{augment} takes "flip", "shift:N" or both ("flip,shift:4"), got "${part}" in "${text}"`);
    }
  }
  return options;
}

/** The `--augment` text that {@linkcode parseAugment} reads back as `options`. */
export function formatAugment(options: AugmentOptions): string {
  const parts = [...(options.flip ? ["flip"] : []), ...(options.shift > 0 ? [`shift:${options.shift}`] : [])];
  return parts.length ? parts.join(",") : "none";
}
