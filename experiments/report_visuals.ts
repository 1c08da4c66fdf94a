/**
 * What the report shows of a model beyond its numbers: the ROC curve and the histogram of P(dog) per true
 * class (SVG), the test images it got most confidently wrong and right (thumbnails of the source photos, or
 * of the cached records where a photo is gone), and its first layer's weights as images, each unit's
 * weights over the input's width × height: for a gray net in a diverging colour map (blue negative, white 0,
 * red positive), for a colour net as colours (each channel brighter where its weight is positive).
 * Images are small JPEGs inlined as data URIs, so the page stays one self-contained file.
 * @module
 */
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { loadSharp, renderChart } from "../lib/mod.ts";
import { openSplit, type SplitReader } from "../pipeline/mod.ts";
import { MODEL_FILES, type ModelMetadata } from "../model/mod.ts";
import type { PredictionRow } from "../train/mod.ts";

/** One image in the gallery of mistakes and successes. */
export interface GalleryImage {
  /** The source photo's path. */
  path: string;
  /** True label. */
  label: number;
  /** The model's P(label 1). */
  probability: number;
  /** A JPEG data URI of the photo (or of the cached record). */
  dataUri: string;
  /** Where the picture came from: the photo, or the cached gray record when the photo is gone. */
  from: "photo" | "cached record";
}

/** One first-layer unit's weights as a picture. */
export interface UnitImage {
  /** Unit index in the first layer. */
  unit: number;
  /** L2 norm of its weights (in standardised input space). */
  norm: number;
  /** A JPEG data URI. */
  dataUri: string;
}

/** Thumbnail edge in pixels. */
const THUMBNAIL = 96;

/** The test records the model got most confidently wrong (`wrong` of them) and right (`right`), worst first. */
export function extremes(
  rows: PredictionRow[],
  wrong = 16,
  right = 8,
): { wrong: PredictionRow[]; right: PredictionRow[] } {
  const test = rows.filter((r) => r.split === "test");
  const error = (r: PredictionRow) => Math.abs(r.label - r.probability);
  const mistakes = test.filter((r) => error(r) > 0.5).sort((a, b) => error(b) - error(a));
  const hits = test.filter((r) => error(r) <= 0.5).sort((a, b) => error(a) - error(b));
  return { wrong: mistakes.slice(0, wrong), right: hits.slice(0, right) };
}

/** Thumbnails of `rows`: each source photo, or the cached gray record of `splitDir` when the photo is gone. */
export async function galleryImages(rows: PredictionRow[], splitDir: string): Promise<GalleryImage[]> {
  const images: GalleryImage[] = [];
  // The cache is only needed where a photo is gone, and may itself be gone.
  const split: SplitReader | undefined = await openSplit(splitDir).catch(() => undefined);
  try {
    for (const row of rows) images.push(...await thumbnail(row, split));
  } finally {
    split?.close();
  }
  return images;
}

/** The thumbnail of one row: its photo, else its cached record, else none. */
async function thumbnail(row: PredictionRow, split: SplitReader | undefined): Promise<GalleryImage[]> {
  const sharp = await loadSharp();
  const dataUri = (jpeg: Uint8Array) => `data:image/jpeg;base64,${Buffer.from(jpeg).toString("base64")}`;
  try {
    const jpeg = await sharp(await Deno.readFile(row.path)).autoOrient()
      .resize(THUMBNAIL, THUMBNAIL, { fit: "cover" }).jpeg({ quality: 75 }).toBuffer();
    return [{ ...row, dataUri: dataUri(jpeg), from: "photo" }];
  } catch {
    if (!split) return [];
    const { width, height, scale } = split.manifest;
    const record = await split.readRecord(row.index);
    const pixels = Uint8Array.from(record, (v) => Math.round(scale === "unit" ? v * 255 : v));
    const jpeg = await sharp(pixels, { raw: { width, height, channels: split.manifest.channels ?? 1 } })
      .resize(THUMBNAIL, THUMBNAIL, { fit: "cover" }).jpeg({ quality: 75 }).toBuffer();
    return [{ ...row, dataUri: dataUri(jpeg), from: "cached record" }];
  }
}

/**
 * The first layer's weights of the model in `dir`, one picture per unit: every unit when there are at most
 * `limit`, else the `limit` with the largest weight norm. A model whose standardisation is folded into its
 * first layer is unfolded (W = W'·σ), so the pictures show the weights as trained, on standardised pixels.
 * Returns the pictures and the number of units the layer has.
 */
