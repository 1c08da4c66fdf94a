/**
 * Training-time augmentation: each time a training record is drawn it may be
 * cropped (a random resized crop), mirrored and shifted by a few pixels (a
 * pad-and-crop with the edges repeated), so over the epochs the net sees many
 * variants of the same photo. Drawn afresh per record and epoch from a seed,
 * so runs (and resumed runs) repeat exactly. Validation and test records are
 * never augmented. MixUp and label smoothing, which act on a batch and its
 * labels, are in batches.ts.
 * @module
 */
import { OptionError, seededRandom } from "../lib/mod.ts";

/** What augmentation a training batch gets. */
export interface AugmentOptions {
  /** Mirror each record left-right with probability 1/2. */
  flip: boolean;
  /**
   * Shift each record by a whole number of pixels in -shift..shift along each axis (edges repeated): a
   * pad-and-crop (torchvision's RandomCrop with padding `shift`, padded by repeating the edge).
   */
  shift: number;
  /**
   * Random resized crop (torchvision's RandomResizedCrop on the stored record): a region of `crop`..1 of the
   * area, aspect ratio 3/4..4/3, resized back to the record's size bilinearly. 0 or absent: none.
   */
  crop?: number;
}

/** No augmentation. */
export const NO_AUGMENT: AugmentOptions = { flip: false, shift: 0 };

/** True when `options` changes anything. */
export function augments(options: AugmentOptions): boolean {
  return options.flip || options.shift > 0 || (options.crop ?? 0) > 0;
}

/** One record's draw: its crop, mirrored or not, and its shift. */
export interface AugmentDraw {
  /** Mirror left-right. */
  flip: boolean;
  /** Columns moved right (negative: left). */
  dx: number;
  /** Rows moved down (negative: up). */
  dy: number;
  /** The region resized back to the whole record, as fractions of its width and height; absent: the whole. */
  crop?: { x: number; y: number; width: number; height: number };
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
  const draw: AugmentDraw = {
    flip: options.flip && flip,
    dx: options.shift > 0 ? dx : 0,
    dy: options.shift > 0 ? dy : 0,
  };
  // Drawn after the others, so flips and shifts come out as they did before crops existed.
  if ((options.crop ?? 0) > 0) draw.crop = drawCrop(next, options.crop!);
  return draw;
}

/** A crop of `minArea`..1 of the area with aspect ratio 3/4..4/3 (log-uniform), placed uniformly. */
function drawCrop(next: () => number, minArea: number): NonNullable<AugmentDraw["crop"]> {
  const area = minArea + (1 - minArea) * next();
  const ratio = Math.exp(Math.log(3 / 4) + (Math.log(4 / 3) - Math.log(3 / 4)) * next());
  const width = Math.min(1, Math.sqrt(area * ratio)), height = Math.min(1, Math.sqrt(area / ratio));
  return { x: (1 - width) * next(), y: (1 - height) * next(), width, height };
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
  if (draw.crop) resizedCrop(record, width, height, channels, draw.crop, scratch);
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

/**
 * Replaces the record by the bilinear resize of its region `crop` to the whole record (pixel centres aligned,
 * as torchvision's resize of a crop), every channel alike; `scratch` is overwritten.
 */
function resizedCrop(
  record: Float32Array,
  width: number,
  height: number,
  channels: number,
  crop: NonNullable<AugmentDraw["crop"]>,
  scratch: Float32Array,
): void {
  const rowLength = width * channels;
  scratch.set(record.subarray(0, rowLength * height));
  const scaleX = crop.width, scaleY = crop.height, x0 = crop.x * width, y0 = crop.y * height;
  for (let y = 0; y < height; y++) {
    const sy = Math.min(height - 1, Math.max(0, y0 + (y + 0.5) * scaleY - 0.5));
    const top = Math.floor(sy), bottom = Math.min(height - 1, top + 1), fy = sy - top;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(width - 1, Math.max(0, x0 + (x + 0.5) * scaleX - 0.5));
      const left = Math.floor(sx), right = Math.min(width - 1, left + 1), fx = sx - left;
      for (let c = 0; c < channels; c++) {
        const at = (row: number, column: number) => scratch[row * rowLength + column * channels + c];
        const upper = at(top, left) + fx * (at(top, right) - at(top, left));
        const lower = at(bottom, left) + fx * (at(bottom, right) - at(bottom, left));
        record[y * rowLength + x * channels + c] = upper + fy * (lower - upper);
      }
    }
  }
}

/** Parses a `--augment` value such as `flip`, `shift:4`, `crop:0.35` or `flip,shift:4`. */
export function parseAugment(text: string): AugmentOptions {
  const options: AugmentOptions = { ...NO_AUGMENT };
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p !== "" && p !== "none")) {
    const shift = /^shift:(\d+)$/.exec(part);
    const crop = /^crop:(0?\.\d+|1(\.0*)?)$/.exec(part);
    if (part === "flip") options.flip = true;
    else if (shift) options.shift = Number(shift[1]);
    else if (crop && Number(crop[1]) > 0) options.crop = Number(crop[1]);
    else {
      throw new OptionError(
        `{augment} takes "flip", "shift:N" (pixels) and "crop:S" (smallest area kept, 0 < S <= 1), e.g. ` +
          `"flip,shift:4" or "flip,crop:0.35"; got "${part}" in "${text}"`,
      );
    }
  }
  return options;
}

/** The `--augment` text that {@linkcode parseAugment} reads back as `options`. */
export function formatAugment(options: AugmentOptions): string {
  const parts = [
    ...(options.flip ? ["flip"] : []),
    ...(options.shift > 0 ? [`shift:${options.shift}`] : []),
    ...((options.crop ?? 0) > 0 ? [`crop:${options.crop}`] : []),
  ];
  return parts.length ? parts.join(",") : "none";
}
