/**
 * Decodes one image to the network's input: size×size grayscale float32.
 *
 * This is the single preprocessing function: the pipeline writes its output
 * into shards and inference calls it on new images, with the same parameters
 * read back from the manifest.
 * @module
 */
import { sharp } from "./sharp.ts";

/** How pixel values are stored: `unit` is value/255, `raw` is 0..255 as the course's code did. */
export type PixelScale = "unit" | "raw";

/** Every parameter that decides the pixels of a record; recorded in the manifest and the model. */
export interface PreprocessParams {
  /** Output width and height in pixels. */
  size: number;
  /** Value scaling. */
  scale: PixelScale;
  /** Grayscale conversion formula. */
  grayscale: "bt601-luma";
  /** Resampling kernel (libvips name): `linear` is bilinear, its support widened by the shrink factor so shrinking averages every pixel. */
  resizeKernel: "linear";
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
  grayscale: "bt601-luma",
  resizeKernel: "linear",
  fit: "fill",
  background: { r: 255, g: 255, b: 255 },
  orientation: "exif-auto",
  frame: "first",
};

/** A human-readable description of the grayscale formula, for the manifest and README. */
export const GRAYSCALE_FORMULA =
  "Y = (4899 R + 9617 G + 1868 B + 8192) >> 14 on 8-bit gamma-encoded sRGB (BT.601 luma 0.299/0.587/0.114, OpenCV COLOR_BGR2GRAY fixed point)";

/** Raised when an image cannot be decoded; the message says why. */
export class ImageDecodeError extends Error {
  /** Creates the error for the image at `source`. */
  constructor(readonly source: string, reason: string, options?: ErrorOptions) {
    super(`${source}: ${reason}`, options);
    this.name = "ImageDecodeError";
  }
}

/** An image given by path or as encoded bytes. */
export type ImageInput = string | Uint8Array;

/**
 * Decodes `input` to `size*size` float32 gray values, written into `into` when given.
 *
 * libvips decodes, applies EXIF orientation, flattens alpha, reduces any input
 * (CMYK, 16-bit, palette, gray) to 8-bit sRGB and resizes. The luma is then taken
 * here with OpenCV's fixed-point BT.601 formula, because libvips' own `b-w`
 * conversion works in linear light and comes out about 3% brighter. Taking the
 * luma after the resize (both are linear) differs from gray-then-resize by the
 * rounding of the resized channels only (under half a gray level), and it was
 * the fastest arrangement measured: a gray-plane resize in JavaScript cost more.
 */
export async function decodeGray(
  input: ImageInput,
  params: PreprocessParams,
  into?: Float32Array,
): Promise<Float32Array> {
  const name = typeof input === "string" ? input : "image bytes";
  const { size } = params;
  const out = into ?? new Float32Array(size * size);
  if (out.length !== size * size) {
    throw new RangeError(`decodeGray() needs a buffer of ${size * size} values, got ${out.length}`);
  }
  if (input.length === 0) throw new ImageDecodeError(name, "empty input (0 bytes)");
  let rgb: Uint8Array;
  try {
    const { data, info } = await sharp(input, { failOn: "warning", animated: false })
      .autoOrient()
      .flatten({ background: params.background })
      .toColourspace("srgb")
      .resize(size, size, { fit: params.fit, kernel: params.resizeKernel })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 sRGB channels after conversion, got ${info.channels}`);
    rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (error) {
    throw new ImageDecodeError(name, describeSharpError(error), { cause: error });
  }
  const gain = params.scale === "unit" ? 1 / 255 : 1;
  for (let i = 0, p = 0; i < out.length; i++, p += 3) {
    out[i] = ((4899 * rgb[p] + 9617 * rgb[p + 1] + 1868 * rgb[p + 2] + 8192) >> 14) * gain;
  }
  return out;
}

function describeSharpError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return "not an image (unsupported or unrecognised format)";
  if (/premature end|truncated|end of file|corrupt|bad huffman|warning treated as error/i.test(message)) {
    return `truncated or corrupt image (${firstLine(message)})`;
  }
  if (/no such file|ENOENT|does not exist|missing/i.test(message)) return "file not found";
  return firstLine(message);
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}
