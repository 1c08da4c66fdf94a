/**
 * OpenCV's 8-bit colour-to-gray conversion and its INTER_LINEAR and INTER_AREA resizes, in JavaScript,
 * for gray and for colour records.
 *
 * `cv2.resize(cv2.cvtColor(img, COLOR_BGR2GRAY), (size, size), interpolation=...)` (gray) and
 * `cv2.resize(cv2.cvtColor(img, COLOR_BGR2RGB), (size, size), interpolation=...)` (colour) are what a
 * PyTorch or Keras user of the course would write; this repeats them with OpenCV's own arithmetic (fixed
 * point for INTER_LINEAR, float32 for INTER_AREA), so the values match OpenCV to the level (see
 * opencv_resize_test.ts). A colour record is interleaved R, G, B per pixel, row by row (HWC).
 *
 * Self-contained (no imports): the page bundles it for the browser. The pipeline runs the common cases as
 * WebAssembly SIMD (resize_kernels.ts) with the tables built here and the same arithmetic.
 * @module
 */

/** The OpenCV interpolations a record can be made with. */
export type OpencvKernel = "opencv-linear" | "opencv-area";

/** What a record is made of: its side, its channels, the interpolation and the value scale. */
export interface RecordShape {
  /** Output width and height. */
  size: number;
  /** 1: gray (OpenCV's BT.601 luma); 3: R, G, B per pixel. */
  channels: 1 | 3;
  /** `opencv-linear`: cv2.INTER_LINEAR; `opencv-area`: cv2.INTER_AREA. */
  kernel: OpencvKernel;
  /** Each 0..255 value is multiplied by this (1/255 for unit scale). */
  gain: number;
}

/**
 * Makes a record from interleaved 8-bit pixels: gray (1 channel), RGB (3) or RGBA (4, alpha ignored: a
 * browser canvas's layout, already composited). `out` holds size·size·channels values.
 */
export function pixelsToRecord(
  pixels: Uint8Array,
  width: number,
  height: number,
  pixelChannels: 1 | 3 | 4,
  shape: RecordShape,
  out: Float32Array,
): void {
  const { size, channels } = shape;
  if (out.length !== size * size * channels) {
    throw new RangeError(
      `a ${size}x${size}x${channels} record holds ${size * size * channels} values, not ${out.length}`,
    );
  }
  if (width === size && height === size) return sameSize(pixels, pixelChannels, channels, shape.gain, out);
  if (channels === 1 && shape.kernel === "opencv-linear" && pixelChannels !== 1) {
    // The luma is taken only at the source pixels the resize reads.
    return resizeLinear(pixels, width, height, pixelChannels, size, shape.gain, out, 1, true);
  }
  let source = pixels, sourceChannels: 1 | 3 = pixelChannels === 1 ? 1 : 3;
  if (channels === 1 && pixelChannels !== 1) source = lumaPlane(pixels, pixelChannels), sourceChannels = 1;
  if (channels === 3 && pixelChannels === 4) source = dropAlpha(pixels);
  // A gray image read as colour is three equal planes (cv2.imread's IMREAD_COLOR): resize once, then copy.
  const resizedChannels = sourceChannels;
  const target = channels === 3 && resizedChannels === 1 ? new Float32Array(size * size) : out;
  if (shape.kernel === "opencv-area") areaResize(source, width, height, resizedChannels, size, shape.gain, target);
  else resizeLinear(source, width, height, resizedChannels, size, shape.gain, target, resizedChannels, false);
  if (target !== out) {
    for (let i = 0; i < target.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = target[i];
  }
}

/** cv::resize to the image's own size is a copy: each pixel's value (or luma), scaled. */
function sameSize(pixels: Uint8Array, pixelChannels: number, channels: number, gain: number, out: Float32Array): void {
  const count = out.length / channels;
  if (channels === pixelChannels || (channels === 3 && pixelChannels === 4)) {
    for (let i = 0, p = 0, o = 0; i < count; i++, p += pixelChannels) {
      for (let c = 0; c < channels; c++, o++) out[o] = pixels[p + c] * gain;
    }
  } else if (channels === 1) {
    for (let i = 0, p = 0; i < count; i++, p += pixelChannels) {
      out[i] = luma(pixels[p], pixels[p + 1], pixels[p + 2]) * gain;
    }
  } else {
    for (let i = 0, o = 0; i < count; i++, o += 3) out[o] = out[o + 1] = out[o + 2] = pixels[i] * gain;
  }
}

/** OpenCV 4's COLOR_RGB2GRAY for 8-bit pixels (BT.601 in 15-bit fixed point). */
function luma(r: number, g: number, b: number): number {
  return (9798 * r + 19235 * g + 3735 * b + 16384) >> 15;
}

function lumaPlane(pixels: Uint8Array, channels: 3 | 4): Uint8Array {
  const plane = new Uint8Array(pixels.length / channels);
  for (let i = 0, p = 0; i < plane.length; i++, p += channels) plane[i] = luma(pixels[p], pixels[p + 1], pixels[p + 2]);
  return plane;
}

function dropAlpha(rgba: Uint8Array): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    rgb[o] = rgba[i];
    rgb[o + 1] = rgba[i + 1];
    rgb[o + 2] = rgba[i + 2];
  }
  return rgb;
}

