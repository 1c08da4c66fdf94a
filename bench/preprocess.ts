/**
 * Preprocessing speed: images/s of the whole stage (decode, gray, resize, shard
 * write, statistics) on ~500×375 colour JPEGs, beside a single-process Python
 * OpenCV loop on the same files when python3 with cv2 is on the machine, and
 * sharp's decode alone on them (the ceiling of any sharp-based stage).
 *
 * `deno task bench` runs it; `--images N` sets the generated set's size.
 * @module
 */
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { encodeJpeg } from "../demo/mod.ts";
import { defineCommand, loadSharp, runCli, seededRandom, toCsv } from "../lib/mod.ts";
import { DEFAULT_CONCURRENCY, preprocess, readLabels } from "../pipeline/mod.ts";
import { findPython, runPython } from "./python.ts";

const OPENCV_LOOP = `
import csv, os, sys, time
import cv2, numpy as np
rows = [r[0] for r in list(csv.reader(open(sys.argv[1])))[1:]]
base = sys.argv[2]
best = 0
for _ in range(int(sys.argv[3])):
    t = time.time()
    for p in rows:
        im = cv2.imread(os.path.join(base, p))
        g = cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)
        r = cv2.resize(g, (227, 227), interpolation=cv2.INTER_LINEAR)
        f = r.astype(np.float32) / 255
    best = max(best, len(rows) / (time.time() - t))
print(best, cv2.__version__)
`;

/** Writes `count` photo-like 500×375 colour JPEGs (smooth gradients, shapes, noise) and a CSV. */
async function makePhotoSet(dir: string, count: number): Promise<string> {
  await Deno.mkdir(join(dir, "images"), { recursive: true });
  const random = seededRandom(42);
  const [w, h] = [500, 375];
  const rows: string[][] = [];
  for (let i = 0; i < count; i++) {
    const pixels = new Uint8Array(w * h * 3);
    const [cx, cy, r] = [random() * w, random() * h, 40 + random() * 120];
    const colour = [random() * 255, random() * 255, random() * 255];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        for (let c = 0; c < 3; c++) {
          const v = inside ? colour[c] : (x * (c + 1) + y * (3 - c)) % 256;
          pixels[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, v + (random() - 0.5) * 24));
        }
      }
    }
    const name = `images/${String(i).padStart(5, "0")}.jpg`;
    await Deno.writeFile(join(dir, name), await encodeJpeg(pixels, w, h));
    rows.push([name, String(i % 2)]);
  }
  const csv = join(dir, "photos.csv");
  await Deno.writeTextFile(csv, toCsv(["path", "label"], rows));
  return csv;
}

/** Runs the whole stage on `csv` (paths under `root`) `repeats` times (from scratch each time) and returns the best images/s. */
async function measurePipeline(csv: string, root: string | undefined, out: string, repeats: number): Promise<number> {
  let best = 0;
  for (let i = 0; i < repeats; i++) {
    await Deno.remove(out, { recursive: true }).catch(() => {});
    const [summary] = await preprocess({ csvs: [csv], out, root });
    best = Math.max(best, summary.decoded / summary.seconds);
  }
  return best;
}

/**
 * sharp alone: each file decoded to raw pixels and nothing else, `inFlight` at a time, as the stage
 * decodes. The stage cannot beat this; it says how much of the stage's time is the decoder's.
 */
async function measureDecodeOnly(csv: string, root: string, inFlight: number, repeats: number): Promise<number> {
  const sharp = await loadSharp();
  const paths = (await readLabels(csv, { root })).rows.map((row) => row.path);
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < paths.length) await sharp(paths[next++]).raw().toBuffer();
    }));
    best = Math.max(best, paths.length / ((performance.now() - started) / 1000));
  }
  return best;
}

/** Runs the OpenCV loop if some python3 on the machine has cv2; returns images/s and its version, or null. */
async function measureOpenCv(
  csv: string,
  root: string,
  repeats: number,
): Promise<{ rate: number; version: string } | null> {
  const python = await findPython("cv2");
  const output = python &&
    await runPython(python, OPENCV_LOOP, [csv, root, String(repeats)], { OPENCV_FOR_THREADS_NUM: "1" });
  return output ? { rate: Number(output[0]), version: output[1] } : null;
}

/** Prints preprocess images/s, ours and OpenCV's, on generated photos and on dogs-vs-cats-4k when present. */
export async function benchPreprocess(options: { images: number; repeats: number; shared: string }): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench_preprocess" });
  try {
    const sets: { name: string; csv: string; root?: string }[] = [
      { name: "generated 500x375 JPEGs", csv: await makePhotoSet(dir, options.images) },
    ];
    const dogs = join(options.shared, "data", "dogs-vs-cats-4k");
    if (await Deno.stat(join(dogs, "train.csv")).then(() => true, () => false)) {
      const lines = (await Deno.readTextFile(join(dogs, "train.csv"))).trim().split("\n");
      const csv = join(dir, "dogs-vs-cats-subset.csv");
      await Deno.writeTextFile(csv, lines.slice(0, options.images + 1).join("\n") + "\n");
      sets.push({ name: `dogs-vs-cats-4k (first ${options.images} train photos)`, csv, root: dogs });
    } else {
      console.log(`(${dogs} not found: measuring generated images only)`);
    }
    console.log(`preprocess bench: ${options.images} images per set, best of ${options.repeats}, 227x227 unit scale`);
    for (const { name, csv, root } of sets) {
      const ours = await measurePipeline(csv, root, join(dir, "out"), options.repeats);
      const decodeOnly = await measureDecodeOnly(csv, root ?? dirname(csv), DEFAULT_CONCURRENCY, options.repeats);
      const opencv = await measureOpenCv(csv, root ?? dirname(csv), options.repeats);
      const theirs = opencv
        ? `OpenCV ${opencv.version} loop (1 process, 1 thread): ${opencv.rate.toFixed(0)} images/s; ratio ${
          (ours / opencv.rate).toFixed(2)
        }`
        : "OpenCV loop: python3 with cv2 not found, not measured";
      console.log(
        `  ${name}: deno task preprocess ${ours.toFixed(0)} images/s (sharp's decode alone: ${
          decodeOnly.toFixed(0)
        }) | ${theirs}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const PREPROCESS_BENCH = defineCommand({
  usage: "deno run -A bench/preprocess.ts [options]   (part of deno task bench)",
  flags: {
    images: { type: "string", value: "N", help: "images per set (default 400)" },
    repeats: { type: "string", value: "N", help: "runs per measurement, the best kept (default 2)" },
  },
});

if (import.meta.main) {
  await runCli(PREPROCESS_BENCH, async (flags) => {
    await benchPreprocess({
      images: flags.integer("images") ?? 400,
      repeats: flags.integer("repeats") ?? 2,
      shared: fileURLToPath(new URL("../../shared", import.meta.url)),
    });
  });
}
