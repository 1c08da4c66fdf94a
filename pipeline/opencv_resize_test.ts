import assert from "node:assert/strict";
import { type OpencvKernel, pixelsToRecord } from "./opencv_resize.ts";
import { seededRandom } from "../lib/mod.ts";

/** The gray INTER_LINEAR record of `pixels`, as decodeImage() makes it by default. */
function grayLinear(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  size: number,
  gain: number,
  out: Float32Array,
): void {
  pixelsToRecord(pixels, width, height, channels, { size, channels: 1, kernel: "opencv-linear", gain }, out);
}

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

Deno.test("pixelsToRecord(), gray linear, matches cv2.cvtColor + cv2.resize INTER_LINEAR exactly, shrinking and enlarging", () => {
  for (const size of [4, 9] as const) {
    const out = new Float32Array(size * size);
    grayLinear(rgb, width, height, 3, size, 1, out);
    assert.deepEqual(Array.from(out), OPENCV[size], `size ${size}`);
  }
});

Deno.test("pixelsToRecord(), gray linear, takes OpenCV 4's fixed-point luma, and reads a gray plane as it is", () => {
  // Same size: no resampling, so the output is the luma of the 7×7 top-left crop.
  const crop = new Uint8Array(7 * 7 * 3);
  for (let y = 0; y < 7; y++) crop.set(rgb.subarray(y * width * 3, (y * width + 7) * 3), y * 7 * 3);
  const out = new Float32Array(49);
  grayLinear(crop, 7, 7, 3, 7, 1, out);
  assert.deepEqual(Array.from(out), OPENCV.gray.filter((_, i) => i % width < 7));
  // One channel: the gray plane resized gives what the RGB image gave.
  const resized = new Float32Array(16);
  grayLinear(Uint8Array.from(OPENCV.gray), width, height, 1, 4, 1 / 255, resized);
  assert.deepEqual(Array.from(resized), OPENCV[4].map((v) => Math.fround(v / 255)));
});

Deno.test("pixelsToRecord(), gray linear, at exactly half size averages 2×2 blocks, as cv::resize does", () => {
  const gray = Uint8Array.from({ length: 64 }, (_, i) => ((i % 8) * 29 + Math.floor(i / 8) * 71) % 256);
  const out = new Float32Array(16);
  grayLinear(gray, 8, 8, 1, 4, 1, out);
  // cv2.resize(g, (4, 4), interpolation=cv2.INTER_LINEAR) on the same 8×8 plane.
  assert.deepEqual(Array.from(out), [50, 108, 166, 160, 192, 122, 52, 110, 78, 136, 194, 124, 156, 86, 80, 138]);
});

Deno.test("pixelsToRecord(), gray linear, reads RGBA (a browser canvas) as the RGB it holds, alpha ignored", () => {
  const random = seededRandom(5);
  for (const [w, h, size] of [[37, 23, 16], [32, 32, 16], [10, 7, 20]]) {
    const rgb = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(random() * 256));
    const rgba = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      rgba.set([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], Math.floor(random() * 256)], 4 * i);
    }
    const [a, b] = [new Float32Array(size * size), new Float32Array(size * size)];
    grayLinear(rgb, w, h, 3, size, 1, a);
    grayLinear(rgba, w, h, 4, size, 1, b);
    assert.deepEqual(b, a, `${w}x${h} -> ${size}`);
  }
});

