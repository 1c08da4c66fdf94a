/**
 * Inference speed: single-image latency (decode of a ~500x375 JPEG included,
 * median and p95) and batch throughput, for part1- and part3-shaped models with
 * random weights. Part of `deno task bench`.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findPython, PYTORCH_ALLOCATORS } from "./python.ts";
import { buildMlp, disposeMlp, initBackend } from "../engine/mod.ts";
import { MODEL_PRESETS, toLayersModel } from "../train/mod.ts";
import { saveLayersModel } from "../model/mod.ts";
import { DEFAULT_PREPROCESS } from "../pipeline/mod.ts";
import { encodeJpeg, renderTaskImage } from "../demo/mod.ts";
import { defineCommand, runCli, seededRandom } from "../lib/mod.ts";
import { loadClassifier } from "../infer/mod.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Measures one model shape; returns a report line. */
async function benchModel(name: string, dir: string, photos: Uint8Array[]): Promise<string> {
  const mlp = buildMlp({ inputSize: 227 * 227, ...MODEL_PRESETS[name] }, 1);
  const model = toLayersModel(mlp);
  await saveLayersModel(join(dir, name), model, {
    inputSize: 227 * 227,
    classes: ["not_dog", "dog"],
    preprocess: DEFAULT_PREPROCESS,
    standardize: null,
    architecture: { model: name, ...MODEL_PRESETS[name] },
  });
  model.dispose();
  disposeMlp(mlp);
  const loadStart = performance.now();
  const classifier = await loadClassifier(join(dir, name));
  const loadMs = performance.now() - loadStart;
  const firstStart = performance.now();
  await classifier.classify(photos[0]);
  const firstMs = performance.now() - firstStart;
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    await classifier.classify(photos[i % photos.length]);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const batch = Array.from({ length: 64 }, (_, i) => photos[i % photos.length]);
  const t = performance.now();
  await classifier.classifyBatch(batch);
  const batchRate = batch.length / ((performance.now() - t) / 1000);
  classifier.dispose();
  return `  ${name}: load ${loadMs.toFixed(0)} ms, first answer ${firstMs.toFixed(0)} ms; single 500x375 JPEG median ` +
    `${percentile(times, 0.5).toFixed(1)} ms, p95 ${percentile(times, 0.95).toFixed(1)} ms; batch of 64: ${
      batchRate.toFixed(0)
    } images/s`;
}

/** A PyTorch user's script: the same part3 net, load_state_dict, OpenCV read + gray + resize, batches of 32. */
const PYTORCH_CLASSIFY = `
import sys, glob, os
import torch, torch.nn as nn, cv2, numpy as np
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
def net():
    layers, sizes = [], [51529, 1024, 2048, 2048, 1024]
    for a, b in zip(sizes, sizes[1:]): layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(1024, 1), nn.Sigmoid())
if sys.argv[1] == "save":
    torch.manual_seed(0); torch.save(net().state_dict(), sys.argv[2])
    # Which BLAS torch loaded (Debian's torch takes whatever libblas.so.3 points at: OpenBLAS, or the slow reference).
    print(next((line.split()[-1] for line in open("/proc/self/maps") if "blas" in line), "unknown"))
    sys.exit()
m = net(); m.load_state_dict(torch.load(sys.argv[1])); m.eval()
files = sorted(glob.glob(os.path.join(sys.argv[2], "*.jpg"))) if os.path.isdir(sys.argv[2]) else [sys.argv[2]]
for i in range(0, len(files), 32):
    x = np.stack([cv2.resize(cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2GRAY), (227, 227),
                             interpolation=cv2.INTER_LINEAR).astype(np.float32).reshape(-1) / 255 for f in files[i:i + 32]])
    with torch.no_grad(): p = m(torch.from_numpy(x))[:, 0].numpy()
    for f, q in zip(files[i:i + 32], p): print(f, "dog" if q > 0.5 else "not_dog", q)
`;

/** The stdout of a command, failing loudly. */
async function outputOf(command: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (code !== 0) throw new Error(`${command} failed: ${new TextDecoder().decode(stderr).slice(-400)}`);
  return new TextDecoder().decode(stdout).trim();
}

