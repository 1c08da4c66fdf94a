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
import { tf } from "../engine/mod.ts";
import { type Standardization, standardizationFromStats } from "./standardization.ts";

/** File names inside a model directory. */
export const MODEL_FILES = { model: "model.json", weights: "weights.bin", stats: "pixel-stats.f32" } as const;

/** What a model carries besides its weights. */
export interface ModelMetadata {
  /** Inputs (size*size). */
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
  /** Which preset or shape the net has. */
  architecture: { model: string; hidden: number[]; batchNorm: boolean; dropout: number };
}

/** Raised when a model directory is missing, incomplete or inconsistent. */
export class ModelFileError extends Error {
  /** Creates the error; the message names the file. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelFileError";
  }
}

/** Writes `model` as model.json + weights.bin in `dir` (weights first, each file atomically). */
export async function saveLayersModel(dir: string, model: tf.LayersModel, metadata: ModelMetadata): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weightData = artifacts.weightData;
    const bytes = weightData instanceof ArrayBuffer
      ? new Uint8Array(weightData)
      : new Uint8Array(await new Blob((weightData ?? []) as ArrayBuffer[]).arrayBuffer());
    await writeFileAtomic(join(dir, MODEL_FILES.weights), bytes);
    // Written after the weights, model.json names their fingerprint: a reader that catches the two files
    // mid-replacement (new weights, old model.json) is told so instead of loading a mix.
    const dognet: ModelMetadata = { ...metadata, weightsFingerprint: weightsFingerprint(bytes) };
    const json = {
      format: artifacts.format ?? "layers-model",
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [MODEL_FILES.weights], weights: artifacts.weightSpecs }],
      userDefinedMetadata: { dognet },
    };
    await writeFileAtomic(join(dir, MODEL_FILES.model), new TextEncoder().encode(JSON.stringify(json)));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: bytes.length } };
  }));
}

/**
 * A cheap fingerprint of weight bytes: sha256 of their length and of their first and last 64 KiB. Every
 * training step changes every weight, so two epochs' files never share it; hashing all of part3's 245 MB
 * would add a second to every load.
 */
export function weightsFingerprint(bytes: Uint8Array): string {
  const edge = 64 << 10;
  const hash = createHash("sha256").update(String(bytes.length));
  hash.update(bytes.subarray(0, edge)).update(bytes.subarray(Math.max(edge, bytes.length - edge)));
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
