import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSharp, seededRandom } from "../lib/mod.ts";
import {
  cmykToRgb,
  decodeImage,
  DEFAULT_PREPROCESS,
  ImageDecodeError,
  isGrayJpeg,
  jpegLayout,
  type PreprocessParams,
} from "./decode_image.ts";
import { pixelsToRecord } from "./opencv_resize.ts";
import { renderTaskImage } from "../demo/mod.ts";
import { makeEdgeCases } from "../fixtures/make_fixtures.ts";

const sharp = await loadSharp();
import { fileURLToPath } from "node:url";

const raw = (size: number): PreprocessParams => ({ ...DEFAULT_PREPROCESS, size, scale: "raw" });
const dir = await Deno.makeTempDir({ prefix: "decode_image_test" });
const edge = await makeEdgeCases(dir);

Deno.test("decodeImage() computes BT.601 luma as OpenCV's cvtColor does", async () => {
  // Lossless PNG of one colour: the expected value is computed here from the formula.
  const [r, g, b] = [200, 100, 50];
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g, b } } }).png().toBuffer();
  const expected = Math.round(0.299 * r + 0.587 * g + 0.114 * b); // 124.2 -> 124
  const values = await decodeImage(png, raw(8));
  assert.equal(values.length, 64);
  assert.ok(values.every((v) => v === expected), `expected ${expected}, got ${values[0]}`);
  const unit = await decodeImage(png, { ...raw(8), scale: "unit" });
  assert.ok(Math.abs(unit[0] - expected / 255) < 1e-7);
});

Deno.test("decodeImage() resizes to size×size with fill, keeping a left/right split", async () => {
  const pixels = new Uint8Array(40 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 20; x < 40; x++) pixels.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  const png = await sharp(pixels, { raw: { width: 40, height: 10, channels: 3 } }).png().toBuffer();
  const v = await decodeImage(png, raw(16));
  assert.equal(v.length, 256);
  assert.equal(v[5 * 16 + 0], 0);
  assert.equal(v[5 * 16 + 15], 255);
});

/** `jpeg` with an EXIF segment saying orientation 6 (sharp's own metadata writer would attach sRGB and add colour). */
function withOrientation6(jpeg: Uint8Array): Uint8Array {
  const exif = [
    ...[0xff, 0xe1, 0x00, 0x22, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00], // APP1, length 34, "Exif\0\0"
    ...[0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00], // little-endian TIFF, IFD0 at 8 with one entry
    ...[0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // orientation 6
  ];
  return Uint8Array.from([...jpeg.subarray(0, 2), ...exif, ...jpeg.subarray(2)]);
}

Deno.test("decodeImage() gives a gray JPEG the same records as the same pixels in colour", async () => {
  // A seeded 300×200 gray texture as a JPEG (the course's images are gray JPEGs), and the pixels libvips decodes from
  // it as a lossless RGB PNG: the gray shortcut must give exactly what the colour path gives.
  const [w, h] = [300, 200];
  const texture = Uint8Array.from(
    { length: w * h },
    (_, i) => (((i % w) * 7) ^ (Math.floor(i / w) * 13) ^ (i * 2654435761 >>> 28)) & 255,
  );
  const grayJpeg = () => sharp(texture, { raw: { width: w, height: h, channels: 1 } }).toColourspace("b-w");
  const jpeg = await grayJpeg().jpeg({ quality: 85 }).toBuffer();
  const rotated = withOrientation6(jpeg);
  const decoded = await sharp(jpeg).toColourspace("b-w").raw().toBuffer();
  const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => decoded[Math.floor(i / 3)]);
  const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const pngRotated = await sharp(png).rotate(90).png().toBuffer();
  assert.ok(isGrayJpeg(jpeg) && isGrayJpeg(rotated));
  for (const size of [227, 64, 300]) {
    // Counted rather than deepEqual'd: node:assert takes minutes over 90,000-value arrays.
    const differing = async (a: Uint8Array, b: Uint8Array) => {
      const [x, y] = [await decodeImage(a, raw(size)), await decodeImage(b, raw(size))];
      return x.filter((v, i) => v !== y[i]).length;
    };
    assert.equal(await differing(jpeg, png), 0, `size ${size}`);
    assert.equal(await differing(rotated, pngRotated), 0, `rotated, size ${size}`);
  }
});

