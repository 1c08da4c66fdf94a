import { OptionError } from "../lib/mod.ts";
import { applyAugmentation, drawAugmentation, formatAugment, NO_AUGMENT, parseAugment } from "./augment.ts";
import { assembleBatch } from "./batches.ts";
import type { SplitReader } from "../pipeline/mod.ts";
import assert from "node:assert/strict";

// A 4×3 record whose value says where it came from: 10·row + column.
const [W, H] = [4, 3];
const record = () => Float32Array.from({ length: W * H }, (_, i) => 10 * Math.floor(i / W) + (i % W));
const rows = (values: Float32Array) =>
  Array.from({ length: H }, (_, y) => Array.from(values.subarray(y * W, y * W + W)));

Deno.test("applyAugmentation() mirrors, and shifts repeating the edge pixels", () => {
  const scratch = new Float32Array(W * H);
  const flipped = record();
  applyAugmentation(flipped, W, H, { flip: true, dx: 0, dy: 0 }, scratch);
  assert.deepEqual(rows(flipped), [[3, 2, 1, 0], [13, 12, 11, 10], [23, 22, 21, 20]]);
  const moved = record();
  applyAugmentation(moved, W, H, { flip: false, dx: 1, dy: -1 }, scratch);
  assert.deepEqual(rows(moved), [[10, 10, 11, 12], [20, 20, 21, 22], [20, 20, 21, 22]]);
  const both = record();
  applyAugmentation(both, W, H, { flip: true, dx: -2, dy: 1 }, scratch);
  // Mirrored, then moved left by 2 (the new right edge repeated) and down by 1 (the top row repeated).
  assert.deepEqual(rows(both), [[1, 0, 0, 0], [1, 0, 0, 0], [11, 10, 10, 10]]);
  const same = record();
  applyAugmentation(same, W, H, { flip: false, dx: 0, dy: 0 }, scratch);
  assert.deepEqual(same, record());
});

Deno.test("drawAugmentation() depends on seed and record only, and covers its range", () => {
  const options = { flip: true, shift: 3 };
  assert.deepEqual(drawAugmentation(options, 7, 42), drawAugmentation(options, 7, 42));
  const draws = Array.from({ length: 4000 }, (_, i) => drawAugmentation(options, 7, i));
  const flips = draws.filter((d) => d.flip).length;
  assert.ok(flips > 1800 && flips < 2200, `${flips} of 4000 flipped`);
  assert.deepEqual(new Set(draws.map((d) => d.dx)), new Set([-3, -2, -1, 0, 1, 2, 3]));
  assert.deepEqual(new Set(draws.map((d) => d.dy)), new Set([-3, -2, -1, 0, 1, 2, 3]));
  const otherEpoch = Array.from({ length: 4000 }, (_, i) => drawAugmentation(options, 8, i));
  const unchanged = otherEpoch.filter((d, i) => JSON.stringify(d) === JSON.stringify(draws[i])).length;
  assert.ok(unchanged < 200, `${unchanged} of 4000 records drew the same in the next epoch`);
  assert.deepEqual(drawAugmentation(NO_AUGMENT, 7, 1), { flip: false, dx: 0, dy: 0 });
  assert.ok(draws.slice(0, 50).every((d, i) => drawAugmentation({ flip: false, shift: 3 }, 7, i).dx === d.dx));
});

Deno.test("parseAugment() reads what formatAugment() writes and rejects anything else", () => {
  for (const text of ["flip", "shift:4", "flip,shift:8", "none"]) assert.equal(formatAugment(parseAugment(text)), text);
  assert.deepEqual(parseAugment(" flip , shift:2 "), { flip: true, shift: 2 });
  for (const bad of ["mirror", "shift", "shift:-1", "shift:1.5", "flip;shift:2"]) {
    assert.throws(() => parseAugment(bad), OptionError, bad);
  }
});