/** Seconds of a whole command that must print one line per image (`images` of them). */
async function timeCommand(
  command: string,
  args: string[],
  images: number,
  env: Record<string, string> = {},
): Promise<number> {
  const started = performance.now();
  const { code, stdout, stderr } = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${command} failed: ${new TextDecoder().decode(stderr).slice(-400)}`);
  const lines = new TextDecoder().decode(stdout).trim().split("\n").length;
  if (lines !== images) throw new Error(`${command} ${args.at(-1)}: ${lines} answers for ${images} images`);
  return seconds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Whole commands side by side, run alternately three times: \`deno task classify\` with a part3 model on one photo and on
 * a folder of 320, against the PyTorch + OpenCV script on the same photos (2 threads; glibc keeping freed memory, as
 * PyTorch users on CPU run it, and by default): generated photos, and the first 320 training photos of
 * dogs-vs-cats-4k when `../shared/data` has them. Skipped, and said so, where no python3 has torch and cv2.
 */
async function benchCommands(dir: string, photos: Uint8Array[], shared: string): Promise<void> {
  const python = await findPython("torch, cv2");
  if (!python) {
    console.log(
      "  whole commands: no python3 here has torch and cv2 (apt-get install python3-torch python3-opencv" +
        " libopenblas0-pthread): PyTorch not measured",
    );
    return;
  }
  const folder = join(dir, "photos");
  await Deno.mkdir(folder);
  for (let i = 0; i < 320; i++) await Deno.writeFile(join(folder, `${String(i).padStart(3, "0")}.jpg`), photos[i % 8]);
  const jobs: [string, string, number][] = [
    ["one generated photo", join(folder, "000.jpg"), 1],
    ["320 generated photos", folder, 320],
  ];
  const dogs = join(shared, "data", "dogs-vs-cats-4k");
  const real = await Deno.readTextFile(join(dogs, "train.csv")).catch(() => null);
  if (real) {
    // Links to the first 320 training photos, in one folder both commands read.
    const realFolder = join(dir, "dogs-vs-cats");
    await Deno.mkdir(realFolder);
    const paths = real.trim().split("\n").slice(1, 321).map((line) => line.split(",")[0]);
    for (const [i, path] of paths.entries()) {
      await Deno.symlink(join(dogs, path), join(realFolder, `${String(i).padStart(3, "0")}.jpg`));
    }
    jobs.push(["one dogs-vs-cats photo", join(realFolder, "000.jpg"), 1], ["320 dogs-vs-cats photos", realFolder, 320]);
  }
  const weights = join(dir, "part3.pt");
  const blas = await outputOf(python, ["-c", PYTORCH_CLASSIFY, "save", weights]);
  console.log(`  whole commands: PyTorch ${python}, 2 threads, BLAS ${blas}`);
  const cli = fileURLToPath(new URL("../infer/cli.ts", import.meta.url));
  const ours = (target: string, images: number) =>
    timeCommand(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-ffi",
      "--allow-env",
      "--allow-sys=cpus",
      cli,
      "--model",
      join(dir, "part3"),
      target,
    ], images);
  const [kept, installed] = PYTORCH_ALLOCATORS;
  console.log(`  PyTorch runs with ${kept.name}, then with ${installed.name}`);
  const torch = (target: string, images: number, env: Record<string, string>) =>
    timeCommand(python, ["-c", PYTORCH_CLASSIFY, weights, target], images, {
      THREADS: "2",
      OPENBLAS_NUM_THREADS: "2",
      ...env,
    });
  for (const [name, target, images] of jobs) {
    const times: number[][] = [[], [], []];
    for (let run = 0; run < 3; run++) {
      times[0].push(await ours(target, images));
      times[1].push(await torch(target, images, kept.env));
      times[2].push(await torch(target, images, installed.env));
    }
    const [a, b, c] = times.map(median);
    console.log(
      `  whole command, part3, ${name}: deno task classify ${a.toFixed(2)} s | PyTorch + OpenCV ${b.toFixed(2)} s ` +
        `(freed memory kept), ${c.toFixed(2)} s (default glibc) | ratio ${(b / a).toFixed(2)}, ${(c / a).toFixed(2)}` +
        " (median of 3)",
    );
  }
}

const INFER_BENCH = defineCommand({
  usage: "deno run -A bench/infer.ts   (part of deno task bench)",
  description:
    "Times classify() on part1- and part3-shaped models, and whole classify commands beside PyTorch + OpenCV.",
  flags: {},
});

async function benchInference(): Promise<void> {
  await initBackend("wasm");
  const dir = await Deno.makeTempDir({ prefix: "bench_infer" });
  const random = seededRandom(3);
  const photos = await Promise.all(
    Array.from({ length: 8 }, (_, i) => encodeJpeg(renderTaskImage((i % 2) as 0 | 1, 500, 375, random), 500, 375)),
  );
  console.log("inference bench (classify() through infer/mod.ts, decoding included):");
  for (const name of ["part1", "part3"]) console.log(await benchModel(name, dir, photos));
  await benchCommands(dir, photos, fileURLToPath(new URL("../../shared", import.meta.url)));
  await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await runCli(INFER_BENCH, benchInference);