Deno.test("isGrayJpeg() reads the frame header, and says no to anything else", async () => {
  const colour = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } }).jpeg().toBuffer();
  const gray = await sharp(colour).toColourspace("b-w").jpeg().toBuffer();
  assert.equal(isGrayJpeg(gray), true);
  assert.equal(isGrayJpeg(await sharp(gray).toColourspace("b-w").jpeg({ progressive: true }).toBuffer()), true);
  assert.equal(isGrayJpeg(withOrientation6(gray)), true);
  assert.equal(isGrayJpeg(colour), false);
  assert.equal(isGrayJpeg(await Deno.readFile(edge.cmyk)), false);
  assert.equal(isGrayJpeg(await sharp(gray).png().toBuffer()), false);
  assert.equal(isGrayJpeg(gray.subarray(0, 30)), false); // cut before its frame header
  assert.equal(isGrayJpeg(new Uint8Array(0)), false);
});

Deno.test("decodeImage() applies EXIF orientation", async () => {
  const v = await decodeImage(edge.exifRotated, raw(8));
  // Stored 24×32 with a white top quarter; orientation 6 puts it on the right-hand quarter.
  const rightColumn = Array.from({ length: 8 }, (_, y) => v[y * 8 + 7]);
  const leftColumn = Array.from({ length: 8 }, (_, y) => v[y * 8]);
  assert.ok(rightColumn.every((x) => x > 40), `right column ${rightColumn}`);
  assert.ok(leftColumn.every((x) => x < 5), `left column ${leftColumn}`);
});

Deno.test("decodeImage() flattens transparent pixels onto the background", async () => {
  const white = await decodeImage(edge.alpha, raw(8));
  assert.equal(white[0], 255); // transparent left half -> white background
  assert.equal(white[7], 0); // opaque black right half
  const gray = await decodeImage(edge.alpha, { ...raw(8), background: { r: 128, g: 128, b: 128 } });
  assert.equal(gray[0], 128);
});

Deno.test("decodeImage() takes the first frame of an animated GIF", async () => {
  const v = await decodeImage(edge.animatedGif, raw(4));
  assert.ok(v.every((x) => x === 255));
});

Deno.test("decodeImage() reads 16-bit PNG, WebP, TIFF and non-ASCII names as 8-bit gray", async () => {
  // libvips' widened bilinear averages the JPEG noise that 2-tap INTER_LINEAR would sample at a 4x shrink.
  const params = { ...raw(8), resizeKernel: "linear" as const };
  const reference = await decodeImage(edge.nonAscii, params);
  // (CMYK has a test of its own below: the file's CMYK values came from a press profile, so no decoder that
  // inverts them directly, as OpenCV does, gives the RGB picture back.)
  for (const path of [edge.png16, edge.webp, edge.tiff]) {
    const v = await decodeImage(path, params);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255), path);
    const meanDiff = v.reduce((s, x, i) => s + Math.abs(x - reference[i]), 0) / v.length;
    assert.ok(meanDiff < 3, `${path}: mean difference ${meanDiff}`);
  }
});

Deno.test("decodeImage() names the file and the reason for bad images", async () => {
  const cases: [string, RegExp][] = [
    [edge.truncated, /truncated\.jpg: truncated or corrupt image/],
    [edge.textAsJpeg, /not-an-image\.jpg: not an image/],
    [edge.empty, /empty\.jpg: /],
    [join(dir, "missing.jpg"), /missing\.jpg: /],
  ];
  for (const [path, message] of cases) {
    await assert.rejects(
      () => decodeImage(path, raw(8)),
      (e) => e instanceof ImageDecodeError && message.test(e.message),
    );
  }
  await assert.rejects(() => decodeImage(new Uint8Array(), raw(8)), /empty input/);
});

Deno.test("decodeImage() writes into a given buffer and checks its size", async () => {
  const into = new Float32Array(64);
  const out = await decodeImage(edge.nonAscii, raw(8), into);
  assert.equal(out, into);
  await assert.rejects(() => decodeImage(edge.nonAscii, raw(8), new Float32Array(10)), RangeError);
});

/** The mean of a record. */
const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;

