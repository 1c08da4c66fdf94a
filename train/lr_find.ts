/**
 * Smith's learning-rate range test ("Cyclical Learning Rates for Training Neural Networks", 2017; fastai's
 * `lr_find`): train from the config's initialisation for a hundred or so steps while the learning rate grows
 * exponentially from tiny to huge, and watch the loss. It falls, then blows up; a good learning rate lies on
 * the steep part of the fall. Nothing is saved: the net is thrown away, the cache only read.
 * @module
 */
import type { TrainConfig } from "./config.ts";
import { trainStep } from "../engine/mod.ts";
import { disposeInput, prefetchBatches, shuffled } from "./batches.ts";
import { setUpRun } from "./run_data.ts";

/** Options of {@linkcode lrFind}. */
export interface LrFindOptions {
  /** The first learning rate (default 1e-7). */
  startLr?: number;
  /** The last learning rate (default 10). */
  endLr?: number;
  /** Steps from the first to the last (default 100). */
  steps?: number;
  /** Stop once the smoothed loss exceeds this many times its lowest (default 4). */
  stopFactor?: number;
  /** Weight of the past in the loss's exponential moving average (default 0.98). */
  smoothing?: number;
  /** Verify the cache's shards before first use (default true). */
  verify?: boolean;
  /** Called after each step. */
  onStep?: (point: LrFindPoint) => void;
}

/** One step of the test. */
export interface LrFindPoint {
  /** 1-based step. */
  step: number;
  /** Learning rate of the step. */
  lr: number;
  /** The batch's loss. */
  loss: number;
  /** The loss's exponential moving average, bias-corrected. */
  smoothed: number;
}

/** What the test found. */
export interface LrFindResult {
  /** Every step taken. */
  points: LrFindPoint[];
  /** Whether the loss blew up (past `stopFactor` × its lowest, or not finite) before the last step. */
  stoppedEarly: boolean;
  /** Two readings of the curve. */
  suggestions: {
    /** Where the smoothed loss falls fastest against log(lr). */
    steepest: number;
    /** The learning rate at the lowest smoothed loss, divided by 10. */
    minimumOverTen: number;
  };
}

/** Runs the range test on `config`'s net, data, batch size, optimizer and seed (its lr and epochs are not used). */
export async function lrFind(config: TrainConfig, options: LrFindOptions = {}): Promise<LrFindResult> {
  const { startLr = 1e-7, endLr = 10, steps = 100, stopFactor = 4, smoothing = 0.98 } = options;
  if (!(startLr > 0 && endLr > startLr && Number.isInteger(steps) && steps >= 3)) {
    throw new RangeError(`Cannot run the range test from ${startLr} to ${endLr} in ${steps} steps`);
  }
  using resources = new DisposableStack();
  const { data, mlp, optimizer } = await setUpRun(config, options.verify ?? true, resources);
  const points: LrFindPoint[] = [];
  let average = 0, best = Infinity, stoppedEarly = false;
  // As many shuffled passes over the training records as the steps need.
  for (let pass = 0; points.length < steps && !stoppedEarly; pass++) {
    const order = shuffled(data.indices.train, config.seed + pass);
    for await (const host of prefetchBatches(data.trainLoader, order, config.batchSize)) {
      const step = points.length + 1;
      const lr = startLr * (endLr / startLr) ** ((step - 1) / (steps - 1));
      const batch = data.trainLoader.toTensors(host);
      const result = trainStep(mlp, batch, { dropoutSeed: config.seed * 1_000_003 + step });
      if (Number.isFinite(result.loss)) optimizer.apply(result.gradients, lr);
      result.gradients.forEach((g) => g.dispose());
      disposeInput(batch);
      average = smoothing * average + (1 - smoothing) * result.loss;
      const smoothed = average / (1 - smoothing ** step);
      const point = { step, lr, loss: result.loss, smoothed };
      points.push(point);
      options.onStep?.(point);
      if (Number.isFinite(smoothed)) best = Math.min(best, smoothed);
      if (!Number.isFinite(smoothed) || smoothed > stopFactor * best) {
        stoppedEarly = step < steps;
        break;
      }
      if (points.length >= steps) break;
    }
  }
  return { points, stoppedEarly, suggestions: suggest(points) };
}

/** Steps left out at each end when reading the curve: the average has little behind it at first (as fastai). */
export const SKIP = { start: 10, end: 5 };

/**
 * The two readings of the curve, from its finite points less the first {@linkcode SKIP}.start and last
 * {@linkcode SKIP}.end: where the smoothed loss falls fastest against log(lr) before its lowest point, and a
 * tenth of the lr at its lowest. (Short runs keep at least three points.)
 */
export function suggest(points: LrFindPoint[]): LrFindResult["suggestions"] {
  const finite = points.filter((p) => Number.isFinite(p.smoothed));
  const trimmed = finite.slice(SKIP.start, finite.length - SKIP.end);
  const usable = trimmed.length >= 3 ? trimmed : finite;
  if (usable.length < 3) throw new RangeError("Cannot read the curve: fewer than three finite losses");
  let lowest = 0;
  usable.forEach((p, i) => {
    if (p.smoothed < usable[lowest].smoothed) lowest = i;
  });
  // A central difference of the smoothed loss against log(lr), on the way down to the lowest point (one-sided at
  // the ends): past the lowest point the net is breaking up, and a loss that falls again there (ReLU units
  // dying, the output going constant) is no learning rate to train at.
  let steepest = 0, slope = Infinity;
  for (let i = 0; i <= lowest; i++) {
    const [a, b] = [usable[Math.max(0, i - 1)], usable[Math.min(usable.length - 1, i + 1)]];
    const d = (b.smoothed - a.smoothed) / Math.log(b.lr / a.lr);
    if (d < slope) [slope, steepest] = [d, i];
  }
  return { steepest: usable[steepest].lr, minimumOverTen: usable[lowest].lr / 10 };
}
