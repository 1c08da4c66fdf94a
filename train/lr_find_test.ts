import assert from "node:assert/strict";
import { join } from "node:path";
import { makeLabelledCache } from "../demo/mod.ts";
import { initBackend } from "../engine/mod.ts";
import { makeTrainConfig } from "./config.ts";
import { lrFind, type LrFindPoint, SKIP, suggest } from "./lr_find.ts";

await initBackend("wasm");

Deno.test("suggest() reads the steepest fall before the minimum, and a tenth of the lr at the minimum", () => {
  // log10(lr) from -7 to 1 over 81 points; the loss falls fastest at 1e-4 (a tanh step there), bottoms out at
  // 1e-2 and climbs after it; past the climb it falls again, which must not count as the steepest fall.
  const points: LrFindPoint[] = Array.from({ length: 81 }, (_, i) => {
    const x = -7 + i / 10;
    const smoothed = x <= -2
      ? 1 - 0.5 * Math.tanh(3 * (x + 4)) - 0.01 * (x + 7)
      : 0.45 + (x + 2) ** 2 - 3 * Math.max(0, x);
    return { step: i + 1, lr: 10 ** x, loss: smoothed, smoothed };
  });
  const { steepest, minimumOverTen } = suggest(points);
  assert.ok(Math.abs(Math.log10(steepest) + 4) < 0.051, `steepest ${steepest}`);
  assert.ok(Math.abs(Math.log10(minimumOverTen) + 3) < 0.11, `minimum/10 ${minimumOverTen}`);
  // The first steps (little behind the average yet) are not read, even when they dip lowest.
  const dipped = points.map((p, i) => i === 2 ? { ...p, smoothed: 0 } : p);
  assert.equal(suggest(dipped).minimumOverTen, minimumOverTen);
  assert.equal(SKIP.start, 10);
});

Deno.test("lrFind() grows the lr exponentially, stops once the loss blows up, and leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lr_find_test" });
  await makeLabelledCache(dir, { train: 160, test: 20, width: 24, height: 24, seed: 13 }, { params: { size: 16 } });
  const before = [...Deno.readDirSync(join(dir, "cache", "train"))].map((e) => e.name).sort();
  const config = makeTrainConfig({
    data: join(dir, "cache"),
    out: join(dir, "unused"),
    hidden: [16, 8],
    batchNorm: true,
    batchSize: 16,
    optimizer: "sgd",
  });
  const result = await lrFind(config, { startLr: 1e-4, endLr: 1e8, steps: 60 });
  const lrs = result.points.map((p) => p.lr);
  assert.equal(lrs[0], 1e-4);
  // Each step multiplies the lr by the same factor: (1e12)^(1/59).
  const factor = 1e12 ** (1 / 59);
  for (let i = 1; i < lrs.length; i++) assert.ok(Math.abs(lrs[i] / lrs[i - 1] / factor - 1) < 1e-9);
  // It ran more batches than one pass holds (10), and stopped before the end once the loss blew up.
  assert.ok(result.points.length > 10 && result.points.length < 60, `${result.points.length} steps`);
  assert.equal(result.stoppedEarly, true);
  const last = result.points.at(-1)!;
  const best = Math.min(...result.points.slice(0, -1).map((p) => p.smoothed));
  assert.ok(!Number.isFinite(last.smoothed) || last.smoothed > 4 * best);
  assert.ok(result.suggestions.steepest > 1e-4 && result.suggestions.steepest < last.lr);
  // Nothing written: no model folder, the cache as it was.
  await assert.rejects(() => Deno.stat(join(dir, "unused")), Deno.errors.NotFound);
  assert.deepEqual([...Deno.readDirSync(join(dir, "cache", "train"))].map((e) => e.name).sort(), before);
  await Deno.remove(dir, { recursive: true });
});
