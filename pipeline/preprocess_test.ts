import assert from "node:assert/strict";
import { join } from "node:path";
import { BadRowError, preprocess } from "./preprocess.ts";
import { openSplit } from "./shard_reader.ts";
import { decodeImage, DEFAULT_PREPROCESS } from "./decode_image.ts";
import { acquireLock, LockedError, toCsv } from "../lib/mod.ts";
import { readManifest } from "./manifest.ts";
import { makeEdgeCases } from "../fixtures/make_fixtures.ts";
import { makeLabelledSet } from "../demo/mod.ts";

async function fixture(train = 12, test = 6) {
  const dir = await Deno.makeTempDir({ prefix: "preprocess_test" });
  const set = await makeLabelledSet(dir, { train, test, width: 20, height: 16, seed: 3 });
  return { dir, set, csvs: [join(dir, "train.csv"), join(dir, "test.csv")], out: join(dir, "cache") };
}

const small = { size: 8 };

Deno.test("preprocess() writes shards that read back as the decoded images, with labels and stats", async () => {
  const { dir, set, csvs, out } = await fixture();
  const [train, test] = await preprocess({ csvs, out, params: small, shardSize: 5 });
  assert.equal(train.count, 12);
  assert.deepEqual(train.countPerClass, [6, 6]);
  assert.equal(test.count, 6);
  const manifest = await readManifest(join(out, "train"));
  assert.deepEqual(manifest.shards.map((s) => s.count), [5, 5, 2]);
  assert.equal(manifest.recordSize, 64);
  using reader = await openSplit(join(out, "train"), { verify: true });
  for (const [i, record] of set.train.entries()) {
    const expected = await decodeImage(join(dir, record.path), { ...DEFAULT_PREPROCESS, ...small });
    assert.deepEqual(await reader.readRecord(i), expected);
    assert.equal(reader.labels[i], record.label);
  }
  const batch = await reader.readBatch([11, 0, 5, 6]);
  assert.deepEqual(Array.from(batch.indices), [11, 0, 5, 6]);
  assert.deepEqual(batch.values.subarray(64, 128), await reader.readRecord(0));
  // Shards are raw float32: the file is exactly count * 64 * 4 bytes.
  assert.equal((await Deno.stat(join(out, "train", "shard-00002.f32"))).size, 2 * 64 * 4);
  const stats = new Float32Array((await Deno.readFile(join(out, "train", "pixel-stats.f32"))).buffer);
  let mean0 = 0;
  for (let i = 0; i < 12; i++) mean0 += (await reader.readRecord(i))[0] / 12;
  assert.ok(Math.abs(stats[0] - mean0) < 1e-6);
  const records = await Deno.readTextFile(join(out, "train", "records.csv"));
  assert.match(records, /^index,shard,line,path,label,flipped\n0,0,2,images\/train\/00000.jpg,0,0\n/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess() does nothing on an unchanged rerun and rebuilds only the changed shard", async () => {
  const { dir, set, csvs, out } = await fixture();
  await preprocess({ csvs, out, params: small, shardSize: 5 });
  const again = await preprocess({ csvs, out, params: small, shardSize: 5 });
  assert.ok(again.every((s) => s.upToDate && s.decoded === 0));
  // Touch one image in the second shard: only that shard is decoded again.
  const path = join(dir, set.train[7].path);
  await Deno.utime(path, new Date(), new Date(Date.now() + 5000));
  const [train, test] = await preprocess({ csvs, out, params: small, shardSize: 5 });
  assert.equal(train.upToDate, false);
  assert.equal(train.shardsWritten, 1);
  assert.equal(train.shardsReused, 2);
  assert.equal(train.decoded, 5);
  assert.ok(test.upToDate);
  // A changed option rebuilds everything.
  const [bigger] = await preprocess({ csvs: [csvs[0]], out, params: { size: 10 }, shardSize: 5 });
  assert.equal(bigger.shardsWritten, 3);
  assert.equal((await readManifest(join(out, "train"))).width, 10);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess() stops at a bad row naming the CSV line and file, leaving no manifest", async () => {
  const { dir, out } = await fixture(4, 2);
  const edge = await makeEdgeCases(join(dir, "edge"));
  const cases: [string, RegExp][] = [
    [edge.truncated, /line 4: .*truncated\.jpg: truncated or corrupt image/],
    [edge.textAsJpeg, /line 4: .*not-an-image\.jpg: not an image/],
    [edge.empty, /line 4: .*empty\.jpg: empty file \(0 bytes\)/],
    [join(dir, "edge", "missing.jpg"), /line 4: .*missing\.jpg: file not found/],
  ];
  for (const [path, message] of cases) {
    const csv = join(dir, "bad.csv");
    await Deno.writeTextFile(
      csv,
      toCsv(["path", "label"], [["images/train/00000.jpg", "0"], ["images/train/00001.jpg", "1"], [path, "1"]]),
    );
    await assert.rejects(
      () => preprocess({ csvs: [csv], out, params: small, shardSize: 2 }),
      (e) => e instanceof BadRowError && message.test(e.message) && /rerun with onError skip/.test(e.message),
    );
    await assert.rejects(() => Deno.stat(join(out, "bad", "manifest.json")), Deno.errors.NotFound);
    const names = [...Deno.readDirSync(join(out, "bad"))].map((e) => e.name);
    assert.ok(!names.some((n) => n.includes(".tmp-")), `temporary files left: ${names}`);
    assert.ok(!names.includes("shard-00001.f32"), "the failed shard must not appear");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess() with on-error skip lists every bad row in rejected.csv", async () => {
  const { dir, out } = await fixture(4, 2);
  const edge = await makeEdgeCases(join(dir, "edge"));
  const csv = join(dir, "mixed.csv");
  await Deno.writeTextFile(
    csv,
    toCsv(["path", "label"], [
      ["images/train/00000.jpg", "0"],
      [edge.truncated, "1"],
      ["images/train/00001.jpg", "maybe"],
      ["images/train/00000.jpg", "1"],
      [edge.empty, "0"],
      [edge.exifRotated, "1"],
    ]),
  );
  const [summary] = await preprocess({ csvs: [csv], out, params: small, onError: "skip" });
  assert.equal(summary.count, 2);
  assert.deepEqual(summary.rejected.map((r) => r.line), [3, 4, 5, 6]);
  const rejected = await Deno.readTextFile(join(out, "mixed", "rejected.csv"));
  assert.match(rejected, /^line,path,reason\n3,.*truncated\.jpg,truncated or corrupt image/);
  assert.match(rejected, /\n4,images\/train\/00001.jpg,"?bad label/);
  assert.match(rejected, /\n5,images\/train\/00000.jpg,duplicate path: same image as line 2/);
  assert.match(rejected, /\n6,.*empty\.jpg,empty file/);
  // The same CSV under the fail policy now stops, even though its shards are cached.
  await assert.rejects(() => preprocess({ csvs: [csv], out, params: small }), /line 3: .*truncated/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess() refuses an empty CSV and a CSV without a label column", async () => {
  const { dir, out } = await fixture(2, 2);
  await Deno.writeTextFile(join(dir, "empty.csv"), "");
  await assert.rejects(() => preprocess({ csvs: [join(dir, "empty.csv")], out }), /empty\.csv is empty/);
  await Deno.writeTextFile(join(dir, "nolabel.csv"), "path,kind\na.jpg,1\n");
  await assert.rejects(() => preprocess({ csvs: [join(dir, "nolabel.csv")], out }), /no label column/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess() refuses to run while another live run holds the lock, and goes ahead once it is released", async () => {
  const { dir, csvs, out } = await fixture(2, 2);
  {
    await using _held = await acquireLock(out, "test");
    await assert.rejects(
      () => preprocess({ csvs, out, params: small }),
      (e) => e instanceof LockedError && /in use by another run/.test(e.message),
    );
  }
  // Released when the holder is done: the next run goes ahead.
  const summaries = await preprocess({ csvs, out, params: small });
  assert.equal(summaries.length, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("SplitReader serves overlapping reads correctly (they share one file handle)", async () => {
  const { csvs, out, dir } = await fixture(12, 2);
  await preprocess({ csvs: [csvs[0]], out, params: small, shardSize: 5 });
  using reader = await openSplit(join(out, "train"));
  const expected = await Promise.all(
    Array.from({ length: 12 }, (_, i) => i).map(async (i) => {
      const alone = await openSplit(join(out, "train"));
      try {
        return await alone.readRecord(i);
      } finally {
        alone.close();
      }
    }),
  );
  const batches = await Promise.all([[11, 3, 7], [0, 1, 2, 3], [9, 5]].map((ix) => reader.readBatch(ix)));
  for (const [b, ix] of [[11, 3, 7], [0, 1, 2, 3], [9, 5]].entries()) {
    ix.forEach((i, k) => assert.deepEqual(batches[b].values.subarray(k * 64, (k + 1) * 64), expected[i]));
  }
  // The batch loader's worker reads with blocking calls: the same records.
  const blocking = await openSplit(join(out, "train"), { blockingReads: true });
  const [spread, run] = await Promise.all([[11, 3, 7], [0, 1, 2, 3]].map((ix) => blocking.readBatch(ix)));
  assert.deepEqual(spread.values, batches[0].values);
  assert.deepEqual(run.values, batches[1].values);
  blocking.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess() storeFlipped stores each train image then its mirror, and leaves test alone", async () => {
  const { dir, set, csvs, out } = await fixture(6, 4);
  const [train, test] = await preprocess({ csvs, out, params: small, shardSize: 4, storeFlipped: true });
  assert.equal(train.augmentation, "flip");
  assert.equal(train.count, 12);
  assert.deepEqual(train.countPerClass, [6, 6]);
  assert.equal(test.augmentation, null);
  assert.equal(test.count, 4);
  using reader = await openSplit(join(out, "train"));
  assert.equal(reader.manifest.augmentation, "flip");
  for (const [i, record] of set.train.entries()) {
    const original = await reader.readRecord(2 * i), mirror = await reader.readRecord(2 * i + 1);
    assert.deepEqual(original, await decodeImage(join(dir, record.path), { ...DEFAULT_PREPROCESS, ...small }));
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) assert.equal(mirror[y * 8 + x], original[y * 8 + 7 - x]);
    assert.equal(reader.labels[2 * i], record.label);
    assert.equal(reader.labels[2 * i + 1], record.label);
  }
  const records = (await Deno.readTextFile(join(out, "train", "records.csv"))).trim().split("\n");
  assert.deepEqual(records.slice(1, 3), ["0,0,2,images/train/00000.jpg,0,0", "1,0,2,images/train/00000.jpg,0,1"]);
  // Turning augmentation off is a change of input: the train split is rebuilt, test is not.
  const [plain, testAgain] = await preprocess({ csvs, out, params: small, shardSize: 4 });
  assert.equal(plain.count, 6);
  assert.equal(plain.upToDate, false);
  assert.equal(testAgain.upToDate, true);
  await assert.rejects(
    () => preprocess({ csvs, out, params: small, storeFlipped: true, storeFlippedSplit: "validation" }),
    /no CSV is named validation\.csv/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess() with three channels stores R, G, B per pixel, says so, and mirrors whole pixels", async () => {
  const { dir, set, csvs, out } = await fixture(6, 2);
  const params = { size: 8, channels: 3 as const, resizeKernel: "opencv-area" as const };
  await preprocess({ csvs, out, params, storeFlipped: true });
  const manifest = await readManifest(join(out, "train"));
  assert.equal(manifest.channels, 3);
  assert.equal(manifest.recordSize, 8 * 8 * 3);
  assert.equal(manifest.preprocess.resizeKernel, "opencv-area");
  using reader = await openSplit(join(out, "train"), { verify: true });
  const expected = await decodeImage(join(dir, set.train[0].path), { ...DEFAULT_PREPROCESS, ...params });
  assert.deepEqual(await reader.readRecord(0), expected);
  const mirror = await reader.readRecord(1);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const from = (y * 8 + 7 - x) * 3, to = (y * 8 + x) * 3;
      assert.deepEqual(Array.from(mirror.subarray(to, to + 3)), Array.from(expected.subarray(from, from + 3)));
    }
  }
  // Pixel statistics per value: 8·8·3 means, then as many standard deviations.
  assert.equal((await Deno.stat(join(out, "train", "pixel-stats.f32"))).size, 2 * 192 * 4);
  await assert.rejects(
    () => preprocess({ csvs, out: join(dir, "other"), params: { ...params, resizeKernel: "linear" } }),
    /colour records with \{resizeKernel\} linear|colour records with resizeKernel linear/,
  );
  await Deno.remove(dir, { recursive: true });
});
