/**
 * Training speed: samples/s of part1, part3 (51,529 inputs) and residual-MLP (3,072) steps on synthetic batches,
 * split into input upload, each kind of product (GFLOP/s against the machine's WASM ceilings, engine/ceilings.ts),
 * the optimizer (GB/s) and the rest, with peak memory and how long the threads waited for each other. Part of
 * `deno task bench`.
 *
 * When a python3 on the machine can import torch, the same step also runs in PyTorch with the same number of
 * threads, three ways: fully tuned (glibc keeping freed memory and OpenMP's threads sleeping rather than spinning,
 * as its CPU users run it), with the memory setting alone, and as installed; and PyTorch's own products for the
 * step are timed alone. Each figure is the median of `--repeats` runs, ours and the peers' taking turns, and our
 * ratio to each peer is the median of the runs' own ratios (each run's against the peer's run beside it).
 *
 * `--models part1,part3,resmlp --batch 32,64,128 --steps-part1 200 --steps-part3 10 --threads 1,2 --repeats 3`
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  buildMlp,
  type Ceilings,
  chunkRanges,
  describeBackend,
  disposeMlp,
  initBackend,
  kernelPool,
  logProducts,
  measureCeilings,
  parameters,
  type PoolTimings,
  type ProductRecord,
  stopBackendThreads,
  tf,
  trainStep,
} from "../engine/mod.ts";
import { MODEL_PRESETS, Optimizer } from "../train/mod.ts";
import { defineCommand, runCli, seededRandom } from "../lib/mod.ts";
import { findPython, PYTORCH_ALLOCATORS, PYTORCH_NET, runPython } from "./python.ts";
import { cpuName } from "./machine.ts";

/** One measured configuration. */
export interface TrainBenchResult {
  /** Model preset. */
  model: string;
  /** Batch size. */
  batchSize: number;
  /** Timed steps. */
  steps: number;
  /** Samples per second over the timed steps. */
  samplesPerSecond: number;
  /** Mean milliseconds per step: data (batch upload to the backend), forward+backward, optimizer. */
  ms: { input: number; forwardBackward: number; optimizer: number; total: number };
  /** Peak resident memory in MB. */
  peakRssMb: number;
  /** Multiply-add flops of one step's products (forward, weight gradients, input gradients). */
  productFlops: number;
  /** Where a step's forward/backward time went: each kind of product (ms per step, flops), the rest. */
  split: StepSplit;
  /** Bytes the optimizer reads and writes per step. */
  optimizerBytes: number;
  /**
   * Per step, the jobs split over the pool's threads: their time from hand-out to the last part's end, and each
   * thread's time in its own parts (null on one thread).
   */
  threads: PoolTimings | null;
}

/** The engine's products of one step by role, and what is left of forward/backward. */
export interface StepSplit {
  /** Forward products W·Xᵀ. */
  forward: { ms: number; flops: number };
  /** Weight gradients dZ·X: the products that sum over the batch. */
  weightGradient: { ms: number; flops: number };
  /** Input gradients Wᵀ·dZ (the "tn" layout). */
  inputGradient: { ms: number; flops: number };
  /** Forward/backward time outside the products: element-wise passes, transposes, tfjs bookkeeping. */
  restMs: number;
  /**
   * The same three, each product timed at its fastest over the timed steps: what the products take when the
   * machine is not also busy with something else (a shared host's load shows in the means above).
   */
  fastest: Record<"forward" | "weightGradient" | "inputGradient", { ms: number; flops: number }>;
}

