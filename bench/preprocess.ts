/**
 * Preprocessing speed, whole processes side by side: `deno task preprocess` (decode, gray or colour, OpenCV
 * resize, shard write, statistics, manifest) against sharp's decode alone on the same files and cores (the
 * ceiling of any sharp-based stage: the ratio says how much of the stage's time is the decoder's, whatever
 * the CPU) and against a single-threaded Python OpenCV loop (`imread`, `cvtColor`, `resize`, float32) when
 * python3 with cv2 is on the machine. Runs alternate, best of `--repeats` each.
 *
 * Sets: the course's kind (gray 227×227 JPEGs, `imgName,label` with `/dataSet/...` paths and `1.0`/`0.0`
 * labels), and ~500×375 colour photos made 227×227 gray (the default) and 64×64 colour with INTER_AREA (the
 * modern recipe's input). The photos are dogs-vs-cats-4k's first training photos when ../shared/data has
 * them, generated ones otherwise; the course-like JPEGs are made from them.
 *
 * `deno task bench` runs it; `--images N` sets each set's size.
 * @module
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { cpuName } from "./machine.ts";
import { encodeJpeg } from "../demo/mod.ts";
import { defineCommand, loadSharp, runCli, seededRandom, toCsv } from "../lib/mod.ts";
import { findPython } from "./python.ts";

/** The OpenCV user's loop over a CSV's images: read, convert, resize, float32; prints its loop's images/s. */
const OPENCV_LOOP = `
import csv, os, sys, time
import cv2, numpy as np
rows = [r[0] for r in list(csv.reader(open(sys.argv[1])))[1:]]
base, size, colour = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "colour"
kernel = cv2.INTER_AREA if sys.argv[5] == "opencv-area" else cv2.INTER_LINEAR
t = time.time()
for p in rows:
    im = cv2.imread(os.path.join(base, p.lstrip("/")))
    im = cv2.cvtColor(im, cv2.COLOR_BGR2RGB if colour else cv2.COLOR_BGR2GRAY)
    f = cv2.resize(im, (size, size), interpolation=kernel).astype(np.float32) / 255
print(len(rows) / (time.time() - t), cv2.__version__)
`;

/** One set of images and the preprocess flags it is made with. */
interface BenchSet {
  name: string;
  csv: string;
  root: string;
  size: number;
  colour: boolean;
  kernel: "opencv-linear" | "opencv-area";
}

/** Photos: their folder, and their paths relative to it. */
interface Photos {
  root: string;
  paths: string[];
}

/** Writes `count` photo-like 500×375 colour JPEGs (smooth gradients, a disc, noise) into `dir`. */
async function makePhotos(dir: string, count: number): Promise<Photos> {
  await Deno.mkdir(dir, { recursive: true });
  const random = seededRandom(42);
  const [w, h] = [500, 375];
  const paths: string[] = [];
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
    const path = `${String(i).padStart(5, "0")}.jpg`;
    await Deno.writeFile(join(dir, path), await encodeJpeg(pixels, w, h));
    paths.push(path);
  }
  return { root: dir, paths };
}

/** The first `count` training photos of dogs-vs-cats-4k, or null when ../shared/data lacks them. */
async function realPhotos(shared: string, count: number): Promise<Photos | null> {
  const root = join(shared, "data", "dogs-vs-cats-4k");
  const csv = await Deno.readTextFile(join(root, "train.csv")).catch(() => null);
  return csv ? { root, paths: csv.trim().split("\n").slice(1, count + 1).map((line) => line.split(",")[0]) } : null;
}

/** The course's layout: gray 227×227 JPEGs in dataSet/, a CSV of `/dataSet/train_NNNNNN.jpg,1.0` rows. */
async function makeCourseSet(dir: string, photos: Photos): Promise<string> {
  const sharp = await loadSharp();
  await Deno.mkdir(join(dir, "dataSet"), { recursive: true });
  const rows: string[][] = [];
  for (const [i, photo] of photos.paths.entries()) {
    const name = `/dataSet/train_${String(i + 1).padStart(6, "0")}.jpg`;
    await sharp(join(photos.root, photo)).grayscale().resize(227, 227, { fit: "fill" }).jpeg({ quality: 90 }).toFile(
      join(dir, name),
    );
    rows.push([name, i % 2 ? "1.0" : "0.0"]);
  }
  const csv = join(dir, "course.csv");
  await Deno.writeTextFile(csv, toCsv(["imgName", "label"], rows));
  return csv;
}

/** A CSV naming `photos` with alternating labels. */
async function photoCsv(dir: string, photos: Photos): Promise<string> {
  const csv = join(dir, "photos.csv");
  await Deno.writeTextFile(csv, toCsv(["path", "label"], photos.paths.map((path, i) => [path, String(i % 2)])));
  return csv;
}

