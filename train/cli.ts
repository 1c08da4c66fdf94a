/**
 * `deno task train`: trains part1 or part3 on a preprocessed cache and writes a model directory.
 * @module
 */
import { parseArgs } from "node:util";
import { parseIntegerFlag, parseNumberFlag, runCli } from "../lib/cli.ts";
import { describeBackend, initBackend, stopBackendThreads } from "../engine/tf.ts";
import { formatEpoch, train, type TrainConfig, TrainConfigError } from "./fit.ts";
import { MODEL_PRESETS } from "./mlp.ts";
import { parseAugment } from "./augment.ts";
import { formatConfusion, type Metrics } from "./metrics.ts";
import type { OptimizerName } from "./optimizers.ts";
import { readManifest } from "../pipeline/manifest.ts";
import { join } from "node:path";

const USAGE = `Usage: deno task train --data CACHE --out MODEL_DIR [options]

Trains on CACHE/train (a stratified part held out for validation), evaluates on CACHE/test once at the end.

Options:
  --model part1|part3      part1: inputs -> 5 -> 3 -> 1 (ReLU); part3: inputs -> 1024 -> 2048 -> 2048 -> 1024 -> 1
                           (Dense -> BatchNorm -> ReLU); default part1
  --hidden 512,256         custom hidden widths (with --batch-norm to add BatchNorm)
  --batch-norm             BatchNorm in hidden layers of a --hidden net
  --epochs N               default 10
  --batch-size N           default 64
  --lr X                   initial learning rate, default 0.001
  --decay-rate X           lr * decay^epoch, default 0.8
  --optimizer NAME         adam (default), sgd, momentum, rmsprop
  --seed N                 initialisation, validation split, shuffles, dropout; default 1
  --val-fraction X         share of train held out for validation, default 0.1
  --val-split NAME         validate on CACHE/NAME (a split of its own, e.g. validation) instead
  --limit-train N          use only N train records (stratified); the course's debugging trick
  --limit-test N           use only N test records (stratified)
  --no-standardize         feed pixels as cached; by default each pixel is standardised with the train
                           split's mean and std (without it part1 often collapses to one class)
  --dropout X              dropout rate after hidden ReLUs, default 0
  --l2 X                   L2 penalty on weights, default 0
  --augment LIST           training-time augmentation, drawn afresh per record and epoch: flip (mirror
                           half the records), shift:N (move by up to N pixels each way, edges repeated),
                           or both: flip,shift:8. Validation and test records are never augmented
  --patience N             stop after N epochs without a better validation loss
  --preset course          the course baseline's settings (batch 128, 10 epochs, Adam, lr 0.1 decayed 0.8
                           for part3, constant 0.01 for part1, shuffle seed 220 + epoch, no standardisation);
                           needs a --scale raw cache
  --resume                 continue from MODEL_DIR's checkpoint
  --force                  replace an existing MODEL_DIR
  --backend wasm|cpu       default wasm (cpu is ~10x slower)
  --threads N              threads for the WASM matrix products (default: one per core, ${navigator.hardwareConcurrency}
                           here; on 2 cores part3 steps are ~1.5x faster than with 1). More than one starts
                           tfjs' threaded build (train/wasm_threads.ts); --threads 1 is the plain build
  -h, --help               this text`;

await runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      out: { type: "string" },
      model: { type: "string" },
      hidden: { type: "string" },
      "batch-norm": { type: "boolean" },
      epochs: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      "decay-rate": { type: "string" },
      optimizer: { type: "string" },
      seed: { type: "string" },
      "val-fraction": { type: "string" },
      "val-split": { type: "string" },
      "limit-train": { type: "string" },
      "limit-test": { type: "string" },
      "no-standardize": { type: "boolean" },
      dropout: { type: "string" },
      l2: { type: "string" },
      augment: { type: "string" },
      patience: { type: "string" },
      preset: { type: "string" },
      resume: { type: "boolean" },
      force: { type: "boolean" },
      backend: { type: "string" },
      threads: { type: "string" },
      "eval-batch-size": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  if (!values.data || !values.out) throw new TypeError("--data and --out are required");
  const modelName = values.hidden ? "custom" : values.model ?? "part1";
  if (!values.hidden && !(modelName in MODEL_PRESETS)) {
    throw new TypeError(`unknown --model "${modelName}": use part1 or part3, or --hidden for a custom net`);
  }
  if (values.preset !== undefined && values.preset !== "course") {
    throw new TypeError(`unknown --preset "${values.preset}": only "course"`);
  }
  const course = values.preset === "course";
  const preset = MODEL_PRESETS[modelName];
  const hidden = values.hidden
    ? values.hidden.split(",").map((s) => {
      if (!/^\s*\d+\s*$/.test(s)) throw new TypeError(`--hidden takes widths like 512,256; got "${values.hidden}"`);
      return Number(s);
    })
    : preset.hidden;
  const defaults = course
    ? {
      epochs: 10,
      batchSize: 128,
      lr: modelName === "part1" ? 0.01 : 0.1,
      decay: modelName === "part1" ? 1 : 0.8,
      seed: 220,
    }
    : { epochs: 10, batchSize: 64, lr: 0.001, decay: 0.8, seed: 1 };
  const config: TrainConfig = {
    data: values.data,
    out: values.out,
    model: modelName,
    hidden,
    batchNorm: values.hidden ? values["batch-norm"] ?? false : preset.batchNorm,
    dropout: parseNumberFlag("--dropout", values.dropout, 0),
    l2: parseNumberFlag("--l2", values.l2, 0),
    epochs: parseIntegerFlag("--epochs", values.epochs, defaults.epochs),
    batchSize: parseIntegerFlag("--batch-size", values["batch-size"], defaults.batchSize),
    lr: parseNumberFlag("--lr", values.lr, defaults.lr),
    decayRate: parseNumberFlag("--decay-rate", values["decay-rate"], defaults.decay),
    optimizer: (values.optimizer ?? "adam") as OptimizerName,
    seed: parseIntegerFlag("--seed", values.seed, defaults.seed),
    valFraction: parseNumberFlag("--val-fraction", values["val-fraction"], 0.1),
    valSplit: values["val-split"],
    limitTrain: values["limit-train"] === undefined
      ? undefined
      : parseIntegerFlag("--limit-train", values["limit-train"], 0),
    limitTest: values["limit-test"] === undefined
      ? undefined
      : parseIntegerFlag("--limit-test", values["limit-test"], 0),
    standardize: !(values["no-standardize"] ?? course),
    augment: values.augment === undefined ? undefined : parseAugment(values.augment),
    patience: values.patience === undefined ? undefined : parseIntegerFlag("--patience", values.patience, 0),
    evalBatchSize: parseIntegerFlag("--eval-batch-size", values["eval-batch-size"], 256),
  };
  if (course) {
    const manifest = await readManifest(join(config.data, "train"));
    if (manifest.scale !== "raw") {
      throw new TrainConfigError(
        `--preset course trains on raw 0..255 pixels, but ${config.data} was preprocessed with --scale ${manifest.scale}; ` +
          "preprocess again with --scale raw (into another --out)",
      );
    }
  }
  const backendName = values.backend ?? "wasm";
  if (backendName !== "wasm" && backendName !== "cpu") {
    throw new TypeError(`--backend must be wasm or cpu, got "${backendName}"`);
  }
  const backend = await initBackend(backendName, {
    threads: parseIntegerFlag("--threads", values.threads, navigator.hardwareConcurrency),
  });
  console.error(`train: ${describeBackend(backend)}`);
  console.error(`config: ${JSON.stringify(config)}`);
  const commit = await gitCommit();
  const result = await train(config, {
    log: (line) => console.error(line),
    progress: true,
    resume: values.resume ?? false,
    force: values.force ?? false,
    record: { backend, commit, deno: Deno.version.deno },
  });
  const last = result.history.at(-1);
  console.log(
    `\n${config.model}: ${result.history.length} epochs, kept epoch ${result.bestEpoch}${
      result.stoppedEarly ? " (stopped early)" : ""
    }`,
  );
  if (last) console.log(`last epoch: ${formatEpoch(last, config.epochs)}`);
  const names: Record<string, string> = {
    testBatchStatistics: "test with BatchNorm in training mode (the course's bug)",
  };
  for (const [key, m] of Object.entries(result.metrics) as [string, Metrics | null][]) {
    if (!m) continue;
    const name = names[key] ?? key;
    console.log(
      `${name.padEnd(10)} accuracy ${(100 * m.accuracy).toFixed(2)}% (majority class ${
        (100 * m.majorityAccuracy).toFixed(1)
      }%), ` +
        `loss ${m.loss.toFixed(4)}, precision ${m.precision.toFixed(3)}, recall ${m.recall.toFixed(3)}, ROC-AUC ${
          m.rocAuc.toFixed(3)
        }, n=${m.count}`,
    );
  }
  console.log(`test confusion matrix (rows: true class):\n${formatConfusion(result.metrics.test, result.classes)}`);
  console.log(
    `wall time ${
      result.wallSeconds.toFixed(1)
    } s; model written to ${config.out} (model.json, weights.bin, training.json, history.csv, curves.svg)`,
  );
  stopBackendThreads();
});

async function gitCommit(): Promise<string | null> {
  try {
    const { code, stdout } = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return code === 0 ? new TextDecoder().decode(stdout).trim() : null;
  } catch {
    return null;
  }
}
