/**
 * Classifying images with a trained model directory. Images go through the very
 * function the pipeline used to build the training cache ({@linkcode decodeImage}),
 * with the parameters stored in the model, then the net. Models hold the standardisation in their first layer;
 * a folder written before that (its metadata's `standardize` set) gets its statistics applied here, as before.
 * @module
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  channelsOf,
  decodeImage,
  DEFAULT_CONCURRENCY,
  ImageDecodeError,
  mirrored,
  prepareDecoding,
} from "../pipeline/mod.ts";
import { mapInOrder } from "../lib/mod.ts";
import {
  applyStandardization,
  ModelFileError,
  type ModelFiles,
  type ModelMetadata,
  readModelFiles,
  standardizationFromStats,
} from "../model/mod.ts";
import { chunkRanges, disposeMlp, initBackend, predictProbabilities, tf } from "../engine/mod.ts";
import { netFromModelFiles } from "./net.ts";

export { ImageDecodeError, ModelFileError };
export type { ModelMetadata };

/** An image: a file path, a file URL, encoded image bytes, or an already preprocessed Float32Array. */
export type ImageSource = string | URL | Uint8Array | Float32Array;

/** The model's answer for one image. */
export interface Prediction {
  /** Class name: the model's label-1 name (e.g. "dog") when isDog, else its label-0 name. */
  label: string;
  /** Whether P(dog) > 0.5. */
  isDog: boolean;
  /** The model's P(dog), in [0, 1]. */
  probability: number;
}

/** Options of {@linkcode classify}. */
export interface ClassifyOptions {
  /** Model directory; default: the `DOG_MODEL` environment variable, else {@linkcode DEFAULT_MODEL_DIR}. */
  model?: string;
}

/** Where {@linkcode classify} looks for a model when neither `options.model` nor `DOG_MODEL` is set. */
export const DEFAULT_MODEL_DIR = "models/default";

/** Raised when a preprocessed Float32Array does not have the model's input size. */
export class InputSizeError extends RangeError {
  /** Creates the error; `channels` (1 gray, 3 colour) describes the image the model takes. */
  constructor(readonly expected: number, readonly actual: number, channels: 1 | 3 = 1) {
    const side = Math.sqrt(expected / channels);
    super(
      `the model takes ${expected} values (a ${side}x${side} ${channels === 3 ? "colour" : "gray"} image), ` +
        `got a Float32Array of ${actual}`,
    );
    this.name = "InputSizeError";
  }
}

/** A loaded model, ready to classify. */
export interface Classifier {
  /** Classifies one image. */
  classify(image: ImageSource): Promise<Prediction>;
  /**
   * Classifies many images in one forward pass, decoding several at once; a bad image gives an Error in its
   * place, the others are still classified.
   */
  classifyBatch(images: ImageSource[]): Promise<(Prediction | Error)[]>;
  /**
   * Classifies any number of images in batches of `batchSize` (default 64), yielding each answer (or Error) in
   * order: the next batch is decoded (on sharp's threads) while the net works on this one, and at most two
   * batches are held at once, so a folder of 100,000 photos streams through in bounded memory.
   */
  classifyStream(images: Iterable<ImageSource>, options?: { batchSize?: number }): AsyncGenerator<Prediction | Error>;
  /** Values per preprocessed input (size·size·channels). */
  inputSize: number;
  /** What the model was trained on and how its inputs are made. */
  metadata: ModelMetadata;
  /** Frees the model. */
  dispose(): void;
}

