/**
 * Classifying images with a trained model directory. Images go through the very
 * function the pipeline used to build the training cache ({@linkcode decodeGray}),
 * with the parameters stored in the model, then the net. Models hold the standardisation in their first layer;
 * a folder written before that (its metadata's `standardize` set) gets its statistics applied here, as before.
 * @module
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeGray, DEFAULT_CONCURRENCY, ImageDecodeError } from "../pipeline/mod.ts";
import { mapInOrder } from "../lib/mod.ts";
import { applyStandardization, loadLayersModel, ModelFileError, type ModelMetadata } from "../model/mod.ts";
import { initBackend, tf } from "../engine/mod.ts";

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
  /** Creates the error. */
  constructor(readonly expected: number, readonly actual: number) {
    super(
      `the model takes ${expected} values (a ${Math.sqrt(expected)}x${
        Math.sqrt(expected)
      } image), got a Float32Array of ${actual}`,
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
  /** Values per preprocessed input (size*size). */
  inputSize: number;
  /** What the model was trained on and how its inputs are made. */
  metadata: ModelMetadata;
  /** Frees the model. */
  dispose(): void;
}

/** Loads a model directory once; the returned classifier reuses it for every call. */
export async function loadClassifier(modelDir: string): Promise<Classifier> {
  await initBackend(currentBackend());
  const { model, metadata, standardization } = await loadLayersModel(modelDir);
  const inputSize = metadata.inputSize;

  async function prepare(image: ImageSource): Promise<Float32Array> {
    if (image instanceof Float32Array) {
      if (image.length !== inputSize) throw new InputSizeError(inputSize, image.length);
      const copy = image.slice();
      return standardization ? applyStandardization(copy, standardization) : copy;
    }
    const source = image instanceof URL ? fileURLToPath(image) : image;
    const values = await decodeGray(source, metadata.preprocess);
    return standardization ? applyStandardization(values, standardization) : values;
  }

  function predict(inputs: Float32Array[]): Prediction[] {
    const batch = new Float32Array(inputs.length * inputSize);
    inputs.forEach((x, i) => batch.set(x, i * inputSize));
    const probabilities = tf.tidy(() =>
      (model.predict(tf.tensor2d(batch, [inputs.length, inputSize])) as tf.Tensor).dataSync()
    );
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
      const decode = (image: ImageSource) => prepare(image).catch((error: Error) => error);
      for await (const p of mapInOrder(images, decode, { concurrency: DEFAULT_CONCURRENCY })) prepared.push(p);
      const good = prepared.filter((p): p is Float32Array => p instanceof Float32Array);
      const predictions = good.length > 0 ? predict(good) : [];
      let next = 0;
      return prepared.map((p) => (p instanceof Error ? p : predictions[next++]));
    },
    dispose() {
      model.dispose();
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

function currentBackend(): "wasm" | "cpu" {
  return tf.getBackend() === "cpu" ? "cpu" : "wasm";
}
