/**
 * The page `deno task serve` serves, bundled for the browser at start-up: the browser decodes each
 * photo (createImageBitmap, then a canvas), turns it into the model's input with the pipeline's own
 * gray or colour + resize code (pipeline/opencv_resize.ts, the same source the cache was built with), and
 * runs the model with stock TensorFlow.js, loaded from the server beside this script.
 *
 * `?photo=NAME` (repeatable) classifies `/model/NAME` at load (how the end-to-end test drives the page);
 * `&record=1` also writes the record into the page, to compare browsers' decoding with sharp's.
 * @module
 */
/// <reference lib="dom" />
// Single modules, not the folders' mod.ts: the rest (sharp, files, workers, tfjs' WASM) has no place in the page.
import { type OpencvKernel, pixelsToRecord } from "../pipeline/opencv_resize.ts";
import { mirrored } from "../pipeline/mirror.ts";
import { applyStandardization, standardizationFromStats } from "../model/standardization.ts";

/** The part of the tfjs global this page uses. */
interface TfGlobal {
  loadLayersModel(url: string): Promise<{ predict(x: unknown): { dataSync(): Float32Array; dispose(): void } }>;
  tensor2d(values: Float32Array, shape: [number, number]): { dispose(): void };
  ready(): Promise<void>;
  getBackend(): string;
}

/** What the page needs of model.json's `userDefinedMetadata.dognet`. */
interface PageMetadata {
  classes: [string, string];
  inputSize: number;
  /** `channels` is absent in models made before colour (gray); `linear` (libvips) is read as OpenCV's linear. */
  preprocess: { size: number; scale: "unit" | "raw"; channels?: 1 | 3; resizeKernel: OpencvKernel | "linear" };
  /** Older models: standardisation the page must apply itself (newer ones hold it in their first layer). */
  standardize: { file: string; stdFloor: number } | null;
  /** `flip`: P(dog) is the mean of the photo's and its mirror image's, as the model was chosen. */
  tta?: "none" | "flip";
}

const tf = (globalThis as unknown as { tf: TfGlobal }).tf;
const byId = (id: string) => document.getElementById(id)!;

/** The model and what it needs, loaded once. */
const ready = (async () => {
  const json = await (await fetch("/model/model.json")).json();
  const metadata = json.userDefinedMetadata.dognet as PageMetadata;
  const model = await tf.loadLayersModel("/model/model.json");
  await tf.ready();
  let standardize: ((x: Float32Array) => void) | null = null;
  if (metadata.standardize) {
    const stats = new Float32Array(await (await fetch(`/model/${metadata.standardize.file}`)).arrayBuffer());
    const standardization = standardizationFromStats(stats, metadata.inputSize, metadata.standardize.stdFloor);
    standardize = (x) => applyStandardization(x, standardization);
  }
  const { size, channels } = metadata.preprocess;
  byId("status").textContent = `model ready (${size}×${size} ${channels === 3 ? "colour" : "gray"}, ` +
    `tfjs backend ${tf.getBackend()}): pick or drop photos`;
  return { model, metadata, standardize };
})();

/** The model's input for one photo: decoded by the browser, made gray or kept colour and resized by the pipeline's code. */
async function toRecord(blob: Blob, metadata: PageMetadata): Promise<Float32Array> {
  const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", premultiplyAlpha: "none" });
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [bitmap.width, bitmap.height];
  const context = canvas.getContext("2d", { willReadFrequently: true })!;
  // Transparent pixels are flattened onto white, as the pipeline does.
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const { size, scale, resizeKernel } = metadata.preprocess;
  const channels = metadata.preprocess.channels ?? 1;
  const record = new Float32Array(size * size * channels);
  const pixels = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  const kernel = resizeKernel === "opencv-area" ? "opencv-area" : "opencv-linear";
  pixelsToRecord(pixels, canvas.width, canvas.height, 4, {
    size,
    channels,
    kernel,
    gain: scale === "unit" ? 1 / 255 : 1,
  }, record);
  return record;
}

/** Classifies one photo and adds a row for it: thumbnail, label, P(dog). */
async function classifyPhoto(blob: Blob, name: string, index: number, showRecord = false): Promise<void> {
  const { model, metadata, standardize } = await ready;
  const row = document.createElement("li");
  const thumbnail = document.createElement("img");
  thumbnail.src = URL.createObjectURL(blob);
  thumbnail.alt = name;
  const text = document.createElement("span");
  row.append(thumbnail, text);
  byId("results").append(row);
  try {
    const record = await toRecord(blob, metadata);
    const input = record.slice();
    standardize?.(input);
    const looks: Float32Array[] = [input];
    if (metadata.tta === "flip") {
      looks.push(mirrored(input, metadata.preprocess.size, metadata.preprocess.channels ?? 1));
    }
    const x = tf.tensor2d(Float32Array.from(looks.flatMap((look) => Array.from(look))), [
      looks.length,
      metadata.inputSize,
    ]);
    const y = model.predict(x);
    const answers = y.dataSync();
    const probability = answers.reduce((sum, p) => sum + p, 0) / answers.length;
    x.dispose();
    y.dispose();
    const isDog = probability > 0.5;
    row.id = `result-${index}`;
    row.className = isDog ? "dog" : "not-dog";
    row.dataset.label = metadata.classes[isDog ? 1 : 0];
    row.dataset.probability = String(probability);
    text.textContent = `${name}: ${metadata.classes[isDog ? 1 : 0]} (P(dog) = ${probability.toFixed(3)})`;
    if (showRecord) {
      const pre = document.createElement("pre");
      pre.id = `record-${index}`;
      pre.textContent = JSON.stringify(Array.from(record));
      row.append(pre);
    }
  } catch (error) {
    row.id = `result-${index}`;
    row.className = "error";
    row.dataset.error = String(error);
    text.textContent = `${name}: could not be classified (${error})`;
  }
}

let count = 0;

/** Classifies photos one after another, so a folder of fifty does not decode fifty at once. */
async function classifyFiles(files: Iterable<File>): Promise<void> {
  for (const file of files) {
    if (file.type.startsWith("image/") || /\.(jpe?g|png|webp|gif|bmp|avif)$/i.test(file.name)) {
      await classifyPhoto(file, file.name, count++);
    }
  }
}

const picker = byId("picker") as HTMLInputElement;
picker.addEventListener("change", () => classifyFiles(picker.files ?? []));
const zone = byId("drop");
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  classifyFiles(event.dataTransfer?.files ?? []);
});

const query = new URLSearchParams(location.search);
for (const photo of query.getAll("photo")) {
  const response = await fetch(`/model/${encodeURIComponent(photo)}`);
  await classifyPhoto(await response.blob(), photo, count++, query.get("record") === "1");
}
if (query.has("photo")) document.title = "classified";
ready.catch((error) => byId("status").textContent = `the model could not be loaded: ${error}`);
