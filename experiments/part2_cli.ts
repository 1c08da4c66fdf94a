/**
 * `deno task part2`: traces per-layer gradients of the one-neuron-per-layer chain
 * and plots them (trace.csv, part2.svg, part2.png; compare.svg/png with --compare).
 * @module
 */
import { join } from "node:path";
import {
  defineCommand,
  renderChart,
  runCli,
  type Series,
  svgToPng,
  writeFileAtomic,
  writeTextFileAtomic,
} from "../lib/mod.ts";
import { initBackend } from "../engine/mod.ts";
import {
  checkTraceOptions,
  COURSE_TRACE,
  generatePart2Table,
  type Part2Activation,
  type Part2Init,
  type Part2Table,
  readPart2Table,
  summarize,
  type Trace,
  TRACE_COLORS,
  traceChart,
  traceCsv,
  traceGradients,
  type TraceOptions,
} from "./part2.ts";

const PART2_COMMAND = defineCommand({
  usage: "deno task part2 [options]",
  flags: {
    data: {
      type: "string",
      value: "FILE.csv",
      help: "the course table (height_m,salary_yuan,label); default: a seeded generated table",
    },
    out: { type: "string", value: "DIR", help: "output folder (default out/part2)" },
    activation: {
      type: "string",
      value: "NAME",
      help: "sigmoid (default), tanh or relu for the hidden layers (the output is a sigmoid)",
    },
    depth: { type: "string", value: "N", help: "weight layers (default 5: 2 -> 1 -> 1 -> 1 -> 1 -> 1)" },
    passes: { type: "string", value: "N", help: "passes over the rows, one update per row (default 10)" },
    lr: { type: "string", value: "X", help: "learning rate (default 2)" },
    init: { type: "string", value: "ones|he|xavier", help: "initialisation (default ones, as the course)" },
    seed: { type: "string", value: "N", help: "seed for he/xavier and the generated table (default 1)" },
    "log-y": { type: "boolean", help: "logarithmic y axis in part2.svg" },
    compare: {
      type: "boolean",
      help: "also run sigmoid, tanh and ReLU side by side and plot mean |dW| per layer",
    },
  },
});

await runCli(PART2_COMMAND, async (flags) => {
  const out = flags.string("out") ?? "out/part2";
  const seed = flags.integer("seed") ?? 1;
  const options: TraceOptions = {
    depth: flags.integer("depth") ?? COURSE_TRACE.depth,
    activation: (flags.string("activation") ?? COURSE_TRACE.activation) as Part2Activation,
    init: (flags.string("init") ?? COURSE_TRACE.init) as Part2Init,
    lr: flags.number("lr") ?? COURSE_TRACE.lr,
    passes: flags.integer("passes") ?? COURSE_TRACE.passes,
    seed,
  };
  checkTraceOptions(options);
  await initBackend("wasm");
  let table: Part2Table;
  const data = flags.string("data");
  if (data) {
    table = await readPart2Table(data);
  } else {
    table = generatePart2Table(seed);
    console.error(
      `part2: no --data given, so this runs on a ${table.source} table of the course table's shape (the course's own table does not ship with the project)`,
    );
  }
  console.error(`part2: ${table.features.length} rows from ${table.source}; ${JSON.stringify(options)}`);
  await Deno.mkdir(out, { recursive: true });
  const trace = traceGradients(table, options);
  await writeTextFileAtomic(join(out, "trace.csv"), traceCsv(trace));
  const svg = traceChart(trace, flags.boolean("log-y"));
  await writeTextFileAtomic(join(out, "part2.svg"), svg);
  await writeFileAtomic(join(out, "part2.png"), await svgToPng(svg));
  printSummary(`${options.activation}, init ${options.init}`, trace);
  if (flags.boolean("compare")) {
    const runs: [string, TraceOptions][] = [
      ["sigmoid, init ones (course)", { ...options, activation: "sigmoid", init: "ones" }],
      ["sigmoid, init xavier", { ...options, activation: "sigmoid", init: "xavier" }],
      ["tanh, init xavier", { ...options, activation: "tanh", init: "xavier" }],
      // One neuron per layer: a He-initialised ReLU chain with any negative weight is dead from the
      // start, so ReLU gets the course init (all ones), under which every layer passes the gradient on.
      ["relu, init ones", { ...options, activation: "relu", init: "ones" }],
    ];
    const series: Series[] = [];
    for (const [i, [name, o]] of runs.entries()) {
      const t = traceGradients(table, o);
      printSummary(name, t);
      series.push({ name, color: TRACE_COLORS[i], points: summarize(t).map((s) => [s.layer, s.mean]) });
    }
    const compare = renderChart([{
      title: "mean |dL/dW| per layer (layer 1 = input side)",
      xLabel: "layer",
      yLabel: "mean |dW| (log scale)",
      series,
      logY: true,
      xRange: [1, options.depth],
    }], { width: 620, height: 380 });
    await writeTextFileAtomic(join(out, "compare.svg"), compare);
    await writeFileAtomic(join(out, "compare.png"), await svgToPng(compare));
  }
  console.log(
    `wrote ${
      ["trace.csv", "part2.svg", "part2.png", ...(flags.boolean("compare") ? ["compare.svg", "compare.png"] : [])].map((
        f,
      ) => join(out, f)).join(", ")
    }`,
  );
});

function printSummary(name: string, trace: Trace): void {
  console.log(`\n${name}: ${trace.steps.length} updates`);
  console.log("layer   mean |dW|     max |dW|   mean / output layer's");
  for (const s of summarize(trace)) {
    console.log(
      `W${String(s.layer).padEnd(5)} ${s.mean.toExponential(3).padStart(10)}  ${s.max.toExponential(3).padStart(10)}  ${
        s.ratio.toExponential(2).padStart(10)
      }`,
    );
  }
}