/** Wall seconds of a whole command; throws with its stderr if it fails. */
async function timeProcess(command: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(command, { args, env, stdout: "null", stderr: "piped" }).output();
  if (code !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr).slice(-400)}`);
  }
  return (performance.now() - started) / 1000;
}

/** Measures one set: ours, decode alone and OpenCV, alternating; prints one line. */
async function benchSet(set: BenchSet, count: number, out: string, repeats: number, python: string | null) {
  const deno = Deno.execPath();
  const cli = fileURLToPath(new URL("../pipeline/cli.ts", import.meta.url));
  const decodeOnly = fileURLToPath(new URL("./decode_only.ts", import.meta.url));
  const flags = ["--size", String(set.size), "--resize-kernel", set.kernel, ...(set.colour ? ["--color"] : [])];
  const permissions = ["--allow-read", "--allow-write", "--allow-ffi", "--allow-env", "--allow-sys"];
  const best = { ours: Infinity, decode: Infinity, opencv: Infinity, opencvLoop: 0, version: "" };
  for (let r = 0; r < repeats; r++) {
    await Deno.remove(out, { recursive: true }).catch(() => {});
    best.ours = Math.min(
      best.ours,
      await timeProcess(deno, [
        "run",
        ...permissions,
        cli,
        "--csv",
        set.csv,
        "--root",
        set.root,
        "--out",
        out,
        ...flags,
      ]),
    );
    best.decode = Math.min(
      best.decode,
      await timeProcess(deno, ["run", ...permissions, decodeOnly, "--csv", set.csv, "--root", set.root]),
    );
    if (python) {
      const started = performance.now();
      const { code, stdout } = await new Deno.Command(python, {
        args: ["-c", OPENCV_LOOP, set.csv, set.root, String(set.size), set.colour ? "colour" : "gray", set.kernel],
        env: { OPENCV_FOR_THREADS_NUM: "1" },
        stdout: "piped",
        stderr: "null",
      }).output();
      if (code !== 0) throw new Error(`the OpenCV loop failed on ${set.csv}`);
      best.opencv = Math.min(best.opencv, (performance.now() - started) / 1000);
      const [loopRate, version] = new TextDecoder().decode(stdout).trim().split(/\s+/);
      best.opencvLoop = Math.max(best.opencvLoop, Number(loopRate));
      best.version = version;
    }
  }
  const rate = (seconds: number) => count / seconds;
  const ours = rate(best.ours), decode = rate(best.decode);
  const opencv = python
    ? `OpenCV ${best.version} (1 process, 1 thread): ${rate(best.opencv).toFixed(0)} images/s whole process, ` +
      `${best.opencvLoop.toFixed(0)} its loop alone; ratio ${(ours / rate(best.opencv)).toFixed(2)} and ${
        (ours / best.opencvLoop).toFixed(2)
      }`
    : "OpenCV: no python3 with cv2 here, not measured";
  console.log(
    `  ${set.name}: deno task preprocess ${ours.toFixed(0)} images/s | sharp's decode alone ${decode.toFixed(0)}: ` +
      `${(100 * ours / decode).toFixed(0)}% of it | ${opencv}`,
  );
}

/** Prints preprocess images/s, whole processes, for the course's kind of JPEG and for photos two ways. */
export async function benchPreprocess(options: { images: number; repeats: number; shared: string }): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench_preprocess" });
  try {
    const real = await realPhotos(options.shared, options.images);
    const photos = real ?? await makePhotos(join(dir, "photos"), options.images);
    const source = real ? `dogs-vs-cats-4k's first ${options.images} training photos` : "generated 500x375 JPEGs";
    const course = await makeCourseSet(join(dir, "course"), photos);
    const csv = await photoCsv(dir, photos);
    const sets: BenchSet[] = [
      {
        name: "course-like gray 227x227 JPEGs",
        csv: course,
        root: join(dir, "course"),
        size: 227,
        colour: false,
        kernel: "opencv-linear",
      },
      {
        name: "photos -> 227x227 gray (default)",
        csv,
        root: photos.root,
        size: 227,
        colour: false,
        kernel: "opencv-linear",
      },
      {
        name: "photos -> 64x64 colour, INTER_AREA",
        csv,
        root: photos.root,
        size: 64,
        colour: true,
        kernel: "opencv-area",
      },
    ];
    const python = await findPython("cv2");
    console.log(
      `preprocess bench on ${await cpuName()}: ${options.images} images per set (${source}; the course-like set made ` +
        `from them), whole processes alternating, best of ${options.repeats}`,
    );
    for (const set of sets) await benchSet(set, options.images, join(dir, "out"), options.repeats, python);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const PREPROCESS_BENCH = defineCommand({
  usage: "deno run -A bench/preprocess.ts [options]   (part of deno task bench)",
  flags: {
    images: { type: "string", value: "N", help: "images per set (default 1000)" },
    repeats: { type: "string", value: "N", help: "runs per measurement, the best kept (default 3)" },
  },
});

if (import.meta.main) {
  await runCli(PREPROCESS_BENCH, async (flags) => {
    await benchPreprocess({
      images: flags.integer("images") ?? 1000,
      repeats: flags.integer("repeats") ?? 3,
      shared: fileURLToPath(new URL("../../shared", import.meta.url)),
    });
  });
}
