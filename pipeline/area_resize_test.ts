import assert from "node:assert/strict";
import { areaKernel } from "./area_resize.ts";
import { fractionalAreaPlan, pixelsToRecord } from "./opencv_resize.ts";
import { seededRandom } from "../lib/mod.ts";

/** The record pixelsToRecord (checked against OpenCV in opencv_resize_test.ts) makes. */
function reference(pixels: Uint8Array, width: number, height: number, size: number, gain: number): Float32Array {
  const out = new Float32Array(size * size * 3);
  pixelsToRecord(pixels, width, height, 3, { size, channels: 3, kernel: "opencv-area", gain }, out);
  return out;
}

Deno.test("the WASM INTER_AREA kernel gives pixelsToRecord's colour records bit for bit, on 150 odd shapes", async () => {
  const kernel = await areaKernel();
  const random = seededRandom(23);
  // The fixtures' fractional shapes, a photo to 64x64, one row or column left, then random shapes.
  const shapes = [[23, 17, 7], [13, 6, 9], [500, 375, 64], [375, 500, 64], [97, 3, 2], [3, 97, 2]];
  while (shapes.length < 150) {
    shapes.push([1 + Math.floor(random() * 400), 1 + Math.floor(random() * 300), 1 + Math.floor(random() * 70)]);
  }
  let compared = 0;
  for (const [width, height, size] of shapes) {
    const pixels = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256));
    const gain = compared % 2 ? 1 / 255 : 1;
    const out = new Float32Array(size * size * 3).fill(-1);
    const taken = kernel.resizeRgb(pixels, width, height, size, gain, out);
    assert.equal(taken, fractionalAreaPlan(width, height, size) !== null, `${width}x${height} -> ${size}`);
    if (!taken) continue;
    assert.deepEqual(out, reference(pixels, width, height, size, gain), `${width}x${height} -> ${size}`);
    compared++;
  }
  assert.ok(compared > 100, `only ${compared} shapes were fractional shrinks`);
});

Deno.test("the WASM INTER_AREA kernel declines the shapes pixelsToRecord does another way, writing nothing", async () => {
  const kernel = await areaKernel();
  // Same size, enlarging, whole factors (3x2 and 2x2), one axis enlarged.
  for (const [width, height, size] of [[8, 8, 8], [5, 4, 9], [24, 16, 8], [16, 16, 8], [13, 6, 9]]) {
    const out = new Float32Array(size * size * 3).fill(-1);
    const pixels = new Uint8Array(width * height * 3).fill(200);
    assert.equal(kernel.resizeRgb(pixels, width, height, size, 1, out), false, `${width}x${height} -> ${size}`);
    assert.ok(out.every((v) => v === -1));
  }
});

Deno.test("the WASM INTER_AREA kernel grows its memory for a large photo and still matches", async () => {
  const kernel = await areaKernel();
  const [width, height, size] = [1531, 1023, 96];
  const random = seededRandom(4);
  const pixels = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256));
  const out = new Float32Array(size * size * 3);
  assert.equal(kernel.resizeRgb(pixels, width, height, size, 1 / 255, out), true);
  assert.deepEqual(out, reference(pixels, width, height, size, 1 / 255));
});
