/**
 * Inference speed: single-image latency (decode of a ~500x375 JPEG included,
 * median and p95) and batch throughput, for part1- and part3-shaped models with
 * random weights. Part of `deno task bench`.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findPython, PYTORCH_ALLOCATORS, PYTORCH_NET } from "./python.ts";
import { cpuName } from "./machine.ts";
import { buildMlp, disposeMlp, initBackend } from "../engine/mod.ts";
import { MODEL_PRESETS, toLayersModel } from "../train/mod.ts";
import { saveLayersModel } from "../model/mod.ts";
import { DEFAULT_PREPROCESS, type PreprocessParams } from "../pipeline/mod.ts";
import { encodeJpeg, renderTaskImage } from "../demo/mod.ts";
import { defineCommand, runCli, seededRandom } from "../lib/mod.ts";
import { loadClassifier } from "../infer/mod.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Measures one model shape; returns a report line. */
async function benchModel(dir: string, name: string, photos: Uint8Array[]): Promise<string> {
  await saveRandomModel(join(dir, name), name, DEFAULT_PREPROCESS);
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

/**
 * A PyTorch user's script: the same net (make_net: part3, or the residual MLP), load_state_dict, OpenCV read +
 * gray or RGB + resize (INTER_LINEAR at 227, INTER_AREA at 64 colour), /255, batches of 32. argv: weights,
 * folder or image, model, size, "gray" or "colour".
 */
const PYTORCH_CLASSIFY = `${PYTORCH_NET}
import sys, glob, os
import torch, cv2, numpy as np
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
model, size, colour = sys.argv[3], int(sys.argv[4]), sys.argv[5] == "colour"
if sys.argv[1] == "save":
    torch.manual_seed(0); torch.save(make_net(model, size * size * (3 if colour else 1)).state_dict(), sys.argv[2])
    # Which BLAS torch loaded (Debian's torch takes whatever libblas.so.3 points at: OpenBLAS, or the slow reference).
    print(next((line.split()[-1] for line in open("/proc/self/maps") if "blas" in line), "unknown"))
    sys.exit()
m = make_net(model, size * size * (3 if colour else 1)); m.load_state_dict(torch.load(sys.argv[1])); m.eval()
files = sorted(glob.glob(os.path.join(sys.argv[2], "*.jpg"))) if os.path.isdir(sys.argv[2]) else [sys.argv[2]]
def record(f):
    im = cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB if colour else cv2.COLOR_BGR2GRAY)
    kernel = cv2.INTER_AREA if colour else cv2.INTER_LINEAR
    return cv2.resize(im, (size, size), interpolation=kernel).astype(np.float32).reshape(-1) / 255
for i in range(0, len(files), 32):
    x = np.stack([record(f) for f in files[i:i + 32]])
    with torch.no_grad(): p = torch.sigmoid(m(torch.from_numpy(x)))[:, 0].numpy()
    for f, q in zip(files[i:i + 32], p): print(f, "dog" if q > 0.5 else "not_dog", q)
`;

/** The stdout of a command, failing loudly. */
async function outputOf(command: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (code !== 0) throw new Error(`${command} failed: ${new TextDecoder().decode(stderr).slice(-400)}`);
  return new TextDecoder().decode(stdout).trim();
}

/** Seconds of a whole command that must print `lines` lines (one per image; null: any). */
async function timeCommand(
  command: string,
  args: string[],
  lines: number | null,
  env: Record<string, string> = {},
): Promise<number> {
  const started = performance.now();
  const { code, stdout, stderr } = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${command} failed: ${new TextDecoder().decode(stderr).slice(-400)}`);
  const printed = new TextDecoder().decode(stdout).trim().split("\n").length;
  if (lines !== null && printed !== lines) throw new Error(`${command} ${args.at(-1)}: ${printed} lines for ${lines}`);
  return seconds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The nets the whole commands run: part3 on the course's input, the residual MLP on the modern recipe's. */
const COMMAND_MODELS = [
  { name: "part3", preprocess: DEFAULT_PREPROCESS, colour: false },
  {
    name: "resmlp",
    preprocess: { ...DEFAULT_PREPROCESS, size: 64, channels: 3 as const, resizeKernel: "opencv-area" as const },
    colour: true,
  },
];

/** Saves a model of preset `name` with random weights, for `preprocess`'s records. */
async function saveRandomModel(dir: string, name: string, preprocess: PreprocessParams): Promise<void> {
  const inputSize = preprocess.size * preprocess.size * (preprocess.channels ?? 1);
  const mlp = buildMlp({ inputSize, ...MODEL_PRESETS[name] }, 1);
  const model = toLayersModel(mlp);
  await saveLayersModel(dir, model, {
    inputSize,
    classes: ["not_dog", "dog"],
    preprocess,
    standardize: null,
    architecture: { model: name, ...MODEL_PRESETS[name] },
  });
  model.dispose();
  disposeMlp(mlp);
}

/**
 * Whole commands side by side, run alternately three times: \`deno task classify\` on one photo and on a folder
 * of 320, against sharp's decode alone of the same files (the ceiling of any sharp-based command; the ratio
 * does not depend on the CPU) and the PyTorch + OpenCV script (2 threads, fully tuned and as installed), for
 * part3 (227×227 gray) and the residual MLP (64×64 colour, INTER_AREA): generated photos, and the first 320
 * training photos of dogs-vs-cats-4k when `../shared/data` has them. PyTorch is skipped, and said so, where no
 * python3 has torch and cv2.
 */
async function benchCommands(dir: string, photos: Uint8Array[], shared: string): Promise<void> {
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
    // Links to the first 320 training photos, in one folder every command reads.
    const realFolder = join(dir, "dogs-vs-cats");
    await Deno.mkdir(realFolder);
    const paths = real.trim().split("\n").slice(1, 321).map((line) => line.split(",")[0]);
    for (const [i, path] of paths.entries()) {
      await Deno.symlink(join(dogs, path), join(realFolder, `${String(i).padStart(3, "0")}.jpg`));
    }
    jobs.push(["one dogs-vs-cats photo", join(realFolder, "000.jpg"), 1], ["320 dogs-vs-cats photos", realFolder, 320]);
  }
  const python = await findPython("torch, cv2");
  console.log(
    python
      ? `  whole commands on ${await cpuName()}: PyTorch ${python}, 2 threads, ` +
        `BLAS ${await outputOf(python, ["-c", PYTORCH_CLASSIFY, "save", join(dir, "probe.pt"), "part1", "8", "gray"])}`
      : "  whole commands: no python3 here has torch and cv2 (apt-get install python3-torch python3-opencv" +
        " libopenblas0-pthread): PyTorch not measured",
  );
  const [tuned, , installed] = PYTORCH_ALLOCATORS;
  if (python) console.log(`  PyTorch runs ${tuned.name}, then as installed`);
  const cli = fileURLToPath(new URL("../infer/cli.ts", import.meta.url));
  const decodeOnly = fileURLToPath(new URL("./decode_only.ts", import.meta.url));
  const permissions = ["--allow-read", "--allow-ffi", "--allow-env", "--allow-sys=cpus"];
  for (const net of COMMAND_MODELS) {
    const modelDir = join(dir, net.name);
    await saveRandomModel(modelDir, net.name, net.preprocess);
    const weights = join(dir, `${net.name}.pt`);
    const pyArgs = [net.name, String(net.preprocess.size), net.colour ? "colour" : "gray"];
    if (python) await outputOf(python, ["-c", PYTORCH_CLASSIFY, "save", weights, ...pyArgs]);
    for (const [name, target, images] of jobs) {
      const folderJob = images > 1;
      const times: number[][] = [[], [], [], []];
      for (let run = 0; run < 3; run++) {
        times[0].push(
          await timeCommand(Deno.execPath(), ["run", ...permissions, cli, "--model", modelDir, target], images),
        );
        if (folderJob) {
          times[1].push(await timeCommand(Deno.execPath(), ["run", ...permissions, decodeOnly, "--folder", target], 1));
        }
        if (!python) continue;
        const torch = (env: Record<string, string>) =>
          timeCommand(python, ["-c", PYTORCH_CLASSIFY, weights, target, ...pyArgs], images, {
            THREADS: "2",
            OPENBLAS_NUM_THREADS: "2",
            ...env,
          });
        times[2].push(await torch(tuned.env));
        times[3].push(await torch(installed.env));
      }
      const [ours, decode, torchTuned, torchInstalled] = times.map((t) => (t.length ? median(t) : NaN));
      const parts = [`whole command, ${net.name}, ${name}: deno task classify ${ours.toFixed(2)} s`];
      if (folderJob) {
        parts.push(`sharp's decode alone ${decode.toFixed(2)} s: ${(100 * decode / ours).toFixed(0)}% of its speed`);
      }
      if (python) {
        parts.push(
          `PyTorch + OpenCV ${torchTuned.toFixed(2)} s fully tuned, ${
            torchInstalled.toFixed(2)
          } s as installed: ratio ` +
            `${(torchTuned / ours).toFixed(2)}, ${(torchInstalled / ours).toFixed(2)}`,
        );
      }
      console.log(`  ${parts.join(" | ")} (median of 3)`);
    }
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
  for (const name of ["part1", "part3"]) console.log(await benchModel(join(dir, "latency"), name, photos));
  await benchCommands(dir, photos, fileURLToPath(new URL("../../shared", import.meta.url)));
  await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await runCli(INFER_BENCH, benchInference);
