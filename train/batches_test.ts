import assert from "node:assert/strict";
import { join } from "node:path";
import { mixBatch, splitInMemory, splitTrainValidation } from "./batches.ts";
import { openSplit } from "../pipeline/mod.ts";
import { makeLabelledCache } from "../demo/mod.ts";

const labels = Uint8Array.from({ length: 40 }, (_, i) => (i < 24 ? 0 : 1));

Deno.test("splitTrainValidation() is stratified, seeded and disjoint", () => {
  const a = splitTrainValidation(labels, { fraction: 0.25, seed: 5 });
  const b = splitTrainValidation(labels, { fraction: 0.25, seed: 5 });
  assert.deepEqual(a, b);
  assert.equal(a.train.length + a.validation.length, 40);
  assert.equal(new Set([...a.train, ...a.validation]).size, 40);
  assert.equal(Array.from(a.validation).filter((i) => labels[i] === 0).length, 6);
  assert.equal(Array.from(a.validation).filter((i) => labels[i] === 1).length, 4);
  const limited = splitTrainValidation(labels, { fraction: 0, seed: 5, limit: 10 });
  assert.equal(limited.train.length, 10);
  assert.equal(Array.from(limited.train).filter((i) => labels[i] === 1).length, 4);
});

Deno.test("splitTrainValidation() keeps an image and its mirrored copy on the same side", () => {
  // Records 2g and 2g+1 are one image (a split preprocessed with --augment flip).
  const pairs = Uint8Array.from({ length: 40 }, (_, i) => (Math.floor(i / 2) % 3 === 0 ? 1 : 0));
  const { train, validation } = splitTrainValidation(pairs, { fraction: 0.3, seed: 2, groupSize: 2 });
  const held = new Set(validation);
  for (let g = 0; g < 20; g++) assert.equal(held.has(2 * g), held.has(2 * g + 1), `pair ${g} split apart`);
  assert.equal(train.length + validation.length, 40);
  assert.equal(validation.length % 2, 0);
  const limited = splitTrainValidation(pairs, { fraction: 0, seed: 2, groupSize: 2, limit: 9 });
  assert.equal(limited.train.length, 10); // whole pairs: 9 records round up to 5 images
  assert.throws(() => splitTrainValidation(labels.subarray(0, 39), { fraction: 0, seed: 1, groupSize: 2 }), RangeError);
});

Deno.test("splitInMemory() serves the batches the shards do, reading each record from its shard once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batches_test" });
  await makeLabelledCache(dir, { train: 20, test: 4, width: 24, height: 20, seed: 2 }, {
    params: { size: 16 },
    shardSize: 6,
  });
  using reader = await openSplit(join(dir, "cache", "train"));
  let reads = 0;
  const counted = Object.assign(Object.create(reader), {
    readBatch: (indices: ArrayLike<number>) => {
      reads += indices.length;
      return reader.readBatch(indices);
    },
  }) as typeof reader;
  const memory = splitInMemory(counted);
  for (const indices of [[3, 17, 0, 9], [9, 3, 12, 19, 4], [0, 1, 2, 3, 4, 5, 6]]) {
    const [fromShards, fromMemory] = await Promise.all([reader.readBatch(indices), memory.readBatch(indices)]);
    assert.deepEqual(fromMemory.values, fromShards.values);
    assert.deepEqual(fromMemory.labels, fromShards.labels);
    assert.deepEqual(Array.from(fromMemory.indices), indices);
  }
  assert.equal(reads, 11, "each of the 11 distinct records read from its shard once");
  await assert.rejects(() => memory.readBatch([20]), RangeError);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("mixBatch() mixes each record and label with its partner from the other end, the middle one alone", () => {
  const rows = Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]); // five records of width 2
  const labels = Float32Array.from([1, 0, 1, 0, 0]);
  mixBatch(rows, labels, 2, 0.75);
  assert.deepEqual(Array.from(rows), [1, 1, 1.5, 1.5, 2, 2, 2.5, 2.5, 3, 3]);
  assert.deepEqual(Array.from(labels), [0.75, 0, 1, 0, 0.25]);
});
