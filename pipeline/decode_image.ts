/**
 * Decodes one image to the network's input: size×size float32, gray (one value per pixel) or colour (R, G, B
 * per pixel, row by row).
 *
 * This is the single preprocessing function: the pipeline writes its output
 * into shards and inference calls it on new images, with the same parameters
 * read back from the manifest.
 * @module
 */
import { loadSharp, requireChoice } from "../lib/mod.ts";
import { resizeKernels } from "./resize_kernels.ts";

/** How pixel values are stored: `unit` is value/255, `raw` is 0..255 as the course's code did. */
export type PixelScale = "unit" | "raw";

/** The resize kernels {@linkcode decodeImage} offers. */
export const RESIZE_KERNELS = ["opencv-linear", "opencv-area", "linear"] as const;

/** A resize kernel name. */
export type ResizeKernel = typeof RESIZE_KERNELS[number];

/** Every parameter that decides the pixels of a record; recorded in the manifest and the model. */
export interface PreprocessParams {
  /** Output width and height in pixels. */
  size: number;
  /** Value scaling. */
  scale: PixelScale;
  /**
   * Values per pixel: 1 for gray, 3 for R, G, B (interleaved per pixel). Absent in caches and models made before
   * colour existed: those are gray ({@linkcode channelsOf}).
   */
  channels?: 1 | 3;
  /** Grayscale conversion formula (used when `channels` is 1). */
  grayscale: "bt601-luma";
  /**
   * Resampling: `opencv-linear` is cv2.resize INTER_LINEAR, bit for bit (the course's and the PyTorch
   * reference's resize; it samples 2×2 pixels, so shrinking by more than ~2× aliases); `opencv-area` is
   * cv2.resize INTER_AREA, bit for bit (each output pixel the mean of the source pixels it covers: the one to
   * use when shrinking photos to a small size, e.g. 500×375 to 64×64); `linear` is libvips' bilinear with its
   * support widened by the shrink factor (gray only).
   */
  resizeKernel: ResizeKernel;
  /** Aspect handling: `fill` stretches to size×size, as the course's data is. */
  fit: "fill";
  /** Colour transparent pixels are flattened onto, in 0..255 sRGB. */
  background: { r: number; g: number; b: number };
  /** EXIF orientation handling. */
  orientation: "exif-auto";
  /** Which frame of an animated image is used. */
  frame: "first";
}

/** The defaults of every preprocessing parameter. */
export const DEFAULT_PREPROCESS: PreprocessParams = {
  size: 227,
  scale: "unit",
  channels: 1,
  grayscale: "bt601-luma",
  resizeKernel: "opencv-linear",
  fit: "fill",
  background: { r: 255, g: 255, b: 255 },
  orientation: "exif-auto",
  frame: "first",
};

/** Values per pixel of records made with `params` (1 when they predate colour). */
export function channelsOf(params: Pick<PreprocessParams, "channels">): 1 | 3 {
  return params.channels ?? 1;
}

/** Float32 values in one record made with `params`: size × size × channels. */
export function recordLength(params: Pick<PreprocessParams, "size" | "channels">): number {
  return params.size * params.size * channelsOf(params);
}

/** A human-readable description of the grayscale formula, for the manifest and README. */
export const GRAYSCALE_FORMULA =
  "Y = (9798 R + 19235 G + 3735 B + 16384) >> 15 on 8-bit gamma-encoded sRGB (BT.601 luma 0.299/0.587/0.114, OpenCV 4 COLOR_BGR2GRAY fixed point)";

/** Loads sharp and compiles the record kernels (both happen on first decode otherwise), e.g. while a model loads. */
export async function prepareDecoding(): Promise<void> {
  await Promise.all([loadSharp(), resizeKernels()]);
}

/** Raised when an image cannot be decoded; `reason` says why in a few words, the message names the image too. */
export class ImageDecodeError extends Error {
  /** Creates the error for the image at `source`. */
  constructor(readonly source: string, readonly reason: string, options?: ErrorOptions) {
    super(`${source}: ${reason}`, options);
    this.name = "ImageDecodeError";
  }
}

/** An image given by path or as encoded bytes. */
export type ImageInput = string | Uint8Array;

