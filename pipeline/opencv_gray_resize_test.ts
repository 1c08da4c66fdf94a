import assert from "node:assert/strict";
import { grayResizeLinear } from "./opencv_gray_resize.ts";
import { seededRandom } from "../lib/mod.ts";

// An 11×7 RGB image with R,G,B = (37x + 91y + 53c) mod 256. The expected values were
// produced once by OpenCV 4.6 (Debian python3-opencv):
//   g = cv2.cvtColor(rgb[:, :, ::-1], cv2.COLOR_BGR2GRAY); cv2.resize(g, (s, s), interpolation=cv2.INTER_LINEAR)
const [width, height] = [11, 7];
const rgb = new Uint8Array(width * height * 3);
for (let y = 0; y < height; y++) {
  for (let x = 0; x < width; x++) {
    for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = (x * 37 + y * 91 + c * 53) % 256;
  }
}
const OPENCV = {
  gray: [
    43,
    80,
    117,
    154,
    191,
    199,
    86,
    46,
    83,
    120,
    157,
    134,
    171,
    179,
    216,
    103,
    63,
    100,
    137,
    174,
    182,
    69,
    196,
    83,
    43,
    80,
    117,
    154,
    191,
    199,
    86,
    46,
    83,
    60,
    97,
    134,
    171,
    179,
    216,
    103,
    63,
    100,
    137,
    174,
    151,
    188,
    196,
    83,
    43,
    80,
    117,
    154,
    191,
    199,
    86,
    213,
    100,
    60,
    97,
    134,
    171,
    179,
    216,
    103,
    63,
    100,
    77,
    114,
    151,
    188,
    196,
    83,
    43,
    80,
    117,
    154,
    191,
  ],
  4: [109, 165, 87, 141, 96, 112, 181, 62, 172, 73, 126, 179, 111, 166, 108, 124],
  9: [
    47,
    92,
    137,
    183,
    199,
    77,
    62,
    107,
    153,
    108,
    146,
    179,
    146,
    108,
    98,
    123,
    155,
    105,
    158,
    127,
    139,
    119,
    103,
    146,
    151,
    126,
    80,
    157,
    78,
    84,
    124,
    168,
    171,
    133,
    74,
    99,
    64,
    109,
    155,
    177,
    216,
    94,
    79,
    125,
    170,
    135,
    173,
    138,
    80,
    110,
    118,
    150,
    180,
    114,
    180,
    133,
    104,
    93,
    131,
    160,
    168,
    129,
    97,
    161,
    100,
    111,
    149,
    141,
    142,
    142,
    98,
    126,
    81,
    126,
    171,
    194,
    83,
    51,
    96,
    142,
    187,
  ],
};

Deno.test("grayResizeLinear() matches cv2.cvtColor + cv2.resize INTER_LINEAR exactly, shrinking and enlarging", () => {
  for (const size of [4, 9] as const) {
    const out = new Float32Array(size * size);
    grayResizeLinear(rgb, width, height, 3, size, 1, out);
    assert.deepEqual(Array.from(out), OPENCV[size], `size ${size}`);
  }
});

Deno.test("grayResizeLinear() takes OpenCV 4's fixed-point luma, and reads a gray plane as it is", () => {
  // Same size: no resampling, so the output is the luma of the 7×7 top-left crop.
  const crop = new Uint8Array(7 * 7 * 3);
  for (let y = 0; y < 7; y++) crop.set(rgb.subarray(y * width * 3, (y * width + 7) * 3), y * 7 * 3);
  const out = new Float32Array(49);
  grayResizeLinear(crop, 7, 7, 3, 7, 1, out);
  assert.deepEqual(Array.from(out), OPENCV.gray.filter((_, i) => i % width < 7));
  // One channel: the gray plane resized gives what the RGB image gave.
  const resized = new Float32Array(16);
  grayResizeLinear(Uint8Array.from(OPENCV.gray), width, height, 1, 4, 1 / 255, resized);
  assert.deepEqual(Array.from(resized), OPENCV[4].map((v) => Math.fround(v / 255)));
});

Deno.test("grayResizeLinear() at exactly half size averages 2×2 blocks, as cv::resize does", () => {
  const gray = Uint8Array.from({ length: 64 }, (_, i) => ((i % 8) * 29 + Math.floor(i / 8) * 71) % 256);
  const out = new Float32Array(16);
  grayResizeLinear(gray, 8, 8, 1, 4, 1, out);
  // cv2.resize(g, (4, 4), interpolation=cv2.INTER_LINEAR) on the same 8×8 plane.
  assert.deepEqual(Array.from(out), [50, 108, 166, 160, 192, 122, 52, 110, 78, 136, 194, 124, 156, 86, 80, 138]);
});

Deno.test("grayResizeLinear() reads RGBA (a browser canvas) as the RGB it holds, alpha ignored", () => {
  const random = seededRandom(5);
  for (const [w, h, size] of [[37, 23, 16], [32, 32, 16], [10, 7, 20]]) {
    const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(random() * 256));
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      rgba.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], Math.floor(random() * 256)], 4 * i);
    }
    const [a, b] = [new Float32Array(size * size), new Float32Array(size * size)];
    grayResizeLinear(rgb, w, h, 3, size, 1, a);
    grayResizeLinear(rgba, w, h, 4, size, 1, b);
    assert.deepEqual(b, a, `${w}x${h} -> ${size}`);
  }
});
