/**
 * The training loop: streams batches from the cache, trains with an in-place
 * optimizer and a per-epoch decayed learning rate, validates every epoch,
 * checkpoints (checkpoint_writer.ts), keeps the best epoch by validation loss,
 * evaluates it (evaluate.ts) and writes the model directory (model_directory.ts).
 *
 * {@linkcode train} reads top to bottom as its phases: check the output folder,
 * open the data, build the net, start fresh or resume, run the epochs, restore the
 * best weights, evaluate once, write the model directory.
 * @module
 */
import { join } from "node:path";
import {
  acquireLock,
  createProgress,
  formatDuration,
  OptionError,
  OptionNamingError,
  sweepTemporaryFiles,
} from "../lib/mod.ts";
import { countParameters, type Mlp, parameters, stateTensors, tensorMemory, tf, trainStep } from "../engine/mod.ts";
import { MODEL_FILES } from "../model/mod.ts";
import { resumeKey, type TrainConfig, validateConfig } from "./config.ts";
import type { Optimizer } from "./optimizers.ts";
import { disposeInput, type HostBatch, prefetchBatches, shuffled } from "./batches.ts";
import { type RunData, setUpRun } from "./run_data.ts";
import { CheckpointError, loadCheckpoint } from "./checkpoint.ts";
import { CheckpointWriter } from "./checkpoint_writer.ts";
import { evaluateFinal, predict } from "./evaluate.ts";
import { writeModelDirectory } from "./model_directory.ts";
import {
  type EpochRecord,
  type FinalMetrics,
  RUN_FILES,
  type SplitPredictions,
  type TrainResult,
} from "./run_record.ts";
import { augments, formatAugment, NO_AUGMENT } from "./augment.ts";
import { WeightAverage } from "./weight_average.ts";

/** How a run starts and what it reports; none of it changes what is learned. */
export interface TrainOptions {
  /** Continue from the checkpoint in `config.out`. */
  resume?: boolean;
  /** Replace an existing model directory. */
  force?: boolean;
  /** Show a progress bar per epoch on stderr. */
  progress?: boolean;
  /** Extra fields for training.json (backend, commit, ...). */
  environment?: Record<string, unknown>;
  /**
   * Verify each shard of the cache (sha256 against the manifest, every value finite) before its first use;
   * default true. Values are checked for being finite on every batch either way.
   */
  verify?: boolean;
  /** Callbacks. */
  hooks?: TrainHooks;
}

/** Raised when the loss or the weights stop being finite; nothing of the failed epoch was saved. */
export class TrainingDivergedError extends OptionNamingError {
  /** Creates the error; the message names the epoch, the batch and the learning rate. */
  constructor(template: string) {
    super(template);
    this.name = "TrainingDivergedError";
  }
}

/** How far above the first batch's loss a batch's loss may go before the run warns (once). */
export const LOSS_WARNING_FACTOR = 100;

/** Callbacks during a run. */
export interface TrainHooks {
  /** A line of log output (default: nothing). */
  log?: (line: string) => void;
  /** Called after each epoch's checkpoint (tests use it to stop a run part-way). */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
}

const CHECKPOINT_DIR = "checkpoint";
/** Every file a run writes into its model directory. */
const OUTPUT_FILES = [MODEL_FILES.model, MODEL_FILES.weights, MODEL_FILES.stats, ...Object.values(RUN_FILES)];

