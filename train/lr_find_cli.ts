/**
 * `deno task lr-find`: Smith's learning-rate range test on a cache; writes lr-find.csv, lr-find.svg and
 * lr-find.png to --out and prints the suggested learning rates. Leaves no model behind.
 * @module
 */
import { join } from "node:path";
import {
  defineCommand,
  renderChart,
  runCli,
  svgToPng,
  toCsv,
  writeFileAtomic,
  writeTextFileAtomic,
} from "../lib/mod.ts";
import { describeBackend, initBackend, stopBackendThreads } from "../engine/mod.ts";
import { makeTrainConfig, parseWidths } from "./config.ts";
import { lrFind, type LrFindResult } from "./lr_find.ts";
import type { OptimizerName } from "./optimizers.ts";

const LR_FIND_COMMAND = defineCommand({
  usage:
    "deno task lr-find --data CACHE --out DIR [--model part1|part3|resmlp|--hidden ...] [--batch-size 64] [--optimizer adam]",
  description: "Trains for ~100 steps while the learning rate grows exponentially, and plots the loss against it.\n" +
    "The net is thrown away; the cache is only read.",
  flags: {
    data: { type: "string", value: "CACHE", required: true, help: "the folder `deno task preprocess` wrote" },
    out: { type: "string", value: "DIR", required: true, help: "where lr-find.csv, lr-find.svg and lr-find.png go" },
    model: { type: "string", value: "NAME", help: "the net: part1 (default), part3 or resmlp" },
    hidden: { type: "string", value: "512,256", help: "custom hidden widths (with --batch-norm to add BatchNorm)" },
    "batch-norm": { type: "boolean", help: "BatchNorm in hidden layers of a --hidden net" },
    "batch-size": { type: "string", value: "N", help: "default 64" },
    optimizer: { type: "string", value: "NAME", help: "adam (default), sgd, momentum, rmsprop" },
    "no-standardize": { type: "boolean", option: "standardize", help: "feed pixels as cached (as in training)" },
    "start-lr": { type: "string", value: "X", help: "first learning rate (default 1e-7)" },
    "end-lr": { type: "string", value: "X", help: "last learning rate (default 10)" },
    steps: { type: "string", value: "N", help: "steps from the first to the last (default 100)" },
    seed: { type: "string", value: "N", help: "initialisation and batch order (default 1)" },
    threads: {
      type: "string",
      value: "N",
      help: `threads for the WASM products (default ${navigator.hardwareConcurrency})`,
    },
  },
});

await runCli(LR_FIND_COMMAND, async (flags) => {
  const widths = flags.string("hidden");
  const hidden = widths === undefined ? undefined : parseWidths(widths);
  const out = flags.string("out")!;
  const config = makeTrainConfig({
    data: flags.string("data")!,
    out,
    model: flags.string("model"),
    hidden,
    batchNorm: hidden ? flags.boolean("batch-norm") : undefined,
    batchSize: flags.integer("batch-size"),
    optimizer: flags.string("optimizer") as OptimizerName | undefined,
    standardize: flags.boolean("no-standardize") ? false : undefined,
    seed: flags.integer("seed"),
  });
  const backend = await initBackend("wasm", { threads: flags.integer("threads") ?? navigator.hardwareConcurrency });
  console.error(
    `lr-find: ${describeBackend(backend)}; ${config.model} ${
      [...config.hidden].join("-")
    }, batch ${config.batchSize}, ${config.optimizer}`,
  );
  const result = await lrFind(config, {
    startLr: flags.number("start-lr"),
    endLr: flags.number("end-lr"),
    steps: flags.integer("steps"),
    onStep: (p) => {
      if (p.step % 10 === 0) {
        console.error(
          `step ${p.step}: lr ${p.lr.toExponential(2)}, loss ${p.loss.toFixed(4)} (smoothed ${p.smoothed.toFixed(4)})`,
        );
      }
    },
  });
  await Deno.mkdir(out, { recursive: true });
  await writeTextFileAtomic(
    join(out, "lr-find.csv"),
    toCsv(["step", "lr", "loss", "smoothed"], result.points.map((p) => [p.step, p.lr, p.loss, p.smoothed])),
  );
  const svg = lrFindChart(result, `${config.model}, batch ${config.batchSize}, ${config.optimizer}`);
  await writeTextFileAtomic(join(out, "lr-find.svg"), svg);
  await writeFileAtomic(join(out, "lr-find.png"), await svgToPng(svg));
  const { steepest, minimumOverTen } = result.suggestions;
  console.log(
    `${result.points.length} steps${result.stoppedEarly ? " (stopped: the loss blew up)" : ""}; ` +
      `wrote ${join(out, "lr-find.csv")}, lr-find.svg, lr-find.png`,
  );
  console.log(
    `suggested lr: ${steepest.toPrecision(2)} (steepest descent of the smoothed loss), ` +
      `${minimumOverTen.toPrecision(2)} (the lr at its minimum, divided by 10)`,
  );
  stopBackendThreads();
});

/** The loss against log10(lr), with the two suggestions marked. */
function lrFindChart(result: LrFindResult, title: string): string {
  const points = result.points.filter((p) => Number.isFinite(p.smoothed));
  const losses = points.map((p) => p.smoothed);
  const [low, high] = [Math.min(...losses), Math.max(...losses)];
  const mark = (lr: number) => [[Math.log10(lr), low], [Math.log10(lr), high]] as [number, number][];
  const { steepest, minimumOverTen } = result.suggestions;
  return renderChart([{
    title: `learning-rate range test: ${title}`,
    xLabel: "log10 learning rate",
    yLabel: "training loss",
    series: [
      // Raw losses far above the smoothed curve (the spikes as it blows up) are left off, so the curve stays readable.
      {
        name: "loss",
        color: "#c7c7c7",
        points: result.points.map((p) => [Math.log10(p.lr), p.loss <= 1.5 * high ? p.loss : NaN]),
      },
      { name: "smoothed", color: "#1f77b4", points: points.map((p) => [Math.log10(p.lr), p.smoothed]) },
      { name: `steepest: ${steepest.toPrecision(2)}`, color: "#2ca02c", dashed: true, points: mark(steepest) },
      {
        name: `minimum/10: ${minimumOverTen.toPrecision(2)}`,
        color: "#d62728",
        dashed: true,
        points: mark(minimumOverTen),
      },
    ],
  }], { width: 720, height: 420 });
}
