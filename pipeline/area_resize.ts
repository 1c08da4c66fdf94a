/**
 * INTER_AREA shrinking of R, G, B pixels in WebAssembly SIMD (area_resize_source.ts): the colour records of
 * photos made small (`--size 64 --color --resize-kernel opencv-area`) spent more CPU in this arithmetic, as
 * JavaScript, than libjpeg spent decoding them. The terms come from opencv_resize.ts, the values are bit for
 * bit its own (and OpenCV's); shapes this kernel does not take (same size, enlarging, whole factors) stay
 * with {@linkcode pixelsToRecord}.
 * @module
 */
import wabtInit from "wabt";
import { AREA_RESIZE_MODULE } from "./area_resize_source.ts";
import { fractionalAreaPlan } from "./opencv_resize.ts";

/** The compiled kernel, on its own memory. */
export interface AreaKernel {
  /**
   * Writes the size×size×3 record of interleaved RGB `pixels` (width×height) into `out`, each value times
   * `gain`; false (and nothing written) when the shape is not a fractional shrink.
   */
  resizeRgb(pixels: Uint8Array, width: number, height: number, size: number, gain: number, out: Float32Array): boolean;
}

let loading: Promise<AreaKernel> | undefined;

/** The kernel, compiled on first use (once per process). */
export function areaKernel(): Promise<AreaKernel> {
  return loading ??= compile();
}

async function compile(): Promise<AreaKernel> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat("area_resize.wat", AREA_RESIZE_MODULE, { simd: true });
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const memory = instance.exports.memory as WebAssembly.Memory;
  const area3 = instance.exports.area3 as (...args: number[]) => void;
  return {
    resizeRgb(pixels, width, height, size, gain, out) {
      const plan = fractionalAreaPlan(width, height, size);
      if (!plan) return false;
      const { xs, ys } = plan;
      // Byte offsets of everything the kernel reads and writes, each 16-byte aligned.
      let top = 0;
      const take = (bytes: number) => {
        const at = top;
        top += Math.ceil(bytes / 16) * 16;
        return at;
      };
      const rowFloats = 4 * Math.ceil((3 * size) / 4) + 4;
      const at = {
        pixels: take(pixels.length + 4),
        xSource: take(xs.source.byteLength),
        xWeight: take(xs.weight.byteLength),
        xFirst: take(xs.first.byteLength),
        yTarget: take(ys.target.byteLength),
        ySource: take(ys.source.byteLength),
        yWeight: take(ys.weight.byteLength),
        row: take(4 * rowFloats),
        sum: take(4 * rowFloats),
        out: take(4 * (out.length + 4)),
      };
      const pages = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
      if (pages > 0) memory.grow(pages);
      const heap = new Uint8Array(memory.buffer);
      heap.set(pixels, at.pixels);
      const copy = (array: Int32Array | Float32Array, offset: number) =>
        heap.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offset);
      copy(xs.source, at.xSource), copy(xs.weight, at.xWeight), copy(xs.first, at.xFirst);
      copy(ys.target, at.yTarget), copy(ys.source, at.ySource), copy(ys.weight, at.yWeight);
      area3(
        at.pixels,
        width,
        at.xSource,
        at.xWeight,
        at.xFirst,
        size,
        at.yTarget,
        at.ySource,
        at.yWeight,
        ys.target.length,
        at.row,
        at.sum,
        at.out,
      );
      // The kernel leaves whole values 0..255; scaling here multiplies in float64 as the JavaScript does.
      const values = new Float32Array(memory.buffer, at.out, out.length);
      for (let i = 0; i < out.length; i++) out[i] = values[i] * gain;
      return true;
    },
  };
}