/** Sums a step's logged products by role (see {@linkcode StepSplit}), per step. */
function splitProducts(log: ProductRecord[], batchSize: number, steps: number, forwardBackwardMs: number): StepSplit {
  const split: StepSplit = {
    forward: { ms: 0, flops: 0 },
    weightGradient: { ms: 0, flops: 0 },
    inputGradient: { ms: 0, flops: 0 },
    restMs: forwardBackwardMs,
    fastest: {
      forward: { ms: 0, flops: 0 },
      weightGradient: { ms: 0, flops: 0 },
      inputGradient: { ms: 0, flops: 0 },
    },
  };
  // Weight gradients are the products whose summed dimension is the batch; the nets' widths never equal it.
  const roleOf = (p: ProductRecord) =>
    p.layout === "tn" ? "inputGradient" : p.k === batchSize ? "weightGradient" : "forward";
  for (const p of log) {
    const role = split[roleOf(p)];
    role.ms += p.ms / steps;
    role.flops += (2 * p.m * p.n * p.k) / steps;
    split.restMs -= p.ms / steps;
  }
  // Every step runs the same products in the same order: the i-th of each step is the same product.
  const perStep = log.length / steps;
  for (let i = 0; i < perStep; i++) {
    const p = log[i], role = split.fastest[roleOf(p)];
    role.ms += Math.min(...Array.from({ length: steps }, (_, step) => log[step * perStep + i].ms));
    role.flops += 2 * p.m * p.n * p.k;
  }
  return split;
}

/** The flops of one training step's products: 2·batch per weight for each of forward and weight gradient, and
 * for the input gradient of every layer but the first. */
function stepProductFlops(layers: { inputSize: number; outputSize: number }[], batchSize: number): number {
  const weights = layers.map((l) => l.inputSize * l.outputSize);
  const total = weights.reduce((a, b) => a + b, 0);
  return 2 * batchSize * (3 * total - weights[0]);
}

/** Inputs of each benched net: the assignment's 227×227 gray, and for the residual MLP 32×32 colour (cifar's). */
export const BENCH_INPUTS: Record<string, number> = { part1: 51529, part3: 51529, resmlp: 32 * 32 * 3 };

/**
 * Times `steps` training steps (after 2 untimed warm-up steps) of `model` at `batchSize`: Adam, or for the
 * residual MLP AdamW (weight decay 0.05) as its recipe trains it.
 */
export function benchTrainStep(
  model: string,
  batchSize: number,
  steps: number,
  inputSize = BENCH_INPUTS[model],
): TrainBenchResult {
  const mlp = buildMlp({ inputSize, ...MODEL_PRESETS[model] }, 1);
  const optimizer = new Optimizer(
    parameters(mlp),
    model === "resmlp" ? { name: "adamw", weightDecay: 0.05 } : { name: "adam" },
  );
  const random = seededRandom(5);
  const values = Float32Array.from({ length: batchSize * inputSize }, () => random() * 2 - 1);
  const labels = Float32Array.from({ length: batchSize }, (_, i) => i % 2);
  const ranges = chunkRanges(inputSize);
  const totals = { input: 0, forwardBackward: 0, optimizer: 0 };
  let peak = 0;
  const products: ProductRecord[] = [];
  const pool = kernelPool();
  let before: PoolTimings | undefined; // the threads' time so far, read as the timed steps begin
  for (let step = 0; step < steps + 2; step++) {
    if (step === 2) before = pool?.timings();
    logProducts(step >= 2 ? products : null);
    const t0 = performance.now();
    const chunks = ranges.map(([a, b]) =>
      tf.tensor2d(values.subarray(a * batchSize, b * batchSize), [batchSize, b - a])
    );
    const y = tf.tensor2d(labels, [1, batchSize]);
    const t1 = performance.now();
    const result = trainStep(mlp, { chunks, labels: y });
    const t2 = performance.now();
    logProducts(null);
    optimizer.apply(result.gradients, 1e-4);
    const t3 = performance.now();
    result.gradients.forEach((g) => g.dispose());
    chunks.forEach((c) => c.dispose());
    y.dispose();
    peak = Math.max(peak, Deno.memoryUsage().rss);
    if (step >= 2) {
      totals.input += t1 - t0;
      totals.forwardBackward += t2 - t1;
      totals.optimizer += t3 - t2;
    }
  }
  const after = pool?.timings();
  const threads = pool && pool.threads > 1 && before && after
    ? {
      splitMs: (after.splitMs - before.splitMs) / steps,
      busyMs: after.busyMs.map((ms, t) => (ms - before.busyMs[t]) / steps),
    }
    : null;
  // Adam and AdamW read weight, gradient and both moments and write back weight and moments: 7 floats each.
  const optimizerBytes = 7 * 4 * parameters(mlp).reduce((n, p) => n + p.tensor.size, 0);
  optimizer.dispose();
  disposeMlp(mlp);
  const total = totals.input + totals.forwardBackward + totals.optimizer;
  return {
    model,
    batchSize,
    steps,
    samplesPerSecond: (steps * batchSize) / (total / 1000),
    ms: {
      input: totals.input / steps,
      forwardBackward: totals.forwardBackward / steps,
      optimizer: totals.optimizer / steps,
      total: total / steps,
    },
    peakRssMb: peak / 2 ** 20,
    productFlops: stepProductFlops(mlp.layers, batchSize),
    split: splitProducts(products, batchSize, steps, totals.forwardBackward / steps),
    optimizerBytes,
    threads,
  };
}