Deno.test("decodeImage() reads a CMYK JPEG without a profile as OpenCV does, and one with a profile through it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "decode_image_test" });
  const edge = await makeEdgeCases(dir);
  // OpenCV 4.6 (Debian's python3-opencv) on this very file: imread, cvtColor BGR2GRAY, resize 24x24 INTER_LINEAR,
  // mean 86.85 (Pillow's convert("L"): 86.32). libvips' press-profile conversion gave 102.91.
  const plain = await decodeImage(edge.cmyk, raw(24));
  assert.ok(Math.abs(mean(plain) - 86.85) <= 2, `CMYK without a profile: mean ${mean(plain)}, OpenCV's 86.85`);
  // The same picture with sharp's CMYK profile embedded: the profile decides, as libvips' own conversion has it.
  const picture = renderTaskImage(1, 64, 48, seededRandom(3));
  const profiled = await sharp(picture, { raw: { width: 64, height: 48, channels: 3 } }).toColourspace("cmyk")
    .withIccProfile("cmyk").jpeg().toBuffer();
  const viaProfile = await sharp(profiled).raw().toBuffer({ resolveWithObject: true });
  const expected = new Float32Array(24 * 24);
  pixelsToRecord(viaProfile.data, viaProfile.info.width, viaProfile.info.height, 3, {
    size: 24,
    channels: 1,
    kernel: "opencv-linear",
    gain: 1,
  }, expected);
  assert.deepEqual(await decodeImage(profiled, raw(24)), expected);
  // A YCCK JPEG (Adobe transform 2, fixtures/ycck.jpg, made by fixtures/make_ycck.c with libjpeg-turbo):
  // OpenCV 4.6 gives a 16x16 mean of 97.33.
  const ycck = await decodeImage(fileURLToPath(new URL("../fixtures/ycck.jpg", import.meta.url)), raw(16));
  assert.ok(Math.abs(mean(ycck) - 97.33) <= 2, `YCCK: mean ${mean(ycck)}, OpenCV's 97.33`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jpegLayout() reads components, precision and an embedded ICC profile before the first scan", async () => {
  const colour = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } }).jpeg().toBuffer();
  assert.deepEqual(jpegLayout(colour), { components: 3, precision: 8, iccProfile: false, orientation: 1 });
  const tagged = await sharp(colour).withIccProfile("srgb").jpeg().toBuffer();
  assert.deepEqual(jpegLayout(tagged), { components: 3, precision: 8, iccProfile: true, orientation: 1 });
  const cmyk = await sharp(colour).toColourspace("cmyk").jpeg().toBuffer();
  assert.deepEqual(jpegLayout(cmyk), { components: 4, precision: 8, iccProfile: false, orientation: 1 });
  assert.equal(jpegLayout(await sharp(colour).png().toBuffer()), null);
  assert.equal(jpegLayout(colour.subarray(0, 12)), null);
});

Deno.test("jpegLayout() reads the EXIF orientation, little- or big-endian, and says when it cannot", async () => {
  const colour = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#808080" } }).jpeg().toBuffer();
  assert.equal(jpegLayout(withOrientation6(colour))?.orientation, 6);
  for (const orientation of [1, 3, 8]) {
    const written = await sharp(colour).withMetadata({ orientation }).jpeg().toBuffer();
    assert.equal(jpegLayout(written)?.orientation, orientation, `orientation ${orientation} written by libvips`);
  }
  // An EXIF segment whose first IFD points past its end: unreadable, so libvips is asked to orient.
  const broken = withOrientation6(colour);
  const exif = broken.findIndex((byte, i) => byte === 0x45 && broken[i + 1] === 0x78 && broken[i + 2] === 0x69);
  broken[exif + 6 + 4] = 0x7f;
  assert.equal(jpegLayout(broken)?.orientation, null);
});

Deno.test("cmykToRgb() is OpenCV's icvCvt_CMYK2BGR on libjpeg's inverted samples", () => {
  // No ink is white; full K is black whatever the rest; 50% cyan on no K leaves red at 255 - 128·255/256.
  const rgb = cmykToRgb(Uint8Array.from([0, 0, 0, 0, 10, 200, 30, 255, 128, 0, 0, 0]));
  assert.deepEqual(Array.from(rgb), [255, 255, 255, 0, 0, 0, 128, 255, 255]);
});

Deno.test("decodeImage() refuses a decompression bomb from its header, without decoding it", async () => {
  const started = performance.now();
  await assert.rejects(
    () => decodeImage(edge.bomb, DEFAULT_PREPROCESS),
    (e) => e instanceof ImageDecodeError && /bomb\.png: too many pixels: its header claims more than/.test(e.message),
  );
  assert.ok(performance.now() - started < 2000, "refused at once");
});

