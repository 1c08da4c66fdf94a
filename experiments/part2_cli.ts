/**
 * `deno task part2`: traces per-layer gradients of the one-neuron-per-layer chain
 * and plots them (trace.csv, part2.svg, part2.png; compare.svg/png with --compare).
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { parseIntegerFlag, parseNumberFlag, runCli } from "../lib/cli.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../lib/atomic_file.ts";
import { initBackend } from "../engine/tf.ts";
import {
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
import { renderChart, type Series } from "../lib/svg_chart.ts";
import { svgToPng } from "../lib/sharp.ts";

const USAGE = `Usage: deno task part2 [options]

Options:
  --data FILE.csv          the course table (height_m,salary_yuan,label); default: a seeded generated table
  --out DIR                output folder (default out/part2)
  --activation NAME        sigmoid (default), tanh or relu for the hidden layers (the output is a sigmoid)
  --depth N                weight layers (default 5: 2 -> 1 -> 1 -> 1 -> 1 -> 1)
  --passes N               passes over the rows, one update per row (default 10)
  --lr X                   learning rate (default 2)
  --init ones|he|xavier    initialisation (default ones, as the course)
  --seed N                 seed for he/xavier and the generated table (default 1)
  --log-y                  logarithmic y axis in part2.svg
  --compare                also run sigmoid, tanh and ReLU side by side and plot mean |dW| per layer
  -h, --help               this text`;

await runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      data: { type: "string" },
      out: { type: "string", default: "out/part2" },
      activation: { type: "string", default: "sigmoid" },
      depth: { type: "string" },
      passes: { type: "string" },
      lr: { type: "string" },
      init: { type: "string", default: "ones" },
      seed: { type: "string" },
      "log-y": { type: "boolean" },
      compare: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  const activation = values.activation as Part2Activation;
  if (!["sigmoid", "tanh", "relu"].includes(activation)) {
    throw new TypeError(`--activation must be sigmoid, tanh or relu, got "${activation}"`);
  }
  const init = values.init as Part2Init;
  if (!["ones", "he", "xavier"].includes(init)) throw new TypeError(`--init must be ones, he or xavier, got "${init}"`);
  const seed = parseIntegerFlag("--seed", values.seed, 1);
  const options: TraceOptions = {
    depth: parseIntegerFlag("--depth", values.depth, COURSE_TRACE.depth),
    activation,
    init,
    lr: parseNumberFlag("--lr", values.lr, COURSE_TRACE.lr),
    passes: parseIntegerFlag("--passes", values.passes, COURSE_TRACE.passes),
    seed,
  };
  await initBackend("wasm");
  let table: Part2Table;
  if (values.data) {
    table = await readPart2Table(values.data);
  } else {
    table = generatePart2Table(seed);
    console.error(
      `part2: no --data given, so this runs on a ${table.source} table of the course table's shape (the course's own table does not ship with the project)`,
    );
  }
  console.error(`part2: ${table.features.length} rows from ${table.source}; ${JSON.stringify(options)}`);
  await Deno.mkdir(values.out, { recursive: true });
  const trace = traceGradients(table, options);
  await writeTextFileAtomic(join(values.out, "trace.csv"), traceCsv(trace));
  const svg = traceChart(trace, values["log-y"] ?? false);
  await writeTextFileAtomic(join(values.out, "part2.svg"), svg);
  await writeFileAtomic(join(values.out, "part2.png"), await svgToPng(svg));
  printSummary(`${options.activation}, init ${options.init}`, trace);
  if (values.compare) {
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
    await writeTextFileAtomic(join(values.out, "compare.svg"), compare);
    await writeFileAtomic(join(values.out, "compare.png"), await svgToPng(compare));
  }
  console.log(
    `wrote ${
      ["trace.csv", "part2.svg", "part2.png", ...(values.compare ? ["compare.svg", "compare.png"] : [])].map((f) =>
        join(values.out, f)
      ).join(", ")
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