/** The same training step in PyTorch (same shapes, net, optimizer, as many threads as ours), printed as samples/s. */
const PYTORCH_STEP = `${PYTORCH_NET}
import sys, time, torch
model_name, batch, steps, threads, inputs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
model = make_net(model_name, inputs)
if model_name == "resmlp":
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
else:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
loss_fn = torch.nn.BCEWithLogitsLoss()
x = torch.rand(batch, inputs) * 2 - 1
y = (torch.arange(batch) % 2).float().unsqueeze(1)
def step():
    optimizer.zero_grad()
    loss_fn(model(x), y).backward()
    optimizer.step()
for _ in range(2): step()
t = time.time()
for _ in range(steps): step()
print(steps * batch / (time.time() - t), torch.__version__)
`;

/**
 * PyTorch's own matrix products (torch.mm on OpenBLAS) for one step of the same net: each Linear's forward,
 * weight gradient and (after the first) input gradient, as the step computes them; printed as GFLOP/s, best
 * of 5 rounds. What the peer's products run at, beside the WASM ceilings.
 */
const PYTORCH_PRODUCTS = `${PYTORCH_NET}
import sys, time, torch
model_name, batch, threads, inputs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
layers = [m for m in make_net(model_name, inputs).modules() if isinstance(m, nn.Linear)]
operands = [(torch.randn(batch, l.in_features), l.weight.detach(), torch.randn(batch, l.out_features), i > 0)
            for i, l in enumerate(layers)]
flops = sum(2 * batch * w.numel() * (3 if grad_input else 2) for x, w, dz, grad_input in operands)
def products():
    for x, w, dz, grad_input in operands:
        torch.mm(x, w.t()); torch.mm(dz.t(), x)
        if grad_input: torch.mm(dz, w)
def timed():
    start = time.perf_counter()
    products()
    return time.perf_counter() - start
timed()
print(flops / min(timed() for _ in range(5)) / 1e9)
`;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const TRAIN_BENCH = defineCommand({
  usage: "deno run -A bench/train.ts [options]   (part of deno task bench)",
  flags: {
    models: { type: "string", value: "LIST", help: "nets to time (default part1,part3,resmlp)" },
    batch: { type: "string", value: "LIST", help: "batch sizes (default 32,64,128)" },
    "steps-part1": { type: "string", value: "N", help: "timed steps of part1 (default 200)" },
    "steps-part3": { type: "string", value: "N", help: "timed steps of part3 and resmlp (default 10)" },
    threads: { type: "string", value: "LIST", help: "backend thread counts, one process each (default 1,2)" },
    repeats: { type: "string", value: "N", help: "runs of each measurement, the median printed (default 3)" },
  },
});

