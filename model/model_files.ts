/**
 * Model files: the trained net as a standard TensorFlow.js layers model
 * (`model.json` + `weights.bin`, loadable with `tf.loadLayersModel` in a browser),
 * written and read through our own IOHandler because tfjs's `file://` handler
 * needs tfjs-node. Training writes with this module and inference reads with it.
 *
 * `model.json`'s `userDefinedMetadata.dognet` holds what inference needs to
 * repeat the preprocessing: {@linkcode ModelMetadata}.
 * @module
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import { writeFileAtomic } from "../lib/mod.ts";
import type { PreprocessParams } from "../pipeline/mod.ts";
import { tensorMemory, tf } from "../engine/mod.ts";
import { type Standardization, standardizationFromStats } from "./standardization.ts";

/** File names inside a model directory. */
export const MODEL_FILES = { model: "model.json", weights: "weights.bin", stats: "pixel-stats.f32" } as const;

/** What a model carries besides its weights. */
export interface ModelMetadata {
  /** Inputs (size·size·channels). */
  inputSize: number;
  /** Names of label 0 and label 1. */
  classes: [string, string];
  /** The preprocessing the training data had (from the cache's manifest). */
  preprocess: PreprocessParams;
  /**
   * Per-pixel standardisation inference applies before the net, with its statistics file in the model
   * directory. Null in models written since the standardisation is folded into the first layer (see
   * `foldedStandardization`); set in older models, whose first layer expects standardised pixels.
   */
  standardize: { file: string; stdFloor: number } | null;
  /** The standardisation training applied, folded into the first layer (its statistics kept for reference). */
  foldedStandardization?: { file: string; stdFloor: number } | null;
  /** {@linkcode weightsFingerprint} of weights.bin, set by {@linkcode saveLayersModel} (absent in older models). */
  weightsFingerprint?: string;
  /** Which preset or shape the net has (`residual` for the residual MLP). */
  architecture: {
    model: string;
    hidden: number[];
    batchNorm: boolean;
    dropout: number;
    residual?: { width: number; depth: number; expansion: number };
  };
  /**
   * Test-time augmentation the model is meant to be used with: `flip` averages P(dog) of the image and of its
   * mirror image (classify() and the page do). Absent in older models: none.
   */
  tta?: "none" | "flip";
}