/** cvRound: round half to even, as the SSE conversion OpenCV uses does. */
function roundHalfEven(x: number): number {
  // Math.round takes halves up: a half that landed on an odd number belongs one below.
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** saturate_cast<uchar>(float). */
function toByte(x: number): number {
  const r = roundHalfEven(x);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

// ---- INTER_LINEAR (and INTER_AREA when enlarging, which is linear with other weights) ----

/** Fixed-point scale of OpenCV's resize coefficients (INTER_RESIZE_COEF_SCALE). */
const COEF_SCALE = 2048;

/** Source offsets and fixed-point weights of a bilinear axis: OpenCV's xofs/alpha tables. */
export interface AxisTable {
  /** First source index of each output index. */
  offset: Int32Array;
  /** Second source index (clamped to the edge). */
  next: Int32Array;
  /** Weight of `offset`, in 1/2048. */
  weight0: Int32Array;
  /** Weight of `next`, in 1/2048. */
  weight1: Int32Array;
}

const axisTables = new Map<string, AxisTable>();

/**
 * The sampling table of one axis, as cv::resize builds it: pixel centres aligned (INTER_LINEAR) or OpenCV's
 * area-mode weights (INTER_AREA when enlarging), edges clamped. Past an edge OpenCV zeroes the fraction on the
 * horizontal axis but keeps it on the vertical one (it clips the row index instead), and the rounding of its
 * vertical pass tells the two apart.
 */
function axisTable(from: number, to: number, horizontal: boolean, areaMode: boolean): AxisTable {
  const key = `${from}>${to}:${horizontal}:${areaMode}`;
  const cached = axisTables.get(key);
  if (cached) return cached;
  const table: AxisTable = {
    offset: new Int32Array(to),
    next: new Int32Array(to),
    weight0: new Int32Array(to),
    weight1: new Int32Array(to),
  };
  const inverse = to / from, scale = 1 / inverse;
  for (let d = 0; d < to; d++) {
    let s: number, f: number;
    if (areaMode) {
      s = Math.floor(d * scale);
      f = Math.fround((d + 1) - (s + 1) * inverse);
      f = f <= 0 ? 0 : Math.fround(f - Math.floor(f));
    } else {
      // OpenCV computes the position in double and rounds it to float.
      f = Math.fround((d + 0.5) * scale - 0.5);
      s = Math.floor(f);
      f = Math.fround(f - s);
    }
    if (horizontal && s < 0) [s, f] = [0, 0];
    if (horizontal && s >= from - 1) [s, f] = [from - 1, 0];
    table.offset[d] = clamp(s, from);
    table.next[d] = clamp(s + 1, from);
    table.weight0[d] = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
    table.weight1[d] = roundHalfEven(f * COEF_SCALE);
  }
  if (axisTables.size > 64) axisTables.clear();
  axisTables.set(key, table);
  return table;
}

function clamp(index: number, length: number): number {
  return index < 0 ? 0 : index >= length ? length - 1 : index;
}

/**
 * The two axes' tables when cv::resize INTER_LINEAR takes width×height to size×size by its general path, or
 * null when it takes another (same size: a copy; exactly half: 2×2 means). Shared with the WebAssembly kernel
 * (resize_kernels.ts), so both read the same pixels with the same weights.
 */
export function linearPlan(width: number, height: number, size: number): { xs: AxisTable; ys: AxisTable } | null {
  if ((width === size && height === size) || (width === 2 * size && height === 2 * size)) return null;
  return { xs: axisTable(width, size, true, false), ys: axisTable(height, size, false, false) };
}

/**
 * cv::resize INTER_LINEAR (or, with `area`, INTER_AREA's enlarging weights) of an interleaved image to
 * size×size. With `takeLuma`, the source is RGB or RGBA and the output gray: the luma of each pixel read.
 */
function resizeLinear(
  pixels: Uint8Array,
  width: number,
  height: number,
  pixelChannels: number,
  size: number,
  gain: number,
  out: Float32Array,
  channels: number,
  takeLuma: boolean,
  area = false,
): void {
  if (width === 2 * size && height === 2 * size) {
    return halveArea(pixels, pixelChannels, channels, takeLuma, size, gain, out);
  }
  const xs = axisTable(width, size, true, area), ys = axisTable(height, size, false, area);
  const rowLength = size * channels;
  let below = new Int32Array(rowLength), above = new Int32Array(rowLength);
  let belowY = -1, aboveY = -1;
  const pass = (y: number, into: Int32Array) =>
    takeLuma
      ? horizontalLuma(pixels, y * width * pixelChannels, pixelChannels, xs, into, size)
      : horizontal(pixels, y * width * channels, channels, xs, into, size);
  for (let y = 0; y < size; y++) {
    const y0 = ys.offset[y], y1 = ys.next[y];
    // Each source row's horizontal pass is computed once: the row above becomes the next row below.
    if (y0 === aboveY && y0 !== belowY) {
      [below, above] = [above, below];
      [belowY, aboveY] = [aboveY, belowY];
    }
    if (y0 !== belowY) pass(y0, below), belowY = y0;
    if (y1 !== aboveY) pass(y1, above), aboveY = y1;
    const b0 = ys.weight0[y], b1 = ys.weight1[y];
    const base = y * rowLength;
    for (let x = 0; x < rowLength; x++) {
      // OpenCV's SIMD vertical pass (VResizeLinearVec_32s8u): (hi16((r0 >> 4) * b0) + hi16((r1 >> 4) * b1) + 2) >> 2.
      const v = ((((below[x] >> 4) * b0) >> 16) + (((above[x] >> 4) * b1) >> 16) + 2) >> 2;
      out[base + x] = (v < 0 ? 0 : v > 255 ? 255 : v) * gain;
    }
  }
}

/** OpenCV's horizontal pass over one source row of `channels` interleaved values per pixel. */
function horizontal(
  pixels: Uint8Array,
  rowStart: number,
  channels: number,
  xs: AxisTable,
  into: Int32Array,
  size: number,
): void {
  const { offset, next, weight0, weight1 } = xs;
  if (channels === 1) {
    for (let x = 0; x < size; x++) {
      into[x] = pixels[rowStart + offset[x]] * weight0[x] + pixels[rowStart + next[x]] * weight1[x];
    }
    return;
  }
  for (let x = 0, o = 0; x < size; x++) {
    const p = rowStart + channels * offset[x], q = rowStart + channels * next[x], w0 = weight0[x], w1 = weight1[x];
    for (let c = 0; c < channels; c++, o++) into[o] = pixels[p + c] * w0 + pixels[q + c] * w1;
  }
}

/** The horizontal pass over one RGB(A) source row, taking the luma of each pixel it reads. */
function horizontalLuma(
  pixels: Uint8Array,
  rowStart: number,
  pixelChannels: number,
  xs: AxisTable,
  into: Int32Array,
  size: number,
): void {
  const { offset, next, weight0, weight1 } = xs;
  for (let x = 0; x < size; x++) {
    const p = rowStart + pixelChannels * offset[x], q = rowStart + pixelChannels * next[x];
    into[x] = luma(pixels[p], pixels[p + 1], pixels[p + 2]) * weight0[x] +
      luma(pixels[q], pixels[q + 1], pixels[q + 2]) * weight1[x];
  }
}

/** cv::resize at exactly half size (INTER_LINEAR or INTER_AREA): the rounded mean of each 2×2 block. */
function halveArea(
  pixels: Uint8Array,
  pixelChannels: number,
  channels: number,
  takeLuma: boolean,
  size: number,
  gain: number,
  out: Float32Array,
): void {
  const width = 2 * size;
  const at = takeLuma
    ? (i: number) => luma(pixels[pixelChannels * i], pixels[pixelChannels * i + 1], pixels[pixelChannels * i + 2])
    : (i: number, c: number) => pixels[channels * i + c];
  for (let y = 0, o = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = 2 * y * width + 2 * x;
      for (let c = 0; c < channels; c++, o++) {
        out[o] = ((at(p, c) + at(p + 1, c) + at(p + width, c) + at(p + width + 1, c) + 2) >> 2) * gain;
      }
    }
  }
}

// ---- INTER_AREA ----

/**
 * One axis of an area resize, OpenCV's computeResizeAreaTab as parallel arrays: term k adds `weight[k]` of
 * source index `source[k]` to output index `target[k]`, terms in OpenCV's order (the float sums depend on it).
 */
export interface AreaAxis {
  /** Output index of each term. */
  target: Int32Array;
  /** Source index of each term. */
  source: Int32Array;
  /** Weight of each term (float32, as OpenCV's table). */
  weight: Float32Array;
  /** Output index d's terms are first[d] .. first[d + 1] - 1. */
  first: Int32Array;
}

const areaAxes = new Map<string, AreaAxis>();

/** The area terms of one axis shrinking `from` to `to` (cached: a set of photos shares a few sizes). */
function areaAxis(from: number, to: number, scale: number): AreaAxis {
  const key = `${from}>${to}`;
  const cached = areaAxes.get(key);
  if (cached) return cached;
  const targets: number[] = [], sources: number[] = [], weights: number[] = [];
  const push = (target: number, source: number, weight: number) => {
    targets.push(target), sources.push(source), weights.push(weight);
  };
  for (let d = 0; d < to; d++) {
    const fs1 = d * scale, fs2 = fs1 + scale;
    const cellWidth = Math.min(scale, from - fs1);
    let s2 = Math.floor(fs2);
    s2 = Math.min(s2, from - 1);
    const s1 = Math.min(Math.ceil(fs1), s2);
    if (s1 - fs1 > 1e-3) push(d, s1 - 1, (s1 - fs1) / cellWidth);
    for (let s = s1; s < s2; s++) push(d, s, 1 / cellWidth);
    if (fs2 - s2 > 1e-3) push(d, s2, Math.min(Math.min(fs2 - s2, 1), cellWidth) / cellWidth);
  }
  const first = new Int32Array(to + 1);
  for (const target of targets) first[target + 1]++;
  for (let d = 0; d < to; d++) first[d + 1] += first[d];
  const target = Int32Array.from(targets), source = Int32Array.from(sources), weight = Float32Array.from(weights);
  const axis = { target, source, weight, first };
  if (areaAxes.size > 64) areaAxes.clear();
  areaAxes.set(key, axis);
  return axis;
}

/**
 * The two axes' terms when cv::resize INTER_AREA shrinks width×height to size×size by factors that are not
 * both whole numbers (the general float-sum case), or null when it takes another path (same size, enlarging,
 * whole factors). Shared with the WebAssembly kernel (resize_kernels.ts), so both sum the same terms.
 */
export function fractionalAreaPlan(width: number, height: number, size: number): { xs: AreaAxis; ys: AreaAxis } | null {
  const scaleX = 1 / (size / width), scaleY = 1 / (size / height);
  if (scaleX < 1 || scaleY < 1 || (width === size && height === size)) return null;
  const wholeX = Math.trunc(scaleX), wholeY = Math.trunc(scaleY);
  if (Math.abs(scaleX - wholeX) < Number.EPSILON && Math.abs(scaleY - wholeY) < Number.EPSILON) return null;
  return { xs: areaAxis(width, size, scaleX), ys: areaAxis(height, size, scaleY) };
}

/**
 * cv::resize INTER_AREA of an interleaved 8-bit image to size×size: when shrinking, each output pixel is the
 * area-weighted mean of the source pixels it covers (float32 sums, as OpenCV's ResizeArea_Invoker, or an
 * integer mean when the factors are whole numbers); when enlarging, linear interpolation with OpenCV's area
 * weights.
 */
function areaResize(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  size: number,
  gain: number,
  out: Float32Array,
): void {
  const inverseX = size / width, inverseY = size / height;
  const scaleX = 1 / inverseX, scaleY = 1 / inverseY;
  if (width === size && height === size) {
    for (let i = 0; i < out.length; i++) out[i] = pixels[i] * gain;
    return;
  }
  if (scaleX < 1 || scaleY < 1) {
    return resizeLinear(pixels, width, height, channels, size, gain, out, channels, false, true);
  }
  const wholeX = Math.trunc(scaleX), wholeY = Math.trunc(scaleY);
  if (Math.abs(scaleX - wholeX) < Number.EPSILON && Math.abs(scaleY - wholeY) < Number.EPSILON) {
    if (wholeX === 2 && wholeY === 2) return halveArea(pixels, channels, channels, false, size, gain, out);
    return areaResizeWhole(pixels, width, channels, size, wholeX, wholeY, gain, out);
  }
  const { xs, ys } = fractionalAreaPlan(width, height, size)!;
  const rowLength = size * channels;
  // Float32Array stores round each product and sum to float, as OpenCV's float buffers do.
  const row = new Float32Array(rowLength), sum = new Float32Array(rowLength);
  let previousY = ys.target[0], rowSource = -1;
  for (let j = 0; j < ys.target.length; j++) {
    const y = ys.target[j], sy = ys.source[j], beta = ys.weight[j];
    // A source row on a cell boundary serves two output rows: its horizontal pass is the same both times.
    if (sy !== rowSource) {
      if (channels === 3) areaRow3(pixels, sy * width * 3, xs, row);
      else areaRow(pixels, sy * width * channels, channels, xs, row);
      rowSource = sy;
    }
    if (y !== previousY) {
      emitRow(sum, gain, out, previousY * rowLength);
      for (let x = 0; x < rowLength; x++) sum[x] = Math.fround(beta * row[x]);
      previousY = y;
    } else {
      for (let x = 0; x < rowLength; x++) sum[x] += Math.fround(beta * row[x]);
    }
  }
  emitRow(sum, gain, out, previousY * rowLength);
}

/**
 * The horizontal area pass over one source row of `channels` interleaved values per pixel. Each output value's
 * terms are consecutive, so its float sum is kept in a local, rounded to float after every product and add
 * exactly as OpenCV's buffer (which starts at 0, and 0 + x is x) is.
 */
function areaRow(pixels: Uint8Array, start: number, channels: number, xs: AreaAxis, into: Float32Array): void {
  const { source, weight, first } = xs;
  for (let d = 0, k = 0; d + 1 < first.length; d++) {
    const end = first[d + 1];
    for (let c = 0; c < channels; c++) {
      let acc = 0;
      for (let t = k; t < end; t++) {
        acc = Math.fround(acc + Math.fround(pixels[start + source[t] * channels + c] * weight[t]));
      }
      into[d * channels + c] = acc;
    }
    k = end;
  }
}

/** {@linkcode areaRow} for R, G, B, unrolled: most of a colour record's time is here. */
function areaRow3(pixels: Uint8Array, start: number, xs: AreaAxis, into: Float32Array): void {
  const { source, weight, first } = xs;
  for (let d = 0, k = 0, o = 0; d + 1 < first.length; d++, o += 3) {
    let r = 0, g = 0, b = 0;
    for (const end = first[d + 1]; k < end; k++) {
      const s = start + source[k] * 3, alpha = weight[k];
      r = Math.fround(r + Math.fround(pixels[s] * alpha));
      g = Math.fround(g + Math.fround(pixels[s + 1] * alpha));
      b = Math.fround(b + Math.fround(pixels[s + 2] * alpha));
    }
    into[o] = r, into[o + 1] = g, into[o + 2] = b;
  }
}

/** One output row of an area resize: each float sum rounded to a byte as saturate_cast does, then scaled. */
function emitRow(sum: Float32Array, gain: number, out: Float32Array, start: number): void {
  for (let x = 0; x < sum.length; x++) out[start + x] = toByte(sum[x]) * gain;
}

/** cv::resize INTER_AREA by whole factors (resizeAreaFast_): the integer sum of each block times 1/area in float. */
function areaResizeWhole(
  pixels: Uint8Array,
  width: number,
  channels: number,
  size: number,
  factorX: number,
  factorY: number,
  gain: number,
  out: Float32Array,
): void {
  const scale = Math.fround(1 / (factorX * factorY));
  for (let y = 0, o = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < channels; c++, o++) {
        let sum = 0;
        for (let j = 0; j < factorY; j++) {
          const row = ((y * factorY + j) * width + x * factorX) * channels + c;
          for (let i = 0; i < factorX; i++) sum += pixels[row + i * channels];
        }
        out[o] = toByte(Math.fround(sum * scale)) * gain;
      }
    }
  }
}