if (import.meta.main) {
  await runCli(TRAIN_BENCH, async (flags) => {
    const values = {
      models: flags.string("models") ?? "part1,part3,resmlp",
      batch: flags.string("batch") ?? "32,64,128",
      "steps-part1": flags.integer("steps-part1") ?? 200,
      "steps-part3": flags.integer("steps-part3") ?? 10,
      threads: flags.string("threads") ?? "1,2",
      repeats: flags.integer("repeats") ?? 3,
    };
    const threadCounts = values.threads.split(",");
    if (threadCounts.length > 1) {
      // The backend starts once per process: one child process per thread count.
      for (const threads of threadCounts) {
        const args = Object.entries({ ...values, threads }).flatMap(([key, value]) => [`--${key}`, String(value)]);
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", fileURLToPath(new URL(import.meta.url)), ...args],
          stdout: "inherit",
          stderr: "inherit",
        });
        const { code } = await child.output();
        if (code !== 0) Deno.exit(code);
      }
      return;
    }
    await benchThreads(values, Number(values.threads));
  });
}

/** Times every model and batch size on one backend thread count, beside PyTorch (both ways) when it is here. */
async function benchThreads(
  values: { models: string; batch: string; "steps-part1": number; "steps-part3": number; repeats: number },
  threads: number,
): Promise<void> {
  const info = await initBackend("wasm", { threads });
  const torch = await findPython("torch");
  // Measured again before each net and batch size, the highest of each kept: a shared host's load can spoil
  // a measurement that takes a few seconds, but never makes one read high.
  let ceilings = measureCeilings(10);
  if (ceilings) console.log(`ceilings on ${await cpuName()}: ${describeCeilings(ceilings)}`);
  console.log(
    `training bench (${describeBackend(info)}; ${await cpuName()}), synthetic batches (part1, part3: ` +
      `51,529 inputs, Adam; resmlp: 3,072, AdamW), median of ${values.repeats} runs, ours and PyTorch's in turn:`,
  );
  if (!torch) console.log("  (no python3 here can import torch: PyTorch not measured, ours alone)");
  const plural = info.threads === 1 ? "" : "s";
  for (const model of values.models.split(",")) {
    for (const batch of values.batch.split(",").map(Number)) {
      const steps = model === "part1" ? values["steps-part1"] : values["steps-part3"];
      // Ours and each PyTorch peer take turns, run after run, so that both meet the same moments of a shared
      // host's load; each ratio printed is the median of the runs' own ratios.
      // Same step, same shapes, same number of threads: torch.set_num_threads() does not reach Debian's
      // OpenBLAS, which starts a thread per core unless told.
      const cores = { OPENBLAS_NUM_THREADS: String(info.threads), OMP_NUM_THREADS: String(info.threads) };
      const runs: TrainBenchResult[] = [];
      const peers = PYTORCH_ALLOCATORS.map((allocator) => ({
        allocator,
        samples: [] as number[],
        ratios: [] as number[],
      }));
      let version = "?";
      for (let run = 0; run < values.repeats; run++) {
        const ours = benchTrainStep(model, batch, steps);
        runs.push(ours);
        if (!torch) continue;
        for (const peer of peers) {
          const args = [model, String(batch), String(steps), String(info.threads), String(BENCH_INPUTS[model])];
          const out = await runPython(torch, PYTORCH_STEP, args, { ...cores, ...peer.allocator.env });
          if (!out) continue;
          peer.samples.push(Number(out[0]));
          peer.ratios.push(ours.samplesPerSecond / Number(out[0]));
          version = out[1];
        }
      }
      const r = runs.find((run) => run.samplesPerSecond === median(runs.map((x) => x.samplesPerSecond)))!;
      console.log(
        `  ${model} batch ${batch}: ${r.samplesPerSecond.toFixed(1)} samples/s; per step ${
          r.ms.total.toFixed(1)
        } ms = ` +
          `data ${r.ms.input.toFixed(1)} + forward/backward ${r.ms.forwardBackward.toFixed(1)} + optimizer ` +
          `${r.ms.optimizer.toFixed(1)}; peak RSS ${r.peakRssMb.toFixed(0)} MB (${r.steps} steps)`,
      );
      ceilings = highestCeilings(ceilings, measureCeilings(3));
      if (ceilings) console.log(describeSplit(r, ceilings));
      if (!torch) continue;
      const sgemm = await runPython(
        torch,
        PYTORCH_PRODUCTS,
        [model, String(batch), String(info.threads), String(BENCH_INPUTS[model])],
        { ...cores, ...PYTORCH_ALLOCATORS[0].env },
      );
      const torchGflops = sgemm ? Number(sgemm[0]) : NaN;
      if (sgemm && ceilings) {
        console.log(
          `    PyTorch's own products for this step (torch.mm, OpenBLAS, fully tuned, best of 5): ${
            torchGflops.toFixed(1)
          } GFLOP/s = ` +
            `${(torchGflops / ceilings.fma.allThreads).toFixed(2)}x the WASM multiply-add ceiling`,
        );
      }
      for (const { allocator, samples, ratios } of peers) {
        if (samples.length === 0) {
          console.log(`    PyTorch (${allocator.name}): failed to run`);
          continue;
        }
        console.log(
          `    PyTorch ${version} (${info.threads} thread${plural}, OPENBLAS_NUM_THREADS=${info.threads}; ` +
            `${allocator.name}): ${median(samples).toFixed(1)} samples/s -> ratio ${median(ratios).toFixed(2)} ` +
            `(runs side by side: ${ratios.map((x) => x.toFixed(2)).join(", ")})`,
        );
      }
      if (ceilings && peers[0].samples.length > 0) {
        console.log(describeBound(r, ceilings, torchGflops, median(peers[0].samples)));
      }
    }
  }
  if (ceilings) console.log(`ceilings, the highest measured over the run: ${describeCeilings(ceilings)}`);
  stopBackendThreads();
}