/** Trains per `config`, writing the model directory; returns the history and final metrics. */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const started = performance.now();
  const log = options.hooks?.log ?? (() => {});
  validateConfig(config);
  // One run per model directory at a time: an OS lock, so a killed run leaves none behind.
  await using _lock = await acquireLock(config.out, "deno task train");
  await sweepTemporaryFiles(config.out); // left by a run killed while writing the model
  const outHoldsRun = await checkOutputFolder(config, options);
  using resources = new DisposableStack();
  // A fresh run's first batches start reading before the net is built (resumed runs know their epoch later).
  let firstBatches: EpochBatches | undefined;
  const { data, mlp, optimizer } = await setUpRun(config, options.verify ?? true, resources, (opened) => {
    if (!options.resume && config.epochs > 0) firstBatches = epochBatches(config, opened, 0);
  });

  const progress: RunProgress = options.resume
    ? await resumeProgress(config, mlp, optimizer, log)
    : { history: [], best: null, bestWeights: null, epoch: 0, average: null };
  const average = config.ema > 0
    ? resources.adopt(
      new WeightAverage(stateTensors(mlp), config.ema, progress.average ?? undefined),
      (a) => a.dispose(),
    )
    : null;
  if (!options.resume && outHoldsRun) await removeOutputs(config.out);
  await Deno.mkdir(config.out, { recursive: true });
  log(describeData(config, data));
  log(describeNet(config, mlp, data.inputSize));

  const watch = { startLoss: progress.history[0]?.loss ?? NaN, warned: false };
  const checkpoints = new CheckpointWriter(join(config.out, CHECKPOINT_DIR));
  let stoppedEarly: boolean, metrics: FinalMetrics, predictions: SplitPredictions[];
  try {
    stoppedEarly = await runEpochs(
      config,
      { mlp, optimizer, data, progress, options, watch, average },
      checkpoints,
      firstBatches,
    );
    // Keep the best epoch by validation loss; evaluate once, in inference mode, while the last checkpoint is
    // written. The model is written only after it: a failed checkpoint leaves the model folder as it was.
    // With an average of the weights kept, the best weights are the average's (and, without validation, the
    // last average is what is kept).
    if (progress.bestWeights) restore(mlp, progress.bestWeights);
    else if (average) restore(mlp, average.values);
    ({ metrics, predictions } = await evaluateFinal(config, mlp, data));
  } catch (error) {
    await checkpoints.finish().catch(() => {}); // the first failure is the one to report
    throw error;
  }
  await checkpoints.finish();
  const result: TrainResult = {
    history: progress.history,
    bestEpoch: progress.best?.epoch ?? progress.history.length,
    stoppedEarly,
    metrics,
    wallSeconds: (performance.now() - started) / 1000,
    parameterCount: countParameters(mlp),
    classes: data.manifest.classes,
  };
  try {
    await writeModelDirectory(config, data, mlp, { result, predictions }, options.environment ?? {});
  } catch (error) {
    throw new CheckpointError(
      `Cannot write the model into ${config.out}: ${(error as Error).message}. Each of its files is whole, ` +
        `old or new, and the checkpoint of epoch ${progress.epoch} is intact; make room, then run again with {resume}`,
      { cause: error },
    );
  }
  return result;
}

/** Whether `config.out` already holds a run; throws unless the options say what to do with it. */
async function checkOutputFolder(config: TrainConfig, options: TrainOptions): Promise<boolean> {
  if (options.resume && options.force) throw new OptionError("Cannot both {resume} and {force} (replace) a run");
  const exists = (name: string) => Deno.stat(join(config.out, name)).then(() => true, () => false);
  const holdsRun = await exists(MODEL_FILES.model) || await exists(CHECKPOINT_DIR);
  if (holdsRun && !options.force && !options.resume) {
    throw new OptionError(
      `Cannot train into ${config.out}: it already holds a model or checkpoint; set {force} to replace it ` +
        `or {resume} to continue it`,
    );
  }
  return holdsRun;
}

/** Removes only what a run writes, never the folder itself (it may hold other things). */
async function removeOutputs(out: string): Promise<void> {
  for (const name of [...OUTPUT_FILES, CHECKPOINT_DIR]) {
    await Deno.remove(join(out, name), { recursive: true }).catch(() => {});
  }
}

/** Where a run stands: the epochs done, the best one and its weights. */
interface RunProgress {
  history: EpochRecord[];
  best: { epoch: number; validationLoss: number; epochsSince: number } | null;
  bestWeights: Float32Array[] | null;
  /** Epochs completed. */
  epoch: number;
  /** The moving average of the weights a resumed run continues from. */
  average: { values: Float32Array[]; updates: number } | null;
}

/** Loads the checkpoint into the net and optimizer, after checking it was made with the same settings. */
async function resumeProgress(
  config: TrainConfig,
  mlp: Mlp,
  optimizer: Optimizer,
  log: (line: string) => void,
): Promise<RunProgress> {
  const dir = join(config.out, CHECKPOINT_DIR);
  const checkpoint = await loadCheckpoint<ReturnType<typeof resumeKey>, EpochRecord>(
    dir,
    parameters(mlp).map((p) => p.tensor.size),
  );
  const expected = JSON.stringify(resumeKey(config));
  if (JSON.stringify(checkpoint.state.config) !== expected) {
    throw new CheckpointError(
      `the checkpoint in ${dir} was made with different settings:\n  checkpoint: ${
        JSON.stringify(checkpoint.state.config)
      }\n  this run:   ${expected}`,
    );
  }
  restore(mlp, checkpoint.tensors);
  optimizer.restore({ step: checkpoint.state.optimizerStep, slots: checkpoint.optimizerSlots });
  log(`resuming after epoch ${checkpoint.state.epoch} (optimizer step ${optimizer.step})`);
  if (config.ema > 0 && !checkpoint.average) {
    throw new CheckpointError(`the checkpoint in ${dir} holds no average of the weights, which {ema} needs`);
  }
  return {
    history: checkpoint.state.history,
    best: checkpoint.state.best,
    bestWeights: checkpoint.best,
    epoch: checkpoint.state.epoch,
    average: checkpoint.average && { values: checkpoint.average, updates: checkpoint.state.averageUpdates ?? 0 },
  };
}

