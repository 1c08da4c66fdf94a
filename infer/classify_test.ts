import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { classify, ImageDecodeError, InputSizeError, loadClassifier, ModelFileError } from "./mod.ts";
import { decodeImage } from "../pipeline/mod.ts";
import { makeEdgeCases } from "../fixtures/make_fixtures.ts";

const TINY = fileURLToPath(new URL("../fixtures/tiny-model/", import.meta.url));
const DOG = join(TINY, "dog.jpg");

Deno.test("classify() gives the same answer for a path, a URL, the bytes and the preprocessed floats", async () => {
  const classifier = await loadClassifier(TINY);
  const fromPath = await classifier.classify(DOG);
  const fromUrl = await classifier.classify(pathToFileURL(DOG));
  const fromBytes = await classifier.classify(await Deno.readFile(DOG));
  const floats = await decodeImage(DOG, classifier.metadata.preprocess);
  const fromFloats = await classifier.classify(floats);
  for (const r of [fromUrl, fromBytes, fromFloats]) assert.ok(Math.abs(r.probability - fromPath.probability) < 1e-6);
  assert.deepEqual({ label: fromPath.label, isDog: fromPath.isDog }, { label: "dog", isDog: true });
  assert.equal((await classifier.classify(join(TINY, "not-dog.jpg"))).label, "not_dog");
  // The module-level classify() loads the model once and answers the same.
  const viaModule = await classify(DOG, { model: TINY });
  assert.ok(Math.abs(viaModule.probability - fromPath.probability) < 1e-6);
  classifier.dispose();
});

Deno.test("classifyBatch() returns the others when one image is corrupt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "classify_test" });
  const edge = await makeEdgeCases(dir);
  const classifier = await loadClassifier(TINY);
  const results = await classifier.classifyBatch([DOG, edge.truncated, join(TINY, "not-dog.jpg"), new Float32Array(3)]);
  assert.equal(results.length, 4);
  assert.equal((results[0] as { label: string }).label, "dog");
  assert.ok(results[1] instanceof ImageDecodeError && /truncated or corrupt/.test(results[1].message));
  assert.equal((results[2] as { label: string }).label, "not_dog");
  assert.ok(
    results[3] instanceof InputSizeError && /takes 256 values .* got a Float32Array of 3/.test(results[3].message),
  );
  classifier.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("classify() reports bad models and bad images with typed errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "classify_test" });
  await assert.rejects(
    () => classify(DOG, { model: join(dir, "missing") }),
    (e) => e instanceof ModelFileError && /does not exist/.test(e.message),
  );
  await Deno.mkdir(join(dir, "partial"));
  await Deno.copyFile(join(TINY, "model.json"), join(dir, "partial", "model.json"));
  await assert.rejects(
    () => loadClassifier(join(dir, "partial")),
    (e) => e instanceof ModelFileError && /weights\.bin is missing/.test(e.message),
  );
  await Deno.writeFile(
    join(dir, "partial", "weights.bin"),
    (await Deno.readFile(join(TINY, "weights.bin"))).subarray(0, 64),
  );
  await assert.rejects(() => loadClassifier(join(dir, "partial")), /weights\.bin is 64 bytes/);
  const edge = await makeEdgeCases(join(dir, "edge"));
  const classifier = await loadClassifier(TINY);
  await assert.rejects(
    () => classifier.classify(edge.textAsJpeg),
    (e) => e instanceof ImageDecodeError && /not an image/.test(e.message),
  );
  await assert.rejects(() => classifier.classify(join(dir, "nope.jpg")), ImageDecodeError);
  await assert.rejects(() => classifier.classify(new Float32Array(100)), InputSizeError);
  classifier.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("classifyStream() answers in order across batches, with each bad image's error in its place", async () => {
  const dir = await Deno.makeTempDir({ prefix: "classify_test" });
  const edge = await makeEdgeCases(dir);
  const classifier = await loadClassifier(TINY);
  const images = [DOG, edge.truncated, join(TINY, "not-dog.jpg"), DOG, join(dir, "missing.jpg"), DOG, DOG];
  const expected = await classifier.classifyBatch(images);
  const streamed: unknown[] = [];
  for await (const answer of classifier.classifyStream(images, { batchSize: 3 })) streamed.push(answer);
  assert.equal(streamed.length, images.length);
  streamed.forEach((answer, i) => {
    // (libvips words a truncated JPEG's error differently from run to run; what it is stays the same.)
    const kind = (e: unknown) => (e as Error).message.split(" (")[0];
    if (expected[i] instanceof Error) assert.equal(kind(answer), kind(expected[i]));
    else assert.deepEqual(answer, expected[i]);
  });
  assert.ok(streamed[1] instanceof ImageDecodeError && streamed[4] instanceof ImageDecodeError);
  classifier.dispose();
  await Deno.remove(dir, { recursive: true });
});