/**
 * Decodes `input` to a record of {@linkcode recordLength} float32 values, written into `into` when given.
 *
 * libvips decodes, applies EXIF orientation, flattens alpha and reduces any input
 * (CMYK, 16-bit, palette, gray) to 8-bit sRGB (an 8-bit gray JPEG stays one gray
 * plane, which is the same thing); the luma and the OpenCV resizes
 * are then OpenCV's own arithmetic (opencv_resize.ts, run as WebAssembly SIMD by resize_kernels.ts where
 * it covers the shape),
 * so a record equals what cvtColor + cv2.resize give on the same decoded pixels.
 * libvips' own `b-w` conversion works in linear light and comes out about 3% brighter.
 * Measured on 500×375 photos, decoding at full size and resizing here is also about
 * twice as fast as resizing in libvips.
 */
export async function decodeImage(
  input: ImageInput,
  params: PreprocessParams,
  into?: Float32Array,
): Promise<Float32Array> {
  const name = typeof input === "string" ? input : "image bytes";
  const { size } = params;
  const channels = channelsOf(params), length = recordLength(params);
  const out = into ?? new Float32Array(length);
  if (out.length !== length) {
    throw new RangeError(
      `Cannot decode into a buffer of ${out.length} values: size ${size}, ${channels} channel(s) need ${length}`,
    );
  }
  requireChoice("resizeKernel", params.resizeKernel, RESIZE_KERNELS);
  if (params.resizeKernel === "linear" && channels !== 1) {
    throw new RangeError("the libvips resize kernel (linear) makes gray records only: use opencv-area for colour");
  }
  const bytes = typeof input === "string" ? await readImageFile(input) : input;
  if (bytes.length === 0) throw new ImageDecodeError(name, "empty input (0 bytes)");
  const layout = jpegLayout(bytes);
  // An 8-bit gray JPEG (the course's images) needs no colour conversion: its gray plane is what cvtColor would
  // give after libvips spread it over three equal channels, and skipping that saves about a quarter of
  // the CPU per image (measured on 227×227 gray JPEGs, docs/speed.md).
  // A CMYK (or YCCK) JPEG without an embedded ICC profile is inverted directly, as OpenCV, Pillow and browsers
  // do; libvips would convert it through a press profile and come out several gray levels off. With a
  // profile, the profile is used.
  const mode = layout?.components === 1 && layout.precision === 8
    ? "gray"
    : layout?.components === 4 && !layout.iccProfile
    ? "cmyk"
    : "rgb";
  const sharp = await loadSharp();
  let decoded: { data: Uint8Array; width: number; height: number };
  try {
    let pipeline = sharp(bytes, { failOn: "warning", animated: false });
    // Rotating is libvips' job whenever the headers might ask for it; a JPEG known to be stored upright skips
    // the step, which costs about 0.25 ms of CPU per image even when it does nothing (measured on 227×227 JPEGs).
    if (layout?.orientation !== 1) pipeline = pipeline.autoOrient();
    pipeline = mode === "rgb"
      ? pipeline.flatten({ background: params.background }).toColourspace("srgb")
      : mode === "gray"
      ? pipeline.toColourspace("b-w")
      : pipeline.pipelineColourspace("cmyk").toColourspace("cmyk");
    if (params.resizeKernel === "linear") pipeline = pipeline.resize(size, size, { fit: params.fit, kernel: "linear" });
    const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    const channels = { gray: 1, rgb: 3, cmyk: 4 }[mode];
    if (info.channels !== channels) {
      throw new Error(`expected ${channels} channel(s) after conversion, got ${info.channels}`);
    }
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    decoded = { data: mode === "cmyk" ? cmykToRgb(pixels) : pixels, width: info.width, height: info.height };
  } catch (error) {
    throw new ImageDecodeError(name, describeSharpError(error), { cause: error });
  }
  const gain = params.scale === "unit" ? 1 / 255 : 1;
  // libvips has already resized for the `linear` kernel; the OpenCV kernels work on the decoded pixels.
  const kernel = params.resizeKernel === "opencv-area" ? "opencv-area" : "opencv-linear";
  const shape = { size, channels, kernel, gain } as const;
  const kernels = await resizeKernels();
  kernels.toRecord(decoded.data, decoded.width, decoded.height, mode === "gray" ? 1 : 3, shape, out);
  return out;
}

/**
 * CMYK (0 = no ink) to RGB as OpenCV's JPEG reader does (icvCvt_CMYK2BGR on the inverted values libjpeg
 * gives it): R = k' - ((255 - c') · k' >> 8) with c' = 255 - C and k' = 255 - K; Pillow's differs by a level
 * at most.
 */
