/**
 * Records made in WebAssembly SIMD (resize_kernels_source.ts) instead of JavaScript, bit for bit the same:
 * the arithmetic between the decoder and the shard, which for photos took as much CPU as libjpeg's decoding.
 * The tables (which pixels, which weights) come from opencv_resize.ts, so both implementations read the same
 * pixels with the same weights; shapes and layouts the kernels do not cover go to
 * {@linkcode pixelsToRecord}, which the page also runs in the browser.
 * @module
 */
import wabtInit from "wabt";
import { RESIZE_KERNELS_MODULE } from "./resize_kernels_source.ts";
import { fractionalAreaPlan, linearPlan, pixelsToRecord, type RecordShape } from "./opencv_resize.ts";

/** The compiled kernels, on their own memory. */
export interface ResizeKernels {
  /**
   * Makes the record of `pixels` (interleaved, 1 or 3 values per pixel) as {@linkcode pixelsToRecord} does,
   * in WebAssembly where a kernel covers the shape, else by calling it.
   */
  toRecord(
    pixels: Uint8Array,
    width: number,
    height: number,
    pixelChannels: 1 | 3,
    shape: RecordShape,
    out: Float32Array,
  ): void;
  /** The kernel that made the last record: `area3`, `linearGray`, `scaleBytes` or `javascript`. */
  readonly lastPath: string;
}

let loading: Promise<ResizeKernels> | undefined;

/** The kernels, compiled on first use (once per process, ~40 ms). */
export function resizeKernels(): Promise<ResizeKernels> {
  return loading ??= compile();
}

type Kernel = (...args: number[]) => void;

async function compile(): Promise<ResizeKernels> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat("resize_kernels.wat", RESIZE_KERNELS_MODULE, { simd: true });
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const memory = exports.memory as WebAssembly.Memory;
  const kernel = (name: string) => exports[name] as Kernel;
  const [area3, linearGray, scaleBytes] = [kernel("area3"), kernel("linearGray"), kernel("scaleBytes")];
  let lastPath = "javascript";

  /**
   * Lays out `items` one after another (arrays copied in, numbers reserved as that many bytes), each with 16
   * spare bytes after it for the four-lane reads and writes of its last values; returns their byte offsets.
   */
  const place = (items: (ArrayBufferView | number)[]): number[] => {
    let top = 0;
    const offsets = items.map((item) => {
      const at = top;
      top += Math.ceil(((typeof item === "number" ? item : item.byteLength) + 16) / 16) * 16;
      return at;
    });
    const pages = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
    if (pages > 0) memory.grow(pages);
    const heap = new Uint8Array(memory.buffer);
    items.forEach((item, i) => {
      if (typeof item !== "number") heap.set(new Uint8Array(item.buffer, item.byteOffset, item.byteLength), offsets[i]);
    });
    return offsets;
  };
  /** Copies the kernel's output (at `offset`) into `out`. */
  const collect = (offset: number, out: Float32Array) => out.set(new Float32Array(memory.buffer, offset, out.length));

  const tryKernels = (
    pixels: Uint8Array,
    width: number,
    height: number,
    pixelChannels: 1 | 3,
    shape: RecordShape,
    out: Float32Array,
  ): string | null => {
    const { size, channels, kernel, gain } = shape;
    if (width === size && height === size && channels === 1 && pixelChannels === 1) {
      const [source, target] = place([pixels, 4 * out.length]);
      scaleBytes(source, out.length, gain, target);
      collect(target, out);
      return "scaleBytes";
    }
    if (kernel === "opencv-area" && channels === 3 && pixelChannels === 3) {
      const plan = fractionalAreaPlan(width, height, size);
      if (!plan) return null;
      const { xs, ys } = plan;
      const [source, ...at] = place([
        pixels,
        xs.source,
        xs.weight,
        xs.first,
        ys.target,
        ys.source,
        ys.weight,
        4 * 3 * size,
        4 * 3 * size,
        4 * out.length,
      ]);
      area3(source, width, at[0], at[1], at[2], size, at[3], at[4], at[5], ys.target.length, at[6], at[7], at[8], gain);
      collect(at[8], out);
      return "area3";
    }
    if (kernel === "opencv-linear" && channels === 1) {
      const plan = linearPlan(width, height, size);
      if (!plan) return null;
      const { xs, ys } = plan;
      const [source, ...at] = place([
        pixels,
        xs.offset,
        xs.next,
        xs.weight0,
        xs.weight1,
        ys.offset,
        ys.next,
        ys.weight0,
        ys.weight1,
        4 * size,
        4 * size,
        4 * out.length,
      ]);
      // R, G, B pixels give their luma where the resize reads them.
      linearGray(source, pixelChannels === 3 ? 1 : 0, width, at[0], at[1], at[2], at[3], size, ...at.slice(4), gain);
      collect(at[10], out);
      return "linearGray";
    }
    return null;
  };

  return {
    toRecord(pixels, width, height, pixelChannels, shape, out) {
      if (out.length !== shape.size * shape.size * shape.channels) {
        // pixelsToRecord says what is wrong.
        return pixelsToRecord(pixels, width, height, pixelChannels, shape, out);
      }
      lastPath = tryKernels(pixels, width, height, pixelChannels, shape, out) ?? "javascript";
      if (lastPath === "javascript") pixelsToRecord(pixels, width, height, pixelChannels, shape, out);
    },
    get lastPath() {
      return lastPath;
    },
  };
}