// RGB images with R,G,B = (37x + 91y + 53c + (13xy mod 29)) mod 256; each expected record was produced once by
// OpenCV 4.6 (Debian python3-opencv): cv2.resize(cv2.cvtColor(bgr, COLOR_BGR2GRAY or COLOR_BGR2RGB), (s, s),
// interpolation=INTER_AREA or INTER_LINEAR), its bytes in hex. Shrinking by fractional factors, by whole
// factors (24x16 -> 8: 3x2), enlarging (INTER_AREA is then linear with area weights), and one axis each way.
const OPENCV_CASES: {
  width: number;
  height: number;
  size: number;
  kernel: OpencvKernel;
  channels: 1 | 3;
  hex: string;
}[] = [
  {
    width: 23,
    height: 17,
    size: 7,
    kernel: "opencv-area",
    channels: 1,
    hex: "7d7c7c7f748679897c898274777c867e7090728b7f7186798674827985847180868270827f807580888486848774887b7b",
  },
  {
    width: 23,
    height: 17,
    size: 7,
    kernel: "opencv-area",
    channels: 3,
    hex:
      "68868d737f8c69838976867476746f9185717e777578937f8776807d927a857e8d70747e82756a767d8480888a89749765727f9298676776798992708e7a6f746c838e8477797a74937b997f6f76857f868176748b808c7b8792945f7073838e958174758a78766b77987b6c7584808c7e6d786f8989806e868d78808392838a766390a07e8d8663769488915c8277828f7667",
  },
  {
    width: 23,
    height: 17,
    size: 7,
    kernel: "opencv-linear",
    channels: 3,
    hex:
      "76abc6396e84689dd23469555a8f90d14f5b5984b9558a9aac833b4d829da7dc3640759fa1c6202d629791689db154894c6297a4d97b694f8491c669774e7412477c8dc2894e3a6f7cb1e6aa285d77ace1e61b5086a65e6da2a896434e5489beb49a3d51867c658a42d22b5b5373a9c1594f516196b2a840517196a3d8519f95b0295e939b9cbc21568b8aab77b7356a7d739d",
  },
  {
    width: 5,
    height: 4,
    size: 9,
    kernel: "opencv-area",
    channels: 1,
    hex:
      "2b32505f758b9ab8bf2b32505f758b9ab8bf6f799ea8b7826057558690b8c0cd804c3631a5a1938e886b585b5cc4b36d5c4256647f86a2976d64586a768e943c456b7e9aa5acbabe3c456b7e9aa5acbabe",
  },
  {
    width: 5,
    height: 4,
    size: 9,
    kernel: "opencv-area",
    channels: 3,
    hex:
      "00356a073c71255a8f34699e4a7fb46095ca6fa4d98dc2f794c9fe00356a073c71255a8f34699e4a7fb46095ca6fa4d98dc2f794c9fe4479ae4e83b873a8dd85baa3a2d74cb1725bbb306546558a2a5f945b90c5659acf8dc2f7a1d6a5bff429cc6736d4093e2f3166063b7089be7394af7ec176ab9e87896ba0557b6365873c71425d9231669bb6eb20c3c42df52a5f9c386d174c812b6095396ea35489be5b90c58dc23798a742c83d728a4b802d62973f74a94b80b5699e9f70a59a11467b1a4f844075aa5388bd6fa4d97aafe481b6eba7dc44b0e51a11467b1a4f844075aa5388bd6fa4d97aafe481b6eba7dc44b0e51a",
  },
  {
    width: 24,
    height: 16,
    size: 8,
    kernel: "opencv-area",
    channels: 3,
    hex:
      "598e98737d88626ca17c86666b7580858f6f9f7e5e6398786b758086909a9b7b5a659aa4805f6a6b757f85906f7a5a8e9ea85d6973a8848e6e707a848690707b5b65679c7ca888677c86909c5186639878a48464707a84a88867737e888a9474596499a5856568727c848e999c5186689da7805f6a717c869b7a856398a2a65b65646ea3a78666747e888c967675545fa3836267717c858f6f994e58669b7ba080606e78adac8c6c818b9675aa89646ea37d88926c7781869070a07f5f649979",
  },
  {
    width: 13,
    height: 6,
    size: 9,
    kernel: "opencv-area",
    channels: 3,
    hex:
      "0b40753c71a66ca1d6a8dd88d8354214497e4479ae80b588b1e61b3b70a574a98f9f5e895c91828f5779477cb174a97c866c70669b506a9fd4ace178d21b3c11467b457aaf79aee3a4d9498c23581c5186c9b0336c3f74366ba06da2d79acf2bd1903b3832675186bb7eb3e874825e64689d5b90c59b8b85c47942837d6d4a62977aafb2a4818e1f54895d92c780b5eac97433ee2358366ba05d92c7a2d7aacb4f357eb39abbf025e42c4e255a8f5b90c58dc281b6eb20a23a6f2d6297a9b76c969a4f9654805287bc83b88185756f669b507c62975e9370d5bb3f714378487db27fb4e9abe03d7c275c164b80568bc08fc448",
  },
];