/** What the epoch loop works on. */
interface EpochContext {
  mlp: Mlp;
  optimizer: Optimizer;
  data: RunData;
  progress: RunProgress;
  options: TrainOptions;
  /** Where the loss started (NaN until the first batch), and whether the run has warned about it. */
  watch: { startLoss: number; warned: boolean };
  /** The moving average of the weights, when the run keeps one. */
  average: WeightAverage | null;
}

/**
 * Runs the remaining epochs, each followed by validation, best-epoch tracking and a checkpoint; true if
 * stopped early. Each checkpoint is written while the next epoch trains; the last one is left to
 * `checkpoints.finish()`, so that the caller can evaluate meanwhile.
 */
async function runEpochs(
  config: TrainConfig,
  context: EpochContext,
  checkpoints: CheckpointWriter,
  started?: EpochBatches,
): Promise<boolean> {
  const { progress, options } = context;
  for (let epoch = progress.epoch; epoch < config.epochs; epoch++) {
    if (config.patience !== undefined && progress.best && progress.best.epochsSince >= config.patience) return true;
    const record = await trainEpoch(config, context, epoch, epoch === 0 && started ? started : undefined);
    progress.history.push(record);
    progress.epoch = epoch + 1;
    // One copy of the weights per epoch serves both the checkpoint and, when it improved, the best weights.
    const weights = snapshot(context.mlp);
    // The loss of every batch was finite, but the last update could still have broken the weights.
    if (weights.some((w) => !allFinite(w))) throw diverged(config, epoch, record.lr, "the weights", "the last batch");
    // The epoch's kept weights are the average's when there is one: it is what validation measured.
    const kept = context.average ? context.average.values.map((a) => a.slice()) : weights;
    const bestChanged = updateBest(progress, record, kept, context.data.indices.validation.length > 0);
    options.hooks?.log?.(formatEpoch(record, config.epochs) + (bestChanged ? "  *best" : ""));
    await checkpoints.start({
      epoch: progress.epoch,
      config: resumeKey(config),
      history: [...progress.history],
      best: progress.best && { ...progress.best },
      optimizerStep: context.optimizer.step,
      ...(context.average ? { averageUpdates: context.average.updates } : {}),
    }, {
      tensors: weights,
      optimizerSlots: context.optimizer.state().slots,
      best: progress.bestWeights,
      bestChanged,
      average: context.average?.values ?? null,
    });
    if (options.hooks?.onEpoch) {
      await checkpoints.finish();
      await options.hooks.onEpoch(record);
    }
  }
  return false;
}

/** One pass over the shuffled training records, then validation. */
async function trainEpoch(
  config: TrainConfig,
  context: EpochContext,
  epoch: number,
  batches = epochBatches(config, context.data, epoch),
): Promise<EpochRecord> {
  const { mlp, optimizer, data, average } = context;
  const lrAt = (step: number) => learningRate(config, epoch, step, batches.count);
  const lr = lrAt(0);
  const state = average ? stateTensors(mlp) : [];
  const bar = context.options.progress
    ? createProgress({ total: batches.count, label: `epoch ${epoch + 1}/${config.epochs}`, unit: "batches" })
    : undefined;
  let lossSum = 0, correct = 0, seen = 0, dataSeconds = 0, step = 0;
  const epochStart = performance.now();
  let waitStart = performance.now();
  for await (const host of batches) {
    dataSeconds += (performance.now() - waitStart) / 1000;
    const batch = data.trainLoader.toTensors(host);
    const result = trainStep(mlp, batch, { dropoutSeed: config.seed * 1_000_003 + epoch * 100_003 + step });
    if (!Number.isFinite(result.loss)) {
      result.gradients.forEach((g) => g.dispose());
      disposeInput(batch);
      bar?.done();
      throw diverged(config, epoch, lrAt(step), `the loss (${result.loss})`, `batch ${step + 1}`);
    }
    watchLoss(context, result.loss, epoch, step, lrAt(step));
    optimizer.apply(result.gradients, lrAt(step));
    average?.update(state);
    result.gradients.forEach((g) => g.dispose());
    disposeInput(batch);
    lossSum += result.loss * host.size;
    correct += result.correct;
    seen += host.size;
    step++;
    bar?.tick(1, `loss ${(lossSum / seen).toFixed(4)}`);
    waitStart = performance.now();
  }
  bar?.done();
  const seconds = (performance.now() - epochStart) / 1000;
  const validate = () =>
    predict(mlp, data.validationLoader, data.indices.validation, config.evalBatchSize, {
      tta: config.tta,
    });
  const validation = data.indices.validation.length === 0
    ? null
    : (await (average ? average.swapIn(stateTensors(mlp), validate) : validate())).metrics;
  return {
    epoch: epoch + 1,
    lr,
    loss: lossSum / seen,
    accuracy: correct / seen,
    valLoss: validation?.loss ?? NaN,
    valAccuracy: validation?.accuracy ?? NaN,
    seconds,
    samplesPerSecond: seen / seconds,
    dataSeconds,
    tensors: tf.memory().numTensors,
  };
}