export async function firstLayerImages(
  dir: string,
  limit = 64,
): Promise<{ units: UnitImage[]; unitCount: number; colour: boolean }> {
  const json = JSON.parse(await Deno.readTextFile(join(dir, MODEL_FILES.model)));
  const metadata = json.userDefinedMetadata.dognet as ModelMetadata;
  const spec = json.weightsManifest[0].weights[0] as { name: string; shape: [number, number] };
  const [inputs, units] = spec.shape;
  if (!spec.name.endsWith("kernel") || inputs !== metadata.inputSize) {
    throw new Error(`${dir}: the first weight in model.json is ${spec.name}, not the first layer's kernel`);
  }
  // The kernel is the first thing in weights.bin: read just it ([inputs, units] float32, row-major).
  const kernel = new Float32Array(inputs * units);
  using file = await Deno.open(join(dir, json.weightsManifest[0].paths[0]), { read: true });
  const bytes = new Uint8Array(kernel.buffer);
  for (let done = 0; done < bytes.length;) {
    const n = await file.read(bytes.subarray(done));
    if (n === null) throw new Error(`${dir}: weights file ends inside the first layer`);
    done += n;
  }
  const folded = metadata.foldedStandardization;
  let scale: Float32Array | null = null;
  if (folded) {
    const stats = new Float32Array((await Deno.readFile(join(dir, folded.file))).buffer);
    scale = Float32Array.from({ length: inputs }, (_, j) => Math.max(stats[inputs + j], folded.stdFloor));
  }
  const weightsOf = (unit: number) =>
    Float32Array.from({ length: inputs }, (_, j) => kernel[j * units + unit] * (scale ? scale[j] : 1));
  const norms = Array.from({ length: units }, (_, u) => Math.hypot(...weightsOf(u)));
  const chosen = units <= limit
    ? norms.map((_, u) => u)
    : norms.map((_, u) => u).sort((a, b) => norms[b] - norms[a]).slice(0, limit);
  const side = metadata.preprocess.size;
  // A gray net's unit is one weight per pixel, drawn blue-white-red; a colour net's has a weight per channel,
  // drawn as that colour (mid-gray 0, each channel brighter where its weight is positive).
  const colour = (metadata.preprocess.channels ?? 1) === 3;
  const picture = colour ? weightColours : divergingColours;
  const sharp = await loadSharp();
  const images: UnitImage[] = [];
  for (const unit of chosen) {
    const rgb = picture(weightsOf(unit));
    const edge = Math.min(side, 114);
    const jpeg = await sharp(rgb, { raw: { width: side, height: side, channels: 3 } })
      .resize(edge, edge, { kernel: "linear" }).jpeg({ quality: 80 }).toBuffer();
    images.push({ unit, norm: norms[unit], dataUri: `data:image/jpeg;base64,${Buffer.from(jpeg).toString("base64")}` });
  }
  return { units: images, unitCount: units, colour };
}

/** A colour unit's weights (R, G, B per pixel) as a picture: 128 + 127·w/peak per channel, peak the largest magnitude. */
export function weightColours(values: Float32Array): Uint8Array {
  let peak = 0;
  for (const v of values) peak = Math.max(peak, Math.abs(v));
  return Uint8Array.from(values, (v) => Math.round(128 + (peak > 0 ? (127 * v) / peak : 0)));
}

/** Blue for negative, white for 0, red for positive, scaled by the largest magnitude. */
export function divergingColours(values: Float32Array): Uint8Array {
  let peak = 0;
  for (const v of values) peak = Math.max(peak, Math.abs(v));
  const rgb = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const t = peak > 0 ? values[i] / peak : 0; // -1..1
    const fade = Math.round(255 * (1 - Math.abs(t)));
    rgb.set(t >= 0 ? [255, fade, fade] : [fade, fade, 255], 3 * i);
  }
  return rgb;
}

/** The ROC curve of the test predictions, with the chance diagonal, as SVG. */
export function rocChart(rows: PredictionRow[], title: string, auc: number): string {
  const test = rows.filter((r) => r.split === "test").sort((a, b) => b.probability - a.probability);
  const positives = test.filter((r) => r.label === 1).length, negatives = test.length - positives;
  const points: [number, number][] = [[0, 0]];
  let tp = 0, fp = 0;
  for (let i = 0; i < test.length; i++) {
    if (test[i].label === 1) tp++;
    else fp++;
    // One point per distinct threshold: ties move both rates at once.
    if (i === test.length - 1 || test[i + 1].probability !== test[i].probability) {
      points.push([fp / Math.max(1, negatives), tp / Math.max(1, positives)]);
    }
  }
  return renderChart([{
    title: `${title}: ROC on test (AUC ${auc.toFixed(3)})`,
    xLabel: "false positive rate",
    yLabel: "true positive rate",
    xRange: [0, 1],
    series: [
      { name: "model", color: "#1f77b4", points },
      { name: "chance", color: "#999999", dashed: true, points: [[0, 0], [1, 1]] },
    ],
  }], { width: 400, height: 340 });
}

/** Histograms of P(dog) on test, one line per true class, in 20 bins, as SVG. */
export function probabilityHistogram(rows: PredictionRow[], title: string, classes: [string, string]): string {
  const bins = 20;
  const counts = [new Array(bins).fill(0), new Array(bins).fill(0)];
  for (const r of rows) if (r.split === "test") counts[r.label][Math.min(bins - 1, Math.floor(r.probability * bins))]++;
  const steps = (c: number[]) => c.flatMap((n, b) => [[b / bins, n], [(b + 1) / bins, n]] as [number, number][]);
  return renderChart([{
    title: `${title}: P(${classes[1]}) on test, by true class`,
    xLabel: `P(${classes[1]})`,
    yLabel: "records",
    xRange: [0, 1],
    series: [
      { name: `true ${classes[0]}`, color: "#d62728", points: steps(counts[0]) },
      { name: `true ${classes[1]}`, color: "#2ca02c", dashed: true, points: steps(counts[1]) },
    ],
  }], { width: 400, height: 340 });
}