Deno.test("assembleBatch() augments records by index before standardising, only when asked", async () => {
  const split = [record(), record().map((v) => v + 100)];
  const reader = {
    recordSize: W * H,
    manifest: { width: W, height: H },
    readBatch: (indices: Uint32Array) =>
      Promise.resolve({
        values: Float32Array.from(Array.from(indices).flatMap((i) => Array.from(split[i]))),
        labels: Uint8Array.from(indices, (i) => i),
      }),
  } as unknown as SplitReader;
  const options = { flip: true, shift: 1 };
  const plain = await assembleBatch(reader, Uint32Array.of(1, 0));
  const augmented = await assembleBatch(reader, Uint32Array.of(1, 0), undefined, { options, seed: 3 });
  const standardized = await assembleBatch(reader, Uint32Array.of(1, 0), {
    mean: new Float32Array(W * H).fill(1),
    invStd: new Float32Array(W * H).fill(2),
  }, { options, seed: 3 });
  // One chunk (the record is narrower than a chunk): rows are records, in index order.
  assert.deepEqual(plain.values, Float32Array.from([...split[0], ...split[1]]));
  for (const i of [0, 1]) {
    const expected = Float32Array.from(split[i]);
    applyAugmentation(expected, W, H, drawAugmentation(options, 3, i), new Float32Array(W * H));
    assert.deepEqual(augmented.values.subarray(i * W * H, (i + 1) * W * H), expected);
    assert.deepEqual(
      standardized.values.subarray(i * W * H, (i + 1) * W * H),
      expected.map((v) => (v - 1) * 2),
    );
  }
  // Label smoothing moves the labels (0 and 1) towards 1/2; MixUp mixes records and labels with one λ per batch,
  // the same λ whenever the same batch is drawn again (a resumed run), another for another epoch's seed.
  const smoothed = await assembleBatch(reader, Uint32Array.of(1, 0), undefined, {
    options: NO_AUGMENT,
    seed: 3,
    labelSmoothing: 0.2,
  });
  assert.deepEqual(Array.from(smoothed.labels), [0.1, 0.9].map(Math.fround));
  const mix = { options: NO_AUGMENT, seed: 3, mixup: 0.8 };
  const mixed = await assembleBatch(reader, Uint32Array.of(1, 0), undefined, mix);
  const lambda = mixed.labels[1]; // record 1 (label 1) mixed with record 0 (label 0)
  assert.ok(lambda > 0 && lambda < 1 && Math.abs(mixed.labels[0] - (1 - lambda)) < 1e-6);
  assert.deepEqual((await assembleBatch(reader, Uint32Array.of(1, 0), undefined, mix)).labels, mixed.labels);
  const other = await assembleBatch(reader, Uint32Array.of(1, 0), undefined, { ...mix, seed: 4 });
  assert.notEqual(other.labels[1], lambda);
});

Deno.test("applyAugmentation() moves a colour pixel's three values together", () => {
  const [W, H] = [4, 3];
  // Value = 100·channel + pixel index, so each value says where it came from.
  const record = Float32Array.from({ length: W * H * 3 }, (_, i) => 100 * (i % 3) + Math.floor(i / 3));
  const scratch = new Float32Array(record.length);
  const gray = Float32Array.from({ length: W * H }, (_, i) => i);
  const draw = { flip: true, dx: 1, dy: -1 };
  applyAugmentation(record, W, H, draw, scratch, 3);
  applyAugmentation(gray, W, H, draw, new Float32Array(W * H));
  for (let p = 0; p < W * H; p++) {
    assert.deepEqual(Array.from(record.subarray(3 * p, 3 * p + 3)), [gray[p], 100 + gray[p], 200 + gray[p]]);
  }
});

Deno.test("drawAugmentation() with crops keeps the flips and shifts it drew before, and crops within bounds", () => {
  const plain = { flip: true, shift: 3 };
  for (let i = 0; i < 200; i++) {
    const without = drawAugmentation(plain, 7, i), withCrop = drawAugmentation({ ...plain, crop: 0.35 }, 7, i);
    assert.deepEqual([withCrop.flip, withCrop.dx, withCrop.dy], [without.flip, without.dx, without.dy]);
    const { x, y, width, height } = withCrop.crop!;
    assert.ok(width * height >= 0.35 * 0.74 && width <= 1 && height <= 1, `area ${width * height}`);
    assert.ok(x >= 0 && y >= 0 && x + width <= 1 + 1e-9 && y + height <= 1 + 1e-9);
  }
});

Deno.test("applyAugmentation() resizes a crop back to the whole record, every channel alike", () => {
  const [W, H] = [8, 4];
  // Each value is its column index (the same in both channels).
  const record = Float32Array.from({ length: W * H * 2 }, (_, i) => Math.floor(i / 2) % W);
  const whole = record.slice();
  applyAugmentation(
    whole,
    W,
    H,
    { flip: false, dx: 0, dy: 0, crop: { x: 0, y: 0, width: 1, height: 1 } },
    new Float32Array(W * H * 2),
    2,
  );
  assert.deepEqual(whole, record);
  const right = record.slice();
  applyAugmentation(
    right,
    W,
    H,
    { flip: false, dx: 0, dy: 0, crop: { x: 0.5, y: 0, width: 0.5, height: 1 } },
    new Float32Array(W * H * 2),
    2,
  );
  // The right half (columns 4..7) stretched over 8 columns: pixel centres at 3.75 + 0.5·(x + 0.5), clamped.
  const expected = Array.from({ length: W }, (_, x) => Math.min(7, Math.max(0, 4 + (x + 0.5) * 0.5 - 0.5)));
  assert.deepEqual(Array.from(right.subarray(0, 2 * W)).filter((_, i) => i % 2 === 0), expected);
  assert.deepEqual(parseAugment("flip,crop:0.35"), { flip: true, shift: 0, crop: 0.35 });
  assert.equal(formatAugment(parseAugment("crop:0.5,shift:2")), "shift:2,crop:0.5");
  assert.throws(() => parseAugment("crop:0"), /crop:S/);
});
