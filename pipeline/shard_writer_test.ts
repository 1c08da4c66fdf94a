import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ShardWriter } from "./shard_writer.ts";
import { seededRandom } from "../lib/mod.ts";

Deno.test("ShardWriter writes records in order, and the file, digest and pixel sums appear only on finish", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "shard-00000.f32");
    // 2 M values (8 MB) per record: the writer flushes in the background every 4 records.
    const size = 2 << 20, count = 11;
    const random = seededRandom(3);
    const writer = await ShardWriter.create(path, size);
    const expected: Float32Array[] = [];
    for (let r = 0; r < count; r++) {
      const record = writer.recordBuffer();
      for (let p = 0; p < size; p++) record[p] = Math.floor(random() * 256) / 255;
      expected.push(record.slice());
      await writer.append(record);
    }
    assert.equal(await Deno.stat(path).then(() => true, () => false), false, "no shard before finish");
    const { count: written, sha256, sums } = await writer.finish();
    const bytes = await Deno.readFile(path);
    assert.equal(written, count);
    assert.equal(bytes.length, count * size * 4);
    assert.equal(sha256, createHash("sha256").update(bytes).digest("hex"));
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, count * size);
    for (const p of [0, 1, size >> 1, size - 1]) {
      const column = expected.map((record) => record[p]);
      assert.deepEqual([values[p], values[(count - 1) * size + p]], [column[0], column[count - 1]]);
      assert.ok(Math.abs(sums[p] - column.reduce((a, b) => a + b, 0)) < 1e-9);
      assert.ok(Math.abs(sums[size + p] - column.reduce((a, b) => a + b * b, 0)) < 1e-9);
    }
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name), ["shard-00000.f32"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ShardWriter lends written records' buffers out again, and refuses records of the wrong size", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = await ShardWriter.create(join(dir, "shard.f32"), 4);
    const first = writer.recordBuffer();
    first.set([1, 2, 3, 4]);
    await writer.append(first);
    assert.equal(writer.recordBuffer(), first);
    assert.throws(() => writer.append(new Float32Array(5)), /record has 5 values, shard records have 4/);
    await writer.abort();
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), [], "abort leaves nothing behind");
    assert.throws(() => writer.append(new Float32Array(4)), /already finished or aborted/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
