/**
 * A generated image set of a learnable two-class task ("dog" = brighter top half),
 * laid out as ../shared/data's sets are: what the demo runs on when given no data,
 * and what tests and benchmarks train on. Seeded: the same files on every machine.
 * @module
 */
import { join } from "node:path";
import { loadSharp, seededRandom, toCsv } from "../lib/mod.ts";
import { preprocess, type PreprocessOptions } from "../pipeline/mod.ts";

/** Options for {@linkcode makeLabelledSet}. */
export interface LabelledSetOptions {
  /** Images per split (train, test), half of each class. */
  train?: number;
  /** Images in the test split. */
  test?: number;
  /** Image width in pixels. */
  width?: number;
  /** Image height in pixels. */
  height?: number;
  /** Seed for every random choice. */
  seed?: number;
}

/** One generated image: where it is and its class. */
export interface FixtureRecord {
  /** Path relative to the set's folder. */
  path: string;
  /** 1 = "dog" (bright top half), 0 = "not dog" (bright bottom half). */
  label: 0 | 1;
}

/**
 * Renders an RGB picture of the learnable task: label 1 is brighter in its top half,
 * label 0 in its bottom half, on a random tint with noise, so a linear model can
 * learn it but a constant guess cannot.
 */
export function renderTaskImage(
  label: 0 | 1,
  width: number,
  height: number,
  random: () => number,
): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  const base = 60 + random() * 60;
  const lift = 50 + random() * 60;
  const tint = [random() * 30, random() * 30, random() * 30];
  for (let y = 0; y < height; y++) {
    const bright = (y < height / 2) === (label === 1);
    for (let x = 0; x < width; x++) {
      const noise = (random() - 0.5) * 40;
      for (let c = 0; c < 3; c++) {
        const v = base + (bright ? lift : 0) + tint[c] + noise;
        pixels[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return pixels;
}

/** Encodes raw RGB pixels as a JPEG. */
export async function encodeJpeg(pixels: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const sharp = await loadSharp();
  return await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

/**
 * Writes a labelled set under `dir`: images/<split>/<n>.jpg plus train.csv and test.csv
 * with header `path,label`, paths relative to `dir` (the layout of ../shared/data).
 */
export async function makeLabelledSet(
  dir: string,
  options: LabelledSetOptions = {},
): Promise<{ train: FixtureRecord[]; test: FixtureRecord[] }> {
  const { train = 40, test = 20, width = 48, height = 40, seed = 1 } = options;
  const random = seededRandom(seed);
  const result: { train: FixtureRecord[]; test: FixtureRecord[] } = { train: [], test: [] };
  for (const [split, count] of [["train", train], ["test", test]] as const) {
    await Deno.mkdir(join(dir, "images", split), { recursive: true });
    const records: FixtureRecord[] = [];
    for (let i = 0; i < count; i++) {
      const label = (i % 2) as 0 | 1;
      const path = `images/${split}/${String(i).padStart(5, "0")}.jpg`;
      await Deno.writeFile(
        join(dir, path),
        await encodeJpeg(renderTaskImage(label, width, height, random), width, height),
      );
      records.push({ path, label });
    }
    await Deno.writeTextFile(
      join(dir, `${split}.csv`),
      toCsv(["path", "label"], records.map((r) => [r.path, r.label])),
    );
    result[split] = records;
  }
  return result;
}

/**
 * A labelled set written under `dir` ({@linkcode makeLabelledSet}) and preprocessed into `dir/cache` (its train
 * and test splits): what tests and benchmarks that train start from. Returns the set's records and the cache.
 */
export async function makeLabelledCache(
  dir: string,
  set: LabelledSetOptions,
  options: Pick<PreprocessOptions, "params" | "shardSize"> = {},
): Promise<{ train: FixtureRecord[]; test: FixtureRecord[]; cache: string }> {
  const records = await makeLabelledSet(dir, set);
  const cache = join(dir, "cache");
  await preprocess({ csvs: [join(dir, "train.csv"), join(dir, "test.csv")], out: cache, ...options });
  return { ...records, cache };
}