/** The ceilings as one line of text. */
function describeCeilings(c: Ceilings): string {
  return `WASM SIMD multiply-add ${c.fma.oneThread.toFixed(1)} GFLOP/s on one thread, ${
    c.fma.allThreads.toFixed(1)
  } on ${c.threads}; the product kernel on operands in L1 ${c.product.oneThread.toFixed(1)} on one, ` +
    `${c.product.allThreads.toFixed(1)} on ${c.threads}; streaming reads ${c.bandwidth.oneThread.toFixed(1)} GB/s ` +
    `on one, ${c.bandwidth.allThreads.toFixed(1)} on ${c.threads}; in-place updates (read + written) ` +
    `${c.update.oneThread.toFixed(1)} GB/s on one, ${c.update.allThreads.toFixed(1)} on ${c.threads}`;
}

/** Each ceiling the higher of two measurements. */
function highestCeilings(a: Ceilings | null, b: Ceilings | null): Ceilings | null {
  if (!a || !b) return a ?? b;
  const higher = (x: { oneThread: number; allThreads: number }, y: { oneThread: number; allThreads: number }) => ({
    oneThread: Math.max(x.oneThread, y.oneThread),
    allThreads: Math.max(x.allThreads, y.allThreads),
  });
  return {
    threads: a.threads,
    fma: higher(a.fma, b.fma),
    product: higher(a.product, b.product),
    bandwidth: higher(a.bandwidth, b.bandwidth),
    update: higher(a.update, b.update),
  };
}

/** A step's split as printed lines: each kind of product against the multiply-add ceiling, the optimizer
 * against the bandwidth of in-place updates, and the rest as a share of the step. */
