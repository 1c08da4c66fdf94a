import assert from "node:assert/strict";
import { join } from "node:path";
import { sharp } from "./sharp.ts";
import { decodeGray, DEFAULT_PREPROCESS, ImageDecodeError, type PreprocessParams } from "./decode_gray.ts";
import { makeEdgeCases } from "../fixtures/make_fixtures.ts";

const raw = (size: number): PreprocessParams => ({ ...DEFAULT_PREPROCESS, size, scale: "raw" });
const dir = await Deno.makeTempDir({ prefix: "decode_gray_test" });
const edge = await makeEdgeCases(dir);

Deno.test("decodeGray() computes BT.601 luma as OpenCV's cvtColor does", async () => {
  // Lossless PNG of one colour: the expected value is computed here from the formula.
  const [r, g, b] = [200, 100, 50];
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g, b } } }).png().toBuffer();
  const expected = Math.round(0.299 * r + 0.587 * g + 0.114 * b); // 124.2 -> 124
  const values = await decodeGray(png, raw(8));
  assert.equal(values.length, 64);
  assert.ok(values.every((v) => v === expected), `expected ${expected}, got ${values[0]}`);
  const unit = await decodeGray(png, { ...raw(8), scale: "unit" });
  assert.ok(Math.abs(unit[0] - expected / 255) < 1e-7);
});

Deno.test("decodeGray() resizes to size×size with fill, keeping a left/right split", async () => {
  const pixels = new Uint8Array(40 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 20; x < 40; x++) pixels.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  const png = await sharp(pixels, { raw: { width: 40, height: 10, channels: 3 } }).png().toBuffer();
  const v = await decodeGray(png, raw(16));
  assert.equal(v.length, 256);
  assert.equal(v[5 * 16 + 0], 0);
  assert.equal(v[5 * 16 + 15], 255);
});

Deno.test("decodeGray() applies EXIF orientation", async () => {
  const v = await decodeGray(edge.exifRotated, raw(8));
  // Stored 24×32 with a white top quarter; orientation 6 puts it on the right-hand quarter.
  const rightColumn = Array.from({ length: 8 }, (_, y) => v[y * 8 + 7]);
  const leftColumn = Array.from({ length: 8 }, (_, y) => v[y * 8]);
  assert.ok(rightColumn.every((x) => x > 40), `right column ${rightColumn}`);
  assert.ok(leftColumn.every((x) => x < 5), `left column ${leftColumn}`);
});

Deno.test("decodeGray() flattens transparent pixels onto the background", async () => {
  const white = await decodeGray(edge.alpha, raw(8));
  assert.equal(white[0], 255); // transparent left half -> white background
  assert.equal(white[7], 0); // opaque black right half
  const gray = await decodeGray(edge.alpha, { ...raw(8), background: { r: 128, g: 128, b: 128 } });
  assert.equal(gray[0], 128);
});

Deno.test("decodeGray() takes the first frame of an animated GIF", async () => {
  const v = await decodeGray(edge.animatedGif, raw(4));
  assert.ok(v.every((x) => x === 255));
});

Deno.test("decodeGray() reads CMYK JPEG, 16-bit PNG, WebP, TIFF and non-ASCII names as 8-bit gray", async () => {
  // libvips' widened bilinear averages the JPEG noise that 2-tap INTER_LINEAR would sample at a 4x shrink.
  const params = { ...raw(8), resizeKernel: "linear" as const };
  const reference = await decodeGray(edge.nonAscii, params);
  for (const path of [edge.png16, edge.webp, edge.tiff, edge.cmyk]) {
    const v = await decodeGray(path, params);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255), path);
    const meanDiff = v.reduce((s, x, i) => s + Math.abs(x - reference[i]), 0) / v.length;
    // CMYK goes through a generic profile, so it is only close; the others are nearly identical.
    assert.ok(meanDiff < (path === edge.cmyk ? 20 : 3), `${path}: mean difference ${meanDiff}`);
  }
});

Deno.test("decodeGray() names the file and the reason for bad images", async () => {
  const cases: [string, RegExp][] = [
    [edge.truncated, /truncated\.jpg: truncated or corrupt image/],
    [edge.textAsJpeg, /not-an-image\.jpg: not an image/],
    [edge.empty, /empty\.jpg: /],
    [join(dir, "missing.jpg"), /missing\.jpg: /],
  ];
  for (const [path, message] of cases) {
    await assert.rejects(
      () => decodeGray(path, raw(8)),
      (e) => e instanceof ImageDecodeError && message.test(e.message),
    );
  }
  await assert.rejects(() => decodeGray(new Uint8Array(), raw(8)), /empty input/);
});

Deno.test("decodeGray() writes into a given buffer and checks its size", async () => {
  const into = new Float32Array(64);
  const out = await decodeGray(edge.nonAscii, raw(8), into);
  assert.equal(out, into);
  await assert.rejects(() => decodeGray(edge.nonAscii, raw(8), new Float32Array(10)), RangeError);
});