/** Loads a model directory once; the returned classifier reuses it for every call. */
export async function loadClassifier(modelDir: string): Promise<Classifier> {
  // The decoder and the record kernels load while the model does; a failure (no FFI permission: the caller
  // classifies records only) is raised where an image is first decoded, not here.
  prepareDecoding().catch(() => {});
  // The model's files are read (on I/O threads) while the backend compiles its kernels.
  const [files] = await Promise.all([readModelFiles(modelDir), initBackend(currentBackend())]);
  const { metadata } = files;
  const inputSize = metadata.inputSize;
  const standardization = files.stats && metadata.standardize
    ? standardizationFromStats(files.stats, inputSize, metadata.standardize.stdFloor)
    : undefined;
  const net = await netOf(files);

  async function prepare(image: ImageSource): Promise<Float32Array> {
    if (image instanceof Float32Array) {
      if (image.length !== inputSize) {
        throw new InputSizeError(inputSize, image.length, channelsOf(metadata.preprocess));
      }
      const copy = image.slice();
      return standardization ? applyStandardization(copy, standardization) : copy;
    }
    const source = image instanceof URL ? fileURLToPath(image) : image;
    const values = await decodeImage(source, metadata.preprocess);
    return standardization ? applyStandardization(values, standardization) : values;
  }

  /** An image prepared, or the error that stopped it (never a rejection). */
  function settle(image: ImageSource): Promise<Float32Array | Error> {
    return prepare(image).catch((error: Error) => error);
  }

  /** The answers for prepared images, in their order, errors in their places, in one forward pass. */
  function answer(prepared: (Float32Array | Error)[]): (Prediction | Error)[] {
    const good = prepared.filter((p): p is Float32Array => p instanceof Float32Array);
    const predictions = good.length > 0 ? predict(good) : [];
    let next = 0;
    return prepared.map((p) => (p instanceof Error ? p : predictions[next++]));
  }

  const { size } = metadata.preprocess, channels = channelsOf(metadata.preprocess);
  function predict(inputs: Float32Array[]): Prediction[] {
    const probabilities = net.predict(inputs);
    if (metadata.tta === "flip") {
      // The model was chosen with flip averaging: each answer is the mean of the image's and its mirror's. Such
      // models hold their standardisation in the first layer, so the inputs are records as stored and their
      // mirrors are the mirror images' records.
      const mirrorP = net.predict(inputs.map((x) => mirrored(x, size, channels)));
      for (let i = 0; i < probabilities.length; i++) probabilities[i] = (probabilities[i] + mirrorP[i]) / 2;
    }
    return Array.from(
      probabilities,
      (p) => ({ label: metadata.classes[p > 0.5 ? 1 : 0], isDog: p > 0.5, probability: p }),
    );
  }

  return {
    inputSize,
    metadata,
    async classify(image) {
      return predict([await prepare(image)])[0];
    },
    async classifyBatch(images) {
      const prepared: (Float32Array | Error)[] = [];
      for await (const p of mapInOrder(images, settle, { concurrency: DEFAULT_CONCURRENCY })) prepared.push(p);
      return answer(prepared);
    },
    async *classifyStream(images, options = {}) {
      const batchSize = options.batchSize ?? 64;
      const batches = chunked(images, batchSize);
      // All of a batch's decodes are started at once, so that sharp's threads keep decoding the next batch
      // while this thread runs the net on the current one.
      const start = (batch: ImageSource[]) => Promise.all(batch.map(settle));
      let next = batches.next();
      let pending = next.done ? null : start(next.value);
      while (pending) {
        const prepared = await pending;
        next = batches.next();
        pending = next.done ? null : start(next.value);
        yield* answer(prepared);
      }
    },
    dispose() {
      net.dispose();
    },
  };
}

const loaded = new Map<string, Promise<Classifier>>();

/**
 * Classifies one image with the model in `options.model` (or `DOG_MODEL`, or
 * {@linkcode DEFAULT_MODEL_DIR}), loading that model on first use only.
 */
export async function classify(image: ImageSource, options: ClassifyOptions = {}): Promise<Prediction> {
  const dir = resolve(options.model ?? Deno.env.get("DOG_MODEL") ?? DEFAULT_MODEL_DIR);
  let classifier = loaded.get(dir);
  if (!classifier) {
    classifier = loadClassifier(dir);
    loaded.set(dir, classifier);
    // A failed load is not cached, so a later call can succeed once the files are there.
    classifier.catch(() => loaded.delete(dir));
  }
  return await (await classifier).classify(image);
}

/** Groups of `size` items of `items`, taken lazily. */
function* chunked<T>(items: Iterable<T>, size: number): Generator<T[]> {
  let group: T[] = [];
  for (const item of items) {
    group.push(item);
    if (group.length === size) {
      yield group;
      group = [];
    }
  }
  if (group.length > 0) yield group;
}

/** A loaded net: P(label 1) for a batch of prepared inputs. */
interface LoadedNet {
  predict(inputs: Float32Array[]): Float32Array;
  dispose(): void;
}

/**
 * The saved net on the training engine (infer/net.ts) when its topology is the project's chain, which is
 * several times faster; any other tfjs layers model through tfjs-layers.
 */
async function netOf(files: ModelFiles): Promise<LoadedNet> {
  const inputSize = files.metadata.inputSize;
  const mlp = netFromModelFiles(files);
  if (mlp) {
    const ranges = chunkRanges(inputSize);
    return {
      predict(inputs) {
        // The engine takes the batch in column chunks, [batch, chunk] each, like the first layer's weight.
        const chunks = ranges.map(([a, b]) => {
          const values = new Float32Array(inputs.length * (b - a));
          inputs.forEach((x, i) => values.set(x.subarray(a, b), i * (b - a)));
          return tf.tensor2d(values, [inputs.length, b - a]);
        });
        const p = predictProbabilities(mlp, chunks);
        const probabilities = p.dataSync() as Float32Array;
        p.dispose();
        chunks.forEach((c) => c.dispose());
        return probabilities;
      },
      dispose: () => disposeMlp(mlp),
    };
  }
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: files.json.modelTopology as object,
    weightSpecs: files.weightSpecs as tf.io.WeightsManifestEntry[],
    weightData: files.weightData.slice().buffer as ArrayBuffer,
  }));
  return {
    predict(inputs) {
      const batch = new Float32Array(inputs.length * inputSize);
      inputs.forEach((x, i) => batch.set(x, i * inputSize));
      return tf.tidy(() =>
        (model.predict(tf.tensor2d(batch, [inputs.length, inputSize])) as tf.Tensor).dataSync() as Float32Array
      );
    },
    dispose: () => model.dispose(),
  };
}

function currentBackend(): "wasm" | "cpu" {
  return tf.getBackend() === "cpu" ? "cpu" : "wasm";
}
