/**
 * Whole training epochs on a real cache, beside PyTorch: part1 and part3 on 1,280 generated 227x227 records,
 * through `train()` (the batch loader, verification, checkpoints: what `deno task train` runs), and through a
 * PyTorch user's loop over the same cache (the split read whole into memory with numpy, standardised like ours,
 * batches indexed out of it), with the same two threads, both allocator settings. Samples/s of epochs 2-4 (the first warms up: it reads and verifies the shards). Part of
 * `deno task bench`.
 * @module
 */
import { join } from "node:path";
import { initBackend, stopBackendThreads } from "../engine/mod.ts";
import { makeTrainConfig, train } from "../train/mod.ts";
import { makeLabelledCache } from "../demo/mod.ts";
import { defineCommand, runCli } from "../lib/mod.ts";
import { findPython, PYTORCH_ALLOCATORS, PYTORCH_NET, runPython } from "./python.ts";

/**
 * A PyTorch user's loop over the cache: the split read whole into memory with numpy (as
 * experiments/pytorch_reference.py reads it), standardised per pixel as ours is (std floored at 1/255), Adam
 * 1e-3, shuffled batches of 64 indexed out of it.
 */
const PYTORCH_EPOCHS = `${PYTORCH_NET}
import json, sys, time, numpy as np, torch, torch.nn as nn
cache, model, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(2); torch.manual_seed(1)
m = json.load(open(f"{cache}/train/manifest.json"))
x = np.concatenate([np.fromfile(f"{cache}/train/{s['file']}", "<f4") for s in m["shards"]])
y = torch.from_numpy(np.fromfile(f"{cache}/train/labels.u8", np.uint8).astype(np.float32))
x = torch.from_numpy(x.reshape(len(y), -1))
x = (x - x.mean(0)) / x.std(0).clamp_min(1 / 255)
net = make_net(model, x.shape[1])
optimizer, loss_fn = torch.optim.Adam(net.parameters(), lr=1e-3), nn.BCEWithLogitsLoss()
rates = []
for epoch in range(epochs):
    started, order = time.time(), torch.randperm(len(x))
    for i in range(0, len(x), 64):
        batch = order[i:i + 64]
        optimizer.zero_grad()
        loss_fn(net(x[batch]).squeeze(1), y[batch]).backward()
        optimizer.step()
    rates.append(len(x) / (time.time() - started))
print(" ".join(f"{r:.1f}" for r in rates))
`;

const EPOCHS = 4;

const EPOCHS_BENCH = defineCommand({
  usage: "deno run -A bench/epochs.ts   (part of deno task bench)",
  description: `Trains part1 and part3 for ${EPOCHS} epochs on 1,280 generated records, beside PyTorch.`,
  flags: {},
});

async function benchEpochs(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench_epochs" });
  try {
    const { cache } = await makeLabelledCache(dir, { train: 1280, test: 64, width: 300, height: 240, seed: 3 }, {
      params: { size: 227 },
    });
    await initBackend("wasm", { threads: 2 });
    const torch = await findPython("torch, numpy");
    console.log(
      `training epochs on a cache of 1,280 generated 227x227 records, batch 64, 2 threads, epochs 2-${EPOCHS}:`,
    );
    for (const model of ["part1", "part3"]) {
      const config = makeTrainConfig({ data: cache, out: join(dir, model), model, epochs: EPOCHS, valFraction: 0 });
      const result = await train(config, { force: true });
      const ours = result.history.slice(1).map((r) => r.samplesPerSecond.toFixed(1)).join(", ");
      let line = `  ${model}: ours (train()) ${ours} samples/s`;
      for (const allocator of torch ? PYTORCH_ALLOCATORS : []) {
        const out = await runPython(torch!, PYTORCH_EPOCHS, [cache, model, String(EPOCHS)], {
          OPENBLAS_NUM_THREADS: "2",
          OMP_NUM_THREADS: "2",
          ...allocator.env,
        });
        line += ` | PyTorch (${allocator.name.split(":")[0]}) ${out ? out.slice(1).join(", ") : "failed"}`;
      }
      console.log(line + (torch ? "" : " (no python3 here can import torch: PyTorch not measured)"));
    }
    stopBackendThreads();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await runCli(EPOCHS_BENCH, benchEpochs);