function describeSplit(r: TrainBenchResult, ceilings: Ceilings): string {
  const peak = ceilings.fma.allThreads, inCache = ceilings.product.allThreads, bandwidth = ceilings.update.allThreads;
  const product = (name: string, p: { ms: number; flops: number }) => {
    const gflops = p.flops / p.ms / 1e6;
    return `${name} ${p.ms.toFixed(1)} ms (${(p.flops / 1e9).toFixed(2)} GFLOP, ${gflops.toFixed(1)} GFLOP/s = ` +
      `${(100 * gflops / peak).toFixed(0)}% / ${(100 * gflops / inCache).toFixed(0)}%)`;
  };
  const { split } = r;
  const productMs = split.forward.ms + split.weightGradient.ms + split.inputGradient.ms;
  const gbs = r.optimizerBytes / r.ms.optimizer / 1e6;
  return `    step split: products ${productMs.toFixed(1)} ms = ${product("forward", split.forward)} + ` +
    `${product("weight gradients", split.weightGradient)} + ${product("input gradients", split.inputGradient)}\n` +
    `      the same, each product at its fastest of the ${r.steps} steps: ${
      product("forward", split.fastest.forward)
    } + ${product("weight gradients", split.fastest.weightGradient)} + ` +
    `${product("input gradients", split.fastest.inputGradient)}\n` +
    `      (% of the ${peak.toFixed(1)} GFLOP/s of multiply-adds alone / of the product kernel's own ${
      inCache.toFixed(1)
    } on operands in L1)\n` +
    `      optimizer ${r.ms.optimizer.toFixed(1)} ms (${(r.optimizerBytes / 1e9).toFixed(2)} GB read and written, ` +
    `${gbs.toFixed(1)} GB/s = ${(100 * gbs / bandwidth).toFixed(0)}% of the ${bandwidth.toFixed(1)} GB/s of ` +
    `in-place updates); outside the products ${
      split.restMs.toFixed(1)
    } ms (element-wise passes, transposes, bookkeeping) ` +
    `and data ${r.ms.input.toFixed(1)} ms: ${
      (100 * (split.restMs + r.ms.input) / r.ms.total).toFixed(0)
    }% of the step` +
    (r.threads ? `\n      ${describeThreads(r.threads)}` : "");
}

/**
 * The most this step could give here: its products at the product kernel's own ceiling (beside PyTorch's own
 * products, timed alone) and the optimizer at the in-place bandwidth, nothing else. The ceilings are the run's
 * highest; a loaded host slows the PyTorch run beside them, so they compare best in a quiet hour.
 */
function describeBound(r: TrainBenchResult, ceilings: Ceilings, torchGflops: number, torchSamples: number): string {
  const productMs = r.productFlops / ceilings.product.allThreads / 1e6;
  const optimizerMs = r.optimizerBytes / ceilings.update.allThreads / 1e6;
  const most = (r.batchSize * 1000) / (productMs + optimizerMs);
  const theirs = Number.isFinite(torchGflops)
    ? ` (PyTorch's own: ${(r.productFlops / torchGflops / 1e6).toFixed(1)})`
    : "";
  return `    the ceiling here: this step's products at the product kernel's own ${
    ceilings.product.allThreads.toFixed(1)
  } GFLOP/s take ${productMs.toFixed(1)} ms${theirs}, the optimizer at ${ceilings.update.allThreads.toFixed(1)} GB/s ` +
    `${optimizerMs.toFixed(1)} ms: with nothing else, at most ${most.toFixed(0)} samples/s (the fully tuned PyTorch ` +
    `beside us: ${torchSamples.toFixed(1)})`;
}

/** How long the threads waited for each other in the jobs split over them (each job waits for its slowest part). */
function describeThreads({ splitMs, busyMs }: PoolTimings): string {
  const waiting = busyMs.reduce((sum, busy) => sum + Math.max(0, splitMs - busy), 0);
  return `threads: the jobs split over ${busyMs.length} threads took ${splitMs.toFixed(1)} ms a step, each thread ` +
    `working ${busyMs.map((ms) => ms.toFixed(1)).join(" / ")} ms of it: ${waiting.toFixed(1)} thread-ms waiting ` +
    `for the other (${(100 * waiting / (splitMs * busyMs.length)).toFixed(0)}% of their time in them)`;
}