function testImage(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + ((x * y * 13) % 29)) % 256;
    }
  }
  return rgb;
}

Deno.test("pixelsToRecord() matches cv2.resize INTER_AREA and INTER_LINEAR exactly, gray and colour", () => {
  for (const { width, height, size, kernel, channels, hex } of OPENCV_CASES) {
    const expected = hex.match(/../g)!.map((byte) => parseInt(byte, 16));
    const out = new Float32Array(size * size * channels);
    pixelsToRecord(testImage(width, height), width, height, 3, { size, channels, kernel, gain: 1 }, out);
    assert.deepEqual(Array.from(out), expected, `${width}x${height} -> ${size}, ${kernel}, ${channels} channel(s)`);
  }
});

Deno.test("pixelsToRecord() reads a gray plane as three equal channels, and RGBA as its RGB, in colour", () => {
  const random = seededRandom(9);
  for (const kernel of ["opencv-linear", "opencv-area"] as const) {
    const [w, h, size] = [29, 19, 8];
    const gray = Uint8Array.from({ length: w * h }, () => Math.floor(random() * 256));
    const spread = new Uint8Array(w * h * 3).map((_, i) => gray[Math.floor(i / 3)]);
    const [a, b] = [new Float32Array(size * size * 3), new Float32Array(size * size * 3)];
    pixelsToRecord(gray, w, h, 1, { size, channels: 3, kernel, gain: 1 }, a);
    pixelsToRecord(spread, w, h, 3, { size, channels: 3, kernel, gain: 1 }, b);
    assert.deepEqual(a, b, kernel);
    const rgba = new Uint8Array(w * h * 4).map((_, i) => i % 4 === 3 ? 17 : spread[Math.floor(i / 4) * 3 + (i % 4)]);
    pixelsToRecord(rgba, w, h, 4, { size, channels: 3, kernel, gain: 1 }, a);
    assert.deepEqual(a, b, `${kernel}, RGBA`);
  }
});

Deno.test("pixelsToRecord() refuses an output buffer of the wrong length", () => {
  assert.throws(
    () =>
      pixelsToRecord(
        new Uint8Array(12),
        2,
        2,
        3,
        { size: 2, channels: 3, kernel: "opencv-area", gain: 1 },
        new Float32Array(4),
      ),
    /2x2x3 record holds 12 values, not 4/,
  );
});

Deno.test("pixelsToRecord() at the image's own size copies each value, its luma, or its gray three times", () => {
  const random = seededRandom(12);
  const [w, size] = [9, 9];
  const rgba = Uint8Array.from({ length: w * w * 4 }, () => Math.floor(random() * 256));
  const rgb = rgba.filter((_, i) => i % 4 !== 3);
  const gray = rgb.filter((_, i) => i % 3 === 0);
  const record = (pixels: Uint8Array, from: 1 | 3 | 4, channels: 1 | 3, kernel: OpencvKernel) => {
    const out = new Float32Array(size * size * channels);
    pixelsToRecord(pixels, w, w, from, { size, channels, kernel, gain: 1 / 255 }, out);
    return Array.from(out);
  };
  const luma = (i: number) => (9798 * rgb[3 * i] + 19235 * rgb[3 * i + 1] + 3735 * rgb[3 * i + 2] + 16384) >> 15;
  for (const kernel of ["opencv-linear", "opencv-area"] as const) {
    assert.deepEqual(record(rgb, 3, 3, kernel), Array.from(Float32Array.from(rgb, (v) => v / 255)), kernel);
    assert.deepEqual(record(rgba, 4, 3, kernel), record(rgb, 3, 3, kernel), kernel);
    assert.deepEqual(record(rgb, 3, 1, kernel), Array.from(Float32Array.from(gray, (_, i) => luma(i) / 255)), kernel);
    assert.deepEqual(record(gray, 1, 1, kernel), Array.from(Float32Array.from(gray, (v) => v / 255)), kernel);
    assert.deepEqual(record(gray, 1, 3, kernel), Array.from(Float32Array.from(rgb, (_, i) => gray[(i / 3) | 0] / 255)));
  }
});