export function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const rgb = new Uint8Array((cmyk.length / 4) * 3);
  for (let i = 0, o = 0; i < cmyk.length; i += 4, o += 3) {
    const k = 255 - cmyk[i + 3];
    rgb[o] = k - ((cmyk[i] * k) >> 8);
    rgb[o + 1] = k - ((cmyk[i + 1] * k) >> 8);
    rgb[o + 2] = k - ((cmyk[i + 2] * k) >> 8);
  }
  return rgb;
}

async function readImageFile(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Deno.errors.IsADirectory
      ? "not a file"
      : firstLine(String(error));
    throw new ImageDecodeError(path, reason, { cause: error });
  }
  if (bytes.length === 0) throw new ImageDecodeError(path, "empty file (0 bytes)");
  return bytes;
}

/** What a JPEG's headers say before its first scan. */
export interface JpegLayout {
  /** Colour components of the frame (1 gray, 3 YCbCr or RGB, 4 CMYK or YCCK). */
  components: number;
  /** Bits per sample. */
  precision: number;
  /** Whether an ICC profile is embedded (an APP2 `ICC_PROFILE` segment). */
  iccProfile: boolean;
  /**
   * The EXIF orientation (1-8) of an APP1 `Exif` segment; 1 (as stored) when there is none, null when an
   * EXIF segment could not be read (then it is left to libvips).
   */
  orientation: number | null;
}

/**
 * Reads a JPEG's markers up to its first scan; null when `bytes` are not a JPEG or its headers end early
 * (then the general path decodes it, and reports what is wrong).
 */
export function jpegLayout(bytes: Uint8Array): JpegLayout | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let frame: { components: number; precision: number } | null = null;
  let iccProfile = false;
  let orientation: number | null = 1;
  let i = 2;
  while (i + 3 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) { // fill byte before a marker
      i++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // start of scan or end of image
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision at +4, component count at +9.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 >= bytes.length) return null;
      frame = { precision: bytes[i + 4], components: bytes[i + 9] };
    }
    if (marker === 0xe2 && ICC_TAG.every((byte, k) => bytes[i + 4 + k] === byte)) iccProfile = true;
    if (marker === 0xe1 && EXIF_TAG.every((byte, k) => bytes[i + 4 + k] === byte)) {
      orientation = exifOrientation(bytes.subarray(i + 4 + EXIF_TAG.length, i + 2 + length));
    }
    i += 2 + length;
  }
  return frame ? { ...frame, iccProfile, orientation } : null;
}

/** The identifier that starts an APP1 segment holding EXIF data. */
const EXIF_TAG = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"

/** The orientation tag (0x0112) of the first IFD of a TIFF block; 1 when absent, null when unreadable. */
function exifOrientation(tiff: Uint8Array): number | null {
  if (tiff.length < 8) return null;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49; // "II"; "MM" is big-endian
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return null;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return null;
  const entries = view.getUint16(ifd, little);
  if (ifd + 2 + 12 * entries > tiff.length) return null;
  for (let e = 0; e < entries; e++) {
    const entry = ifd + 2 + 12 * e;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    const value = view.getUint16(entry + 8, little); // a SHORT, stored in the value field
    return value >= 1 && value <= 8 ? value : null;
  }
  return 1;
}

/** The identifier that starts an APP2 segment holding (part of) an ICC profile. */
const ICC_TAG = [..."ICC_PROFILE"].map((c) => c.charCodeAt(0)).concat(0);

/** True when `bytes` are a JPEG whose frame header (SOF) declares one 8-bit component: a gray JPEG. */
export function isGrayJpeg(bytes: Uint8Array): boolean {
  const layout = jpegLayout(bytes);
  return layout !== null && layout.components === 1 && layout.precision === 8;
}

function describeSharpError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return "not an image (unsupported or unrecognised format)";
  if (/exceeds pixel limit/i.test(message)) {
    return "too many pixels: its header claims more than libvips' limit of 268,402,689 (16383²); not decoded";
  }
  if (/premature end|truncated|end of file|corrupt|bad huffman|warning treated as error/i.test(message)) {
    return `truncated or corrupt image (${firstLine(message)})`;
  }
  if (/no such file|ENOENT|does not exist|missing/i.test(message)) return "file not found";
  return firstLine(message);
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}