/** An epoch's training batches (shuffled by seed and epoch, augmented when asked), already being read. */
interface EpochBatches extends AsyncIterable<HostBatch> {
  /** How many. */
  count: number;
}

/**
 * Starts reading epoch `epoch`'s batches: called before the net is built for a fresh run's first epoch, so
 * that its first batch is read (and its shards verified) on the loader's thread while the weights are drawn.
 */
function epochBatches(config: TrainConfig, data: RunData, epoch: number): EpochBatches {
  const order = shuffled(data.indices.train, config.seed + epoch);
  const augmented = config.augment !== undefined && augments(config.augment);
  const augment = augmented || config.mixup > 0 || config.labelSmoothing > 0
    ? {
      options: config.augment ?? NO_AUGMENT,
      seed: config.seed * 1_000_003 + epoch * 7_919,
      mixup: config.mixup,
      labelSmoothing: config.labelSmoothing,
    }
    : undefined;
  const iterator = prefetchBatches(data.trainLoader, order, config.batchSize, { augment });
  const first = iterator.next();
  first.catch(() => {}); // its failure is met where it is awaited, or is moot when the run stopped before
  return {
    count: Math.ceil(order.length / config.batchSize),
    async *[Symbol.asyncIterator]() {
      try {
        for (let next = await first; !next.done; next = await iterator.next()) yield next.value;
      } finally {
        await iterator.return(undefined);
      }
    },
  };
}

/**
 * The learning rate of step `step` (of `steps`) of epoch `epoch`: a linear warmup over the first `warmup` share
 * of all steps, then the schedule: lr·decayRate^epoch (exponential), or half a cosine from lr to 0 over the
 * steps after the warmup (cosine).
 */
export function learningRate(config: TrainConfig, epoch: number, step: number, steps: number): number {
  const total = config.epochs * steps, t = epoch * steps + step;
  const warmup = Math.round(config.warmup * total);
  if (t < warmup) return (config.lr * (t + 1)) / warmup;
  if (config.schedule === "exponential") return config.lr * config.decayRate ** epoch;
  return 0.5 * config.lr * (1 + Math.cos((Math.PI * (t - warmup)) / Math.max(1, total - warmup)));
}

/** Warns once when a batch's loss climbs far above where the run started. */
function watchLoss(context: EpochContext, loss: number, epoch: number, step: number, lr: number): void {
  const { watch } = context;
  if (Number.isNaN(watch.startLoss)) watch.startLoss = loss;
  if (watch.warned || !(loss > LOSS_WARNING_FACTOR * watch.startLoss)) return;
  watch.warned = true;
  context.options.hooks?.log?.(
    `warning: the loss (${loss.toPrecision(3)} at epoch ${epoch + 1}, batch ${step + 1}) is over ` +
      `${LOSS_WARNING_FACTOR} times where it started (${watch.startLoss.toPrecision(3)}): the learning rate ` +
      `(${lr.toPrecision(3)}) is probably too high`,
  );
}

