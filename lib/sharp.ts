/**
 * The one place that imports sharp, so its settings are decided once.
 * @module
 */
import sharp from "sharp";

// libvips' own per-image thread pool fights with image-level concurrency on a
// 2-core machine; one vips thread per image and several images in flight is faster.
sharp.concurrency(1);
// Cached operations only help when the same file is decoded twice, which the
// pipeline never does; the cache would just hold memory.
sharp.cache(false);

export { sharp };

/** Renders an SVG document to PNG bytes (librsvg inside libvips). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  return await sharp(new TextEncoder().encode(svg)).png().toBuffer();
}
/** sharp's input types, re-exported for callers that wrap it. */
export type { Sharp } from "sharp";
