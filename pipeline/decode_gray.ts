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
  /** Resampling kernel for the resize (sharp/libvips name). */
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
 * Colour is reduced to 8-bit sRGB by libvips (CMYK, 16-bit, palette and gray inputs alike),
 * resized there, and the luma is taken in JavaScript because libvips' own `b-w`
 * conversion works in linear light and comes out about 3% brighter than OpenCV's.
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
  let data: Uint8Array;
  try {
    const result = await sharp(input, { failOn: "warning", animated: false })
      .autoOrient()
      .flatten({ background: params.background })
      .toColourspace("srgb")
      .resize(size, size, { fit: params.fit, kernel: params.resizeKernel })
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    if (result.info.channels !== 3) {
      throw new Error(`expected 3 sRGB channels after conversion, got ${result.info.channels}`);
    }
    data = result.data;
  } catch (error) {
    throw new ImageDecodeError(name, describeSharpError(error), { cause: error });
  }
  const unit = params.scale === "unit";
  for (let i = 0, p = 0; i < out.length; i++, p += 3) {
    const y = (4899 * data[p] + 9617 * data[p + 1] + 1868 * data[p + 2] + 8192) >> 14;
    out[i] = unit ? y / 255 : y;
  }
  return out;
}

function describeSharpError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(message)) return "not an image (unsupported or unrecognised format)";
  if (/premature end|truncated|end of file|VipsJpeg: .*(corrupt|bad)/i.test(message)) {
    return `truncated or corrupt image (${firstLine(message)})`;
  }
  if (/no such file|ENOENT|does not exist|missing/i.test(message)) return "file not found";
  return firstLine(message);
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}