/** The error for a run whose loss or weights stopped being finite. */
function diverged(config: TrainConfig, epoch: number, lr: number, what: string, where: string): TrainingDivergedError {
  const kept = epoch > 0
    ? `the checkpoint of epoch ${epoch} (and the best weights so far in it) stays as it was`
    : "nothing was saved";
  const inputs = config.standardize ? "" : ", or standardised inputs (leave out {standardize})";
  return new TrainingDivergedError(
    `Training diverged at epoch ${epoch + 1}, ${where}, learning rate ${lr.toPrecision(3)}: ${what} stopped ` +
      `being finite. The run stopped; ${kept}. Try a learning rate ten times lower ({lr} ` +
      `${(config.lr / 10).toPrecision(3)})${inputs}, and start again with {force}`,
  );
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return false;
  return true;
}

/** Records the epoch as the best when its validation loss is the lowest yet; true when it is. */
function updateBest(progress: RunProgress, record: EpochRecord, weights: Float32Array[], validating: boolean): boolean {
  if (!validating) return false;
  if (progress.best && !(record.valLoss < progress.best.validationLoss)) {
    progress.best.epochsSince++;
    return false;
  }
  progress.best = { epoch: record.epoch, validationLoss: record.valLoss, epochsSince: 0 };
  progress.bestWeights = weights;
  return true;
}

/** Copies the net's tensors out (for best weights and checkpoints). */
function snapshot(mlp: Mlp): Float32Array[] {
  return stateTensors(mlp).map((t) => tensorMemory(t).slice());
}

/** Writes saved values back into the net's tensors, in place. */
function restore(mlp: Mlp, values: Float32Array[]): void {
  const tensors = stateTensors(mlp);
  if (values.length !== tensors.length || values.some((v, i) => v.length !== tensors[i].size)) {
    throw new CheckpointError("the checkpoint's tensors do not match this net's shape");
  }
  tensors.forEach((t, i) => tensorMemory(t).set(values[i]));
}

function describeData(config: TrainConfig, data: RunData): string {
  const { manifest, indices } = data;
  const where = data.validationSplit ? ` (split "${config.valSplit}")` : "";
  const recipe = [
    ...(config.augment && augments(config.augment) ? [`augmented: ${formatAugment(config.augment)}`] : []),
    ...(config.mixup > 0 ? [`MixUp ${config.mixup}`] : []),
    ...(config.labelSmoothing > 0 ? [`label smoothing ${config.labelSmoothing}`] : []),
  ];
  return `data: ${indices.train.length} train, ${indices.validation.length} validation${where}, ` +
    `${indices.test.length} test records of ${manifest.width}x${manifest.height} ` +
    `${manifest.channels === 3 ? "colour" : "gray"} ` +
    `(${manifest.scale} scale${config.standardize ? ", standardised" : ""}${recipe.map((r) => `, ${r}`).join("")})`;
}

function describeNet(config: TrainConfig, mlp: Mlp, inputSize: number): string {
  const shape = config.residual
    ? `${inputSize} -> ${config.residual.width} -> ${config.residual.depth} residual blocks (LayerNorm, ` +
      `${config.residual.width * config.residual.expansion} GELU) -> LayerNorm -> 1`
    : `${[inputSize, ...config.hidden, 1].join(" -> ")}${config.batchNorm ? " with BatchNorm" : ""}`;
  const optimizer = `${config.optimizer}${config.weightDecay > 0 ? ` (weight decay ${config.weightDecay})` : ""}`;
  const schedule = config.schedule === "cosine"
    ? `cosine from ${config.lr}`
    : `lr ${config.lr} x ${config.decayRate}^epoch`;
  const warmup = config.warmup > 0 ? `, warmup ${100 * config.warmup}% of steps` : "";
  const extras = [
    ...(config.ema > 0 ? [`average of the weights (decay ${config.ema}) validated and kept`] : []),
    ...(config.tta === "flip" ? ["flip averaging at evaluation"] : []),
  ];
  return `net: ${shape}, ${countParameters(mlp).toLocaleString("en")} parameters; ${optimizer}, ${schedule}${warmup}` +
    extras.map((e) => `; ${e}`).join("");
}

/** One log line for an epoch. */
export function formatEpoch(r: EpochRecord, epochs: number): string {
  const val = Number.isFinite(r.valLoss)
    ? `, val loss ${r.valLoss.toFixed(4)} acc ${(100 * r.valAccuracy).toFixed(1)}%`
    : "";
  return `epoch ${r.epoch}/${epochs}: loss ${r.loss.toFixed(4)} acc ${(100 * r.accuracy).toFixed(1)}%${val}, lr ${
    r.lr.toPrecision(3)
  }, ${formatDuration(r.seconds)} (${r.samplesPerSecond.toFixed(1)} samples/s, data ${
    (100 * r.dataSeconds / r.seconds).toFixed(1)
  }%)`;
}