/** Raised when a model directory is missing, incomplete or inconsistent. */
export class ModelFileError extends Error {
  /** Creates the error; the message names the file. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelFileError";
  }
}

/**
 * Writes `model` as model.json + weights.bin in `dir` (weights first, each file atomically): what tfjs'
 * `model.save()` would hand an IOHandler (tested byte for byte), without its two full copies of the weights
 * (each read out of the backend, then all joined): the weight tensors' own bytes go to the file one after
 * another. For part3 that took the save from 1.7 s to well under one.
 */
export async function saveLayersModel(dir: string, model: tf.LayersModel, metadata: ModelMetadata): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  // model.weights is the order of model.save()'s getNamedWeights(); views are taken afresh for each use.
  const weights = model.weights;
  const parts = () => weights.map((w) => bytesOf(tensorMemory(w.read())));
  await writeFileAtomic(join(dir, MODEL_FILES.weights), parts());
  // Written after the weights, model.json names their fingerprint: a reader that catches the two files
  // mid-replacement (new weights, old model.json) is told so instead of loading a mix.
  const dognet: ModelMetadata = { ...metadata, weightsFingerprint: weightsFingerprint(parts()) };
  const json = {
    format: "layers-model",
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version["tfjs-layers"]}`,
    convertedBy: null,
    modelTopology: model.toJSON(null, false),
    weightsManifest: [{
      paths: [MODEL_FILES.weights],
      weights: weights.map((w) => ({ name: w.originalName, shape: w.shape, dtype: w.dtype })),
    }],
    userDefinedMetadata: { dognet },
  };
  await writeFileAtomic(join(dir, MODEL_FILES.model), new TextEncoder().encode(JSON.stringify(json)));
}

const bytesOf = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/**
 * A cheap fingerprint of weight bytes (given whole or as the parts of the file, in order): sha256 of their
 * length and of their first and last 64 KiB. Every training step changes every weight, so two epochs' files
 * never share it; hashing all of part3's 245 MB would add a second to every load.
 */
export function weightsFingerprint(bytes: Uint8Array | Uint8Array[]): string {
  const parts = Array.isArray(bytes) ? bytes : [bytes];
  const length = parts.reduce((n, part) => n + part.length, 0);
  const edge = 64 << 10;
  const hash = createHash("sha256").update(String(length));
  // The bytes [from, to) of the parts taken as one, hashed.
  const update = (from: number, to: number) => {
    let start = 0;
    for (const part of parts) {
      const a = Math.max(from, start), b = Math.min(to, start + part.length);
      if (a < b) hash.update(part.subarray(a - start, b - start));
      start += part.length;
    }
  };
  update(0, Math.min(edge, length));
  update(Math.max(edge, length - edge), length);
  return hash.digest("hex");
}

/** A model read back from a directory. */
export interface LoadedModel {
  /** The tfjs layers model. */
  model: tf.LayersModel;
  /** Its metadata. */
  metadata: ModelMetadata;
  /** The standardisation statistics (mean then std), when the model uses them. */
  stats: Float32Array | null;
  /** The standardisation made from them (with the model's std floor), for inputs; undefined when none. */
  standardization: Standardization | undefined;
}

/** A model directory's files read and checked against each other, before any tensor is made. */
export interface ModelFiles {
  /** model.json, parsed. */
  json: {
    modelTopology: unknown;
    weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
    userDefinedMetadata: { dognet: ModelMetadata };
  };
  /** The dognet metadata. */
  metadata: ModelMetadata;
  /** The weight specs, in weights.bin's order. */
  weightSpecs: WeightSpec[];
  /** weights.bin's bytes. */
  weightData: Uint8Array;
  /** The standardisation statistics inference must apply (older models only), or null. */
  stats: Float32Array | null;
}

/** One weight in weights.bin: its name and shape (float32 values, row-major). */
export interface WeightSpec {
  /** Layer and weight name, e.g. `dense_1/kernel`. */
  name: string;
  /** Its shape. */
  shape: number[];
}

/** Reads a model directory written by {@linkcode saveLayersModel}, checking every file against model.json. */
export async function readModelFiles(dir: string): Promise<ModelFiles> {
  const modelPath = join(dir, MODEL_FILES.model);
  const text = await readOrExplain(modelPath, dir, (p) => Deno.readTextFile(p));
  let json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelFileError(`${modelPath} is not valid JSON (truncated?): ${(error as Error).message}`, {
      cause: error,
    });
  }
  const manifest = json.weightsManifest?.[0];
  const metadata: ModelMetadata | undefined = json.userDefinedMetadata?.dognet;
  if (!json.modelTopology || !manifest?.weights || !metadata) {
    throw new ModelFileError(
      `${modelPath} is not a dognet tfjs layers model (no modelTopology, weightsManifest or metadata)`,
    );
  }
  const weightsPath = join(dir, manifest.paths[0]);
  const weightData = await readOrExplain(weightsPath, dir, readWhole);
  const expected = manifest.weights.reduce(
    (n: number, w: { shape: number[] }) => n + 4 * w.shape.reduce((a: number, b: number) => a * b, 1),
    0,
  );
  if (weightData.length !== expected) {
    throw new ModelFileError(
      `${weightsPath} is ${weightData.length} bytes, ${modelPath} describes ${expected}: the files do not belong together or one is truncated`,
    );
  }
  if (metadata.weightsFingerprint && metadata.weightsFingerprint !== weightsFingerprint(weightData)) {
    throw new ModelFileError(
      `${weightsPath} is not the one ${modelPath} was written with: a run is replacing the model (load it again ` +
        `when it has finished), or the files come from different runs`,
    );
  }
  let stats: Float32Array | null = null;
  if (metadata.standardize) {
    const bytes = await readOrExplain(join(dir, metadata.standardize.file), dir, (p) => Deno.readFile(p));
    if (bytes.length !== metadata.inputSize * 8) {
      throw new ModelFileError(
        `${join(dir, metadata.standardize.file)} has ${bytes.length} bytes, expected ${metadata.inputSize * 8}`,
      );
    }
    stats = new Float32Array(bytes.buffer, bytes.byteOffset, metadata.inputSize * 2);
  }
  return { json, metadata, weightSpecs: manifest.weights, weightData, stats };
}

/**
 * A whole file, read in 8 MiB chunks into one buffer of its size: on these VMs several times faster than
 * `Deno.readFile` for a part3 model's 245 MB.
 */
async function readWhole(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const bytes = new Uint8Array((await file.stat()).size);
  for (let done = 0; done < bytes.length;) {
    const n = await file.read(bytes.subarray(done, Math.min(bytes.length, done + (8 << 20))));
    if (n === null) return bytes.subarray(0, done);
    done += n;
  }
  return bytes;
}

/** Reads a model directory written by {@linkcode saveLayersModel} into a tfjs layers model, checking its files. */
export async function loadLayersModel(dir: string): Promise<LoadedModel> {
  const modelPath = join(dir, MODEL_FILES.model);
  const { json, metadata, weightSpecs, weightData, stats } = await readModelFiles(dir);
  const manifest = { weights: weightSpecs };
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: manifest.weights,
    weightData: weightData.buffer.slice(
      weightData.byteOffset,
      weightData.byteOffset + weightData.length,
    ) as ArrayBuffer,
  }));
  const inputShape = model.inputs[0].shape;
  if (inputShape[1] !== metadata.inputSize) {
    model.dispose();
    throw new ModelFileError(
      `${modelPath}: the net takes ${inputShape[1]} inputs but its metadata says ${metadata.inputSize}`,
    );
  }
  const standardization = stats && metadata.standardize
    ? standardizationFromStats(stats, metadata.inputSize, metadata.standardize.stdFloor)
    : undefined;
  return { model, metadata, stats, standardization };
}

async function readOrExplain<T>(path: string, dir: string, read: (path: string) => Promise<T>): Promise<T> {
  try {
    return await read(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const dirExists = await Deno.stat(dir).then(() => true, () => false);
      throw new ModelFileError(
        dirExists
          ? `${path} is missing: ${dir} is not a complete model directory`
          : `model directory ${dir} does not exist`,
      );
    }
    throw error;
  }
}
