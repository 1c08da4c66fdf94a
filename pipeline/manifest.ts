/**
 * The on-disk format of a preprocessed split, and reading/writing its manifest.
 *
 * A split folder holds:
 * - `shard-00000.f32`, ...: little-endian float32 records of width*height*channels values,
 *   row-major, one after another, nothing else (`numpy.fromfile(f, "<f4").reshape(-1, h, w, channels)`); a
 *   colour record holds R, G, B for each pixel in turn (height × width × 3, as numpy's HWC images);
 * - `labels.u8`: one byte (0 or 1) per record, in record order across shards;
 * - `records.csv`: `index,shard,line,path,label,flipped` per record (the source row of each;
 *   `flipped` is 1 for the mirrored copy an augmented split stores after each record);
 * - `pixel-stats.f32`: mean per value of a record (per pixel and channel) then standard deviation;
 * - `rejected.csv`: `line,path,reason` for skipped rows, when there were any;
 * - `manifest.json`: this module's {@linkcode Manifest}, written last: a split
 *   without one is incomplete.
 * @module
 */
import { join } from "node:path";
import type { PreprocessParams } from "./decode_image.ts";
import { writeFileAtomic } from "../lib/mod.ts";

/** Version of the split layout; readers refuse other versions. */
export const SHARD_FORMAT_VERSION = 1;
/** Name of the manifest file inside a split folder. */
export const MANIFEST_FILE = "manifest.json";

/** One shard file and its contents' digest. */
export interface ShardEntry {
  /** File name inside the split folder. */
  file: string;
  /** Records in this shard. */
  count: number;
  /** sha256 of the file, hex. */
  sha256: string;
  /** Digest of everything that decided this shard's bytes (rows, image sizes and times, parameters). */
  inputKey: string;
}

/** The description of a complete split. */
export interface Manifest {
  /** {@linkcode SHARD_FORMAT_VERSION} when written. */
  formatVersion: number;
  /** Pixels per row of a record. */
  width: number;
  /** Rows of a record. */
  height: number;
  /** Values per pixel: 1 gray, 3 R, G, B. Absent in caches made before colour existed (gray). */
  channels?: 1 | 3;
  /** Float32 values per record (width*height*channels). */
  recordSize: number;
  /** Byte order and type of shard values. */
  dtype: "float32-le";
  /** Records in the split. */
  count: number;
  /** Records per label: index 0 = label 0, index 1 = label 1. */
  countPerClass: [number, number];
  /** Class names for label 0 and label 1. */
  classes: [string, string];
  /** Pixel scaling (`unit` = /255, `raw` = 0..255). */
  scale: PreprocessParams["scale"];
  /**
   * `flip`: each image is stored twice, as is then mirrored left to right (records 2i and 2i+1 share a
   * source row; splits of the data must keep them together). Absent or null: one record per image.
   */
  augmentation?: "flip" | null;
  /** Every preprocessing parameter. */
  preprocess: PreprocessParams & { grayscaleFormula: string; decoder: string };
  /** Per-pixel statistics of the split (for standardisation). */
  pixelStats: { file: string; sha256: string; layout: string; mean: number; std: number };
  /** The CSV the split came from. */
  source: { csv: string; sha256: string; root: string; rows: number; rejected: number };
  /** Files that list records and rejections. */
  files: { labels: string; records: string; rejected: string | null };
  /** Target records per shard. */
  shardSize: number;
  /** The shards in record order. */
  shards: ShardEntry[];
  /** When the split was completed (ISO 8601). */
  createdAt: string;
}

/** Raised when a split folder is missing, incomplete, or disagrees with its manifest. */
export class SplitFormatError extends Error {
  /** Creates the error; the message names the folder or file. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SplitFormatError";
  }
}

/** Reads and checks the manifest of the split in `dir`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new SplitFormatError(
        `${dir} is not a complete split: ${MANIFEST_FILE} is missing (run \`deno task preprocess\` to finish it)`,
      );
    }
    throw error;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new SplitFormatError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (manifest.formatVersion !== SHARD_FORMAT_VERSION) {
    throw new SplitFormatError(
      `${path} has formatVersion ${manifest.formatVersion}, this version reads ${SHARD_FORMAT_VERSION}: rerun \`deno task preprocess\``,
    );
  }
  return manifest;
}

/** Reads the manifest of `dir` if it is there and readable, else null. */
export async function tryReadManifest(dir: string): Promise<Manifest | null> {
  try {
    return await readManifest(dir);
  } catch {
    return null;
  }
}

/** Writes the manifest atomically. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"));
}
