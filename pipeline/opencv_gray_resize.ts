/**
 * OpenCV's 8-bit grayscale conversion and bilinear resize, in JavaScript.
 *
 * `cv2.cvtColor(img, COLOR_BGR2GRAY)` then `cv2.resize(gray, (size, size),
 * interpolation=INTER_LINEAR)` is what the course and the PyTorch reference did;
 * this repeats it with OpenCV's own fixed-point arithmetic, so the values match
 * OpenCV to the gray level (see opencv_gray_resize_test.ts).
 * @module
 */

/** Fixed-point scale of OpenCV's resize coefficients (INTER_RESIZE_COEF_SCALE). */
const COEF_SCALE = 2048;

/** Source offsets and fixed-point weights of a bilinear axis: OpenCV's xofs/alpha tables. */
interface AxisTable {
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
 * The sampling table of one axis, as cv::resize builds it: pixel centres aligned, edges clamped.
 * Past an edge OpenCV zeroes the fraction on the horizontal axis but keeps it on the vertical
 * one (it clips the row index instead), and the rounding of its vertical pass tells the two apart.
 */
function axisTable(from: number, to: number, zeroFractionAtEdges: boolean): AxisTable {
  const key = `${from}>${to}:${zeroFractionAtEdges}`;
  const cached = axisTables.get(key);
  if (cached) return cached;
  const table: AxisTable = {
    offset: new Int32Array(to),
    next: new Int32Array(to),
    weight0: new Int32Array(to),
    weight1: new Int32Array(to),
  };
  const scale = 1 / (to / from);
  for (let d = 0; d < to; d++) {
    // OpenCV computes the position in double and rounds it to float.
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (zeroFractionAtEdges && s < 0) [s, f] = [0, 0];
    if (zeroFractionAtEdges && s >= from - 1) [s, f] = [from - 1, 0];
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

/** cvRound: round half to even, as the SSE conversion OpenCV uses does. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Converts interleaved 8-bit RGB (3 channels), RGBA (4, alpha ignored: a browser canvas's
 * layout, already composited) or gray (1 channel) pixels to gray
 * with OpenCV 4's BT.601 fixed point (15-bit: 9798, 19235, 3735), resizes to
 * size×size with OpenCV's INTER_LINEAR, and writes value × `gain` into `out`.
 * The luma is taken only at the source pixels the resize reads.
 */
export function grayResizeLinear(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  size: number,
  gain: number,
  out: Float32Array,
): void {
  if (width === 2 * size && height === 2 * size) return halveArea(pixels, channels, size, gain, out);
  const xs = axisTable(width, size, true), ys = axisTable(height, size, false);
  let below = new Int32Array(size), above = new Int32Array(size);
  let belowY = -1, aboveY = -1;
  for (let y = 0; y < size; y++) {
    const y0 = ys.offset[y], y1 = ys.next[y];
    // Each source row's horizontal pass is computed once: the row above becomes the next row below.
    if (y0 === aboveY && y0 !== belowY) {
      [below, above] = [above, below];
      [belowY, aboveY] = [aboveY, belowY];
    }
    if (y0 !== belowY) horizontal(pixels, y0 * width * channels, channels, xs, below, size), belowY = y0;
    if (y1 !== aboveY) horizontal(pixels, y1 * width * channels, channels, xs, above, size), aboveY = y1;
    const b0 = ys.weight0[y], b1 = ys.weight1[y];
    const base = y * size;
    for (let x = 0; x < size; x++) {
      // OpenCV's SIMD vertical pass (VResizeLinearVec_32s8u): (hi16((r0 >> 4) * b0) + hi16((r1 >> 4) * b1) + 2) >> 2.
      const v = ((((below[x] >> 4) * b0) >> 16) + (((above[x] >> 4) * b1) >> 16) + 2) >> 2;
      out[base + x] = (v < 0 ? 0 : v > 255 ? 255 : v) * gain;
    }
  }
}

/** OpenCV's horizontal pass over one source row, taking the luma of each pixel it reads. */
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
  for (let x = 0; x < size; x++) {
    const p = rowStart + channels * offset[x], q = rowStart + channels * next[x];
    into[x] = luma(pixels[p], pixels[p + 1], pixels[p + 2]) * weight0[x] +
      luma(pixels[q], pixels[q + 1], pixels[q + 2]) * weight1[x];
  }
}

/** OpenCV 4's COLOR_RGB2GRAY for 8-bit pixels. */
function luma(r: number, g: number, b: number): number {
  return (9798 * r + 19235 * g + 3735 * b + 16384) >> 15;
}

/** cv::resize turns INTER_LINEAR at exactly half size into INTER_AREA: the rounded mean of each 2×2 block. */
function halveArea(pixels: Uint8Array, channels: number, size: number, gain: number, out: Float32Array): void {
  const width = 2 * size;
  const at = channels === 1
    ? (i: number) => pixels[i]
    : (i: number) => luma(pixels[channels * i], pixels[channels * i + 1], pixels[channels * i + 2]);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = 2 * y * width + 2 * x;
      out[y * size + x] = ((at(p) + at(p + 1) + at(p + width) + at(p + width + 1) + 2) >> 2) * gain;
    }
  }
}
