import assert from "node:assert/strict";
import { resizeKernels } from "./resize_kernels.ts";
import { type OpencvKernel, pixelsToRecord, type RecordShape } from "./opencv_resize.ts";
import { seededRandom } from "../lib/mod.ts";

/** The record pixelsToRecord (checked against OpenCV in opencv_resize_test.ts) makes. */
function reference(pixels: Uint8Array, width: number, height: number, from: 1 | 3, shape: RecordShape): Float32Array {
  const out = new Float32Array(shape.size * shape.size * shape.channels);
  pixelsToRecord(pixels, width, height, from, shape, out);
  return out;
}

/** Random shapes after some chosen ones: the fixtures' odd shapes, photos to 64 and 227, a row or column left. */
function shapes(random: () => number, count: number): number[][] {
  const list = [[23, 17, 7], [11, 7, 5], [500, 375, 64], [375, 500, 227], [500, 375, 227], [97, 3, 2], [3, 97, 2]];
  while (list.length < count) {
    list.push([1 + Math.floor(random() * 400), 1 + Math.floor(random() * 300), 1 + Math.floor(random() * 240)]);
  }
  return list;
}

// `least`: how many of the 120 shapes must take the kernel (INTER_AREA's only covers shrinking on both axes).
const CASES: { name: string; from: 1 | 3; channels: 1 | 3; kernel: OpencvKernel; path: string; least: number }[] = [
  { name: "INTER_AREA, colour", from: 3, channels: 3, kernel: "opencv-area", path: "area3", least: 50 },
  {
    name: "INTER_LINEAR, gray from colour (the luma where the resize reads)",
    from: 3,
    channels: 1,
    kernel: "opencv-linear",
    path: "linearGray",
    least: 100,
  },
  {
    name: "INTER_LINEAR, gray from a gray plane",
    from: 1,
    channels: 1,
    kernel: "opencv-linear",
    path: "linearGray",
    least: 100,
  },
];

for (const { name, from, channels, kernel, path, least } of CASES) {
  Deno.test(`resize kernels, ${name}: pixelsToRecord's records bit for bit on 120 shapes`, async () => {
    const kernels = await resizeKernels();
    const random = seededRandom(23);
    let inWasm = 0;
    for (const [i, [width, height, size]] of shapes(random, 120).entries()) {
      const pixels = Uint8Array.from({ length: width * height * from }, () => Math.floor(random() * 256));
      const shape = { size, channels, kernel, gain: i % 2 ? 1 / 255 : 1 };
      const out = new Float32Array(size * size * channels).fill(-1);
      kernels.toRecord(pixels, width, height, from, shape, out);
      assert.deepEqual(out, reference(pixels, width, height, from, shape), `${width}x${height} -> ${size}`);
      if (kernels.lastPath === path) inWasm++;
      else assert.equal(kernels.lastPath, "javascript");
    }
    assert.ok(inWasm >= least, `only ${inWasm} of 120 shapes went through ${path}`);
  });
}

Deno.test("resize kernels: a gray plane at its own size is scaled in WASM; other shapes go to the JavaScript", async () => {
  const kernels = await resizeKernels();
  const random = seededRandom(5);
  const expect = (w: number, h: number, from: 1 | 3, shape: RecordShape, path: string) => {
    const pixels = Uint8Array.from({ length: w * h * from }, () => Math.floor(random() * 256));
    const out = new Float32Array(shape.size * shape.size * shape.channels);
    kernels.toRecord(pixels, w, h, from, shape, out);
    assert.equal(kernels.lastPath, path, `${w}x${h} -> ${shape.size}, ${shape.kernel}`);
    assert.deepEqual(out, reference(pixels, w, h, from, shape));
  };
  const gray = (size: number, kernel: OpencvKernel = "opencv-linear") =>
    ({ size, channels: 1, kernel, gain: 1 / 255 }) as const;
  const colour = (size: number, kernel: OpencvKernel) => ({ size, channels: 3, kernel, gain: 1 / 255 }) as const;
  expect(227, 227, 1, gray(227), "scaleBytes");
  expect(13, 13, 1, gray(13, "opencv-area"), "scaleBytes");
  expect(454, 454, 1, gray(227), "javascript"); // exactly half: OpenCV's 2x2 means
  expect(24, 16, 3, colour(8, "opencv-area"), "javascript"); // whole factors
  expect(5, 4, 3, colour(9, "opencv-area"), "javascript"); // enlarging
  expect(40, 30, 3, colour(16, "opencv-linear"), "javascript");
  expect(40, 30, 1, gray(16, "opencv-area"), "javascript");
});

Deno.test("resize kernels grow their memory for a large photo and still match", async () => {
  const kernels = await resizeKernels();
  const [width, height] = [1531, 1023];
  const random = seededRandom(4);
  const pixels = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256));
  for (
    const shape of [{ size: 96, channels: 3, kernel: "opencv-area", gain: 1 / 255 }, {
      size: 227,
      channels: 1,
      kernel: "opencv-linear",
      gain: 1,
    }] as const
  ) {
    const out = new Float32Array(shape.size * shape.size * shape.channels);
    kernels.toRecord(pixels, width, height, 3, shape, out);
    assert.notEqual(kernels.lastPath, "javascript");
    assert.deepEqual(out, reference(pixels, width, height, 3, shape));
  }
});

Deno.test("resize kernels refuse an output buffer of the wrong length, as pixelsToRecord does", async () => {
  const kernels = await resizeKernels();
  assert.throws(
    () =>
      kernels.toRecord(
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
