/**
 * Labels images as dog / not dog with a model trained by `deno task train`.
 *
 * Images go through the same preprocessing function as the training cache, with
 * the parameters stored in the model directory (size, scale, standardisation,
 * alpha background, orientation), so the caller needs to know none of them.
 *
 * @example Classify one image
 * ```ts
 * import { classify } from "./mod.ts";
 *
 * const result = await classify("fixtures/tiny-model/dog.jpg", { model: "fixtures/tiny-model" });
 * console.log(`${result.label} (P(dog) = ${result.probability.toFixed(3)})`);
 * ```
 *
 * @example Load once, classify many
 * ```ts
 * import { loadClassifier } from "./mod.ts";
 *
 * const classifier = await loadClassifier("fixtures/tiny-model");
 * const results = await classifier.classifyBatch(["fixtures/tiny-model/dog.jpg", "no/such/file.jpg"]);
 * for (const r of results) console.log(r instanceof Error ? `failed: ${r.message}` : r.label);
 * classifier.dispose();
 * ```
 * @module
 */
export {
  type Classifier,
  classify,
  type ClassifyOptions,
  DEFAULT_MODEL_DIR,
  ImageDecodeError,
  type ImageSource,
  InputSizeError,
  loadClassifier,
  ModelFileError,
  type ModelMetadata,
  type Prediction,
} from "./classify.ts";
