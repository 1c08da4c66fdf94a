/**
 * The one place that imports sharp (libvips), so its settings are decided once.
 *
 * sharp is loaded on first use, not on import: it is a native library, and commands
 * that never decode an image (a report, a training run) neither pay for loading it
 * nor need the permissions it asks for.
 * @module
 */
import type SharpFactory from "sharp";
import { keepFreedMemory } from "./allocator.ts";

/** sharp's factory function. */
export type Sharp = typeof SharpFactory;

let loading: Promise<Sharp> | undefined;

/** sharp, loaded and configured on first call. */
export function loadSharp(): Promise<Sharp> {
  return loading ??= import("sharp").then(({ default: sharp }) => {
    // libvips' own per-image thread pool fights with image-level concurrency on a
    // 2-core machine; one vips thread per image and several images in flight is faster.
    sharp.concurrency(1);
    // Cached operations only help when the same file is decoded twice, which the
    // pipeline never does; the cache would just hold memory.
    sharp.cache(false);
    // Decoded photos and records are a few hundred KB each: reuse freed ones rather than map fresh pages.
    keepFreedMemory();
    return sharp;
  });
}

/** Renders an SVG document to PNG bytes (librsvg inside libvips). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const sharp = await loadSharp();
  return await sharp(new TextEncoder().encode(svg)).png().toBuffer();
}