// Per-channel means of OpenCV 4.6's 16×16 records of these files (Debian's python3-opencv, run once):
// cv2.cvtColor(cv2.resize(cv2.imread(path, IMREAD_COLOR), (16, 16), interpolation=INTER_LINEAR or INTER_AREA),
// COLOR_BGR2RGB).mean((0, 1)). Ours equalled OpenCV's records value for value on every one of them.
const OPENCV_COLOUR_MEANS = {
  exifRotated: { linear: [63.750, 63.750, 63.750], area: [63.750, 63.750, 63.750] },
  cmyk: { linear: [90.438, 86.484, 79.137], area: [90.398, 86.379, 79.066] },
  png16: { linear: [117.723, 109.379, 104.039], area: [117.707, 109.348, 104.031] },
  webp: { linear: [117.723, 109.379, 104.039], area: [117.707, 109.348, 104.031] },
  tiff: { linear: [118.238, 109.238, 104.238], area: [118.215, 109.188, 104.211] },
  nonAscii: { linear: [117.738, 110.078, 104.410], area: [117.734, 110.047, 104.375] },
  palette: { linear: [158.016, 153.746, 158.305], area: [157.996, 153.766, 158.242] },
  gray: { linear: [154.699, 154.699, 154.699], area: [154.957, 154.957, 154.957] },
  ycck: { linear: [100.625, 96.980, 90.523], area: [100.637, 96.949, 90.520] },
};

function channelMeans(record: Float32Array): number[] {
  const sums = [0, 0, 0];
  record.forEach((v, i) => sums[i % 3] += v);
  return sums.map((s) => s / (record.length / 3));
}

Deno.test("decodeImage() in colour gives OpenCV imread's colours for every awkward input", async () => {
  const picture = renderTaskImage(1, 40, 30, seededRandom(4));
  const pictureRaw = { raw: { width: 40, height: 30, channels: 3 as const } };
  const files: Record<keyof typeof OPENCV_COLOUR_MEANS, string> = {
    ...edge,
    palette: join(dir, "palette.png"),
    gray: join(dir, "gray.jpg"),
    ycck: fileURLToPath(new URL("../fixtures/ycck.jpg", import.meta.url)),
  };
  await Deno.writeFile(files.palette, await sharp(picture, pictureRaw).png({ palette: true, colours: 16 }).toBuffer());
  await Deno.writeFile(files.gray, await sharp(picture, pictureRaw).grayscale().jpeg().toBuffer());
  for (const [name, expected] of Object.entries(OPENCV_COLOUR_MEANS)) {
    for (const kernel of ["linear", "area"] as const) {
      const params: PreprocessParams = { ...raw(16), channels: 3, resizeKernel: `opencv-${kernel}` };
      const record = await decodeImage(files[name as keyof typeof files], params);
      assert.equal(record.length, 16 * 16 * 3);
      const means = channelMeans(record);
      assert.ok(
        means.every((m, c) => Math.abs(m - expected[kernel][c]) < 0.01),
        `${name}, ${kernel}: ${means.map((m) => m.toFixed(3))}, OpenCV ${expected[kernel]}`,
      );
    }
  }
});

Deno.test("decodeImage() in colour: a gray file is three equal channels, and the gray record its luma", async () => {
  const picture = renderTaskImage(0, 40, 30, seededRandom(6));
  const jpeg = await sharp(picture, { raw: { width: 40, height: 30, channels: 3 } }).grayscale().jpeg().toBuffer();
  const colour = await decodeImage(jpeg, { ...raw(12), channels: 3, resizeKernel: "opencv-area" });
  const gray = await decodeImage(jpeg, { ...raw(12), resizeKernel: "opencv-area" });
  for (let p = 0; p < 144; p++) {
    assert.deepEqual(Array.from(colour.subarray(3 * p, 3 * p + 3)), [gray[p], gray[p], gray[p]]);
  }
});

Deno.test("decodeImage() in colour flattens transparency onto the background (where imread keeps the hidden RGB)", async () => {
  const record = await decodeImage(edge.alpha, { ...raw(8), channels: 3 });
  assert.deepEqual(Array.from(record.subarray(0, 3)), [255, 255, 255]); // transparent left half
  assert.deepEqual(Array.from(record.subarray(21, 24)), [0, 0, 0]); // opaque black right half
});

Deno.test("decodeImage() refuses colour with the libvips kernel, and checks the colour buffer's size", async () => {
  await assert.rejects(
    () => decodeImage(edge.nonAscii, { ...raw(8), channels: 3, resizeKernel: "linear" }),
    /gray records only: use opencv-area/,
  );
  await assert.rejects(
    () => decodeImage(edge.nonAscii, { ...raw(8), channels: 3 }, new Float32Array(64)),
    /size 8, 3 channel\(s\) need 192/,
  );
});
