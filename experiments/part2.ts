/**
 * part2 of the assignment: the vanishing-gradient experiment.
 *
 * A straight chain 2 -> 1 -> 1 -> ... -> 1 (one neuron per layer, sigmoid output)
 * is trained by online gradient descent on a tiny tabular set, and |dL/dW| of
 * every layer is recorded at every update. Gradients come from tfjs automatic
 * differentiation, so any depth and activation works; with the course's
 * settings (sigmoid everywhere, all weights 1, lr 2) the layers nearest the
 * input get gradients orders of magnitude smaller than the output layer's.
 * @module
 */
import {
  normalFrom,
  OptionError,
  parseCsv,
  renderChart,
  requireChoice,
  seededRandom,
  type Series,
  toCsv,
} from "../lib/mod.ts";
import { tf } from "../engine/mod.ts";

/** Hidden activations there are. */
export const PART2_ACTIVATIONS = ["sigmoid", "tanh", "relu"] as const;
/** Hidden activation. */
export type Part2Activation = typeof PART2_ACTIVATIONS[number];
/** Initialisations there are: all ones (the course), He or Xavier normal (seeded). */
export const PART2_INITS = ["ones", "he", "xavier"] as const;
/** Weight initialisation. */
export type Part2Init = typeof PART2_INITS[number];

/** A normalised two-feature table with 0/1 labels. */
export interface Part2Table {
  /** Rows of [x1, x2], normalised as (x - mean) / (max - min). */
  features: [number, number][];
  /** 0/1 labels. */
  labels: number[];
  /** Where it came from. */
  source: string;
}

/** Raised for a data file that cannot be used; names the row. */
export class Part2DataError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "Part2DataError";
  }
}

/** Normalises each column as (x - mean) / (max - min), as the course does. */
export function normalizeColumns(rows: number[][]): number[][] {
  const columns = rows[0].length;
  const out = rows.map((r) => r.slice());
  for (let c = 0; c < columns; c++) {
    const values = rows.map((r) => r[c]);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const range = Math.max(...values) - Math.min(...values);
    for (const r of out) r[c] = range > 0 ? (r[c] - mean) / range : 0;
  }
  return out;
}

/** Parses the course table (`height_m,salary_yuan,label`, or any two numeric features then a 0/1 label). */
export function parsePart2Table(text: string, source: string): Part2Table {
  let records: string[][];
  try {
    records = parseCsv(text).map((row) => row.fields);
  } catch (error) {
    throw new Part2DataError(`Cannot parse ${source}: ${(error as Error).message}`);
  }
  if (records.length === 0) {
    throw new Part2DataError(`${source} is empty: expected a header "height_m,salary_yuan,label"`);
  }
  const header = records[0];
  if (header.length !== 3) {
    throw new Part2DataError(
      `${source} line 1: expected 3 columns (two features, then label), found ${header.length}: "${header.join(",")}"`,
    );
  }
  const rows: number[][] = [], labels: number[] = [];
  for (const [i, record] of records.slice(1).entries()) {
    const line = i + 2;
    if (record.length !== 3) {
      throw new Part2DataError(`${source} line ${line}: expected 3 columns, found ${record.length}`);
    }
    const values = record.map(Number);
    const bad = record.findIndex((cell, c) => cell === "" || !Number.isFinite(values[c]));
    if (bad >= 0) {
      throw new Part2DataError(`${source} line ${line}: column "${header[bad]}" is not a number: "${record[bad]}"`);
    }
    if (values[2] !== 0 && values[2] !== 1) {
      throw new Part2DataError(`${source} line ${line}: label must be 0 or 1, got "${record[2]}"`);
    }
    rows.push(values.slice(0, 2));
    labels.push(values[2]);
  }
  if (rows.length < 2) {
    throw new Part2DataError(`${source} has ${rows.length} data row(s); the experiment needs at least 2`);
  }
  return { features: normalizeColumns(rows) as [number, number][], labels, source };
}

/** Reads a table from a CSV file. */
export async function readPart2Table(path: string): Promise<Part2Table> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Part2DataError(`Cannot read ${path}: ${(error as Error).message}`);
  }
  return parsePart2Table(text, path);
}

/** A seeded table of the course table's shape: 50 rows of height (m), monthly salary (yuan), label. */
export function generatePart2Table(seed = 2, rows = 50): Part2Table {
  const random = seededRandom(seed);
  const normal = () => normalFrom(random);
  const raw: number[][] = [], labels: number[] = [];
  for (let i = 0; i < rows; i++) {
    const height = 1.7 + 0.07 * normal();
    const salary = Math.exp(Math.log(6000) + 0.5 * normal());
    const score = (height - 1.7) / 0.07 + Math.log(salary / 6000) / 0.5 + 0.8 * normal();
    raw.push([height, salary]);
    labels.push(score > 0.5 ? 1 : 0);
  }
  return {
    features: normalizeColumns(raw) as [number, number][],
    labels,
    source: `generated (seed ${seed}, ${rows} rows)`,
  };
}

/** Settings of one traced run. */
export interface TraceOptions {
  /** Weight layers (the course: 5, i.e. 2 -> 1 -> 1 -> 1 -> 1 -> 1). */
  depth: number;
  /** Hidden activation (the output is always a sigmoid). */
  activation: Part2Activation;
  /** Initialisation; biases start at 1 with `ones`, else 0. */
  init: Part2Init;
  /** Learning rate. */
  lr: number;
  /** Passes over the rows, one update per row in file order. */
  passes: number;
  /** Seed for he/xavier initialisation. */
  seed?: number;
}

/** The course's settings. */
export const COURSE_TRACE: TraceOptions = { depth: 5, activation: "sigmoid", init: "ones", lr: 2, passes: 10 };

/** One update's record. */
export interface TraceStep {
  /** 0-based update number. */
  step: number;
  /** 0-based pass. */
  pass: number;
  /** 0-based row. */
  sample: number;
  /** |dL/dW_k| for k = 1..depth (index 0 is layer 1, given as the norm of its two weights). */
  gradients: number[];
  /** |dL/dW1| per input weight. */
  firstLayer: [number, number];
  /** Network output before the update. */
  output: number;
}

/** A whole trace. */
export interface Trace {
  /** The settings. */
  options: TraceOptions;
  /** Every update. */
  steps: TraceStep[];
}

function initialValue(init: Part2Init, fanIn: number, random: () => number): number {
  if (init === "ones") return 1;
  const normal = normalFrom(random);
  const std = init === "he" ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + 1));
  return normal * std;
}

/** Throws an {@linkcode OptionError} naming the first setting that cannot be traced. */
export function checkTraceOptions(options: TraceOptions): void {
  const { depth, activation, init } = options;
  if (!(Number.isInteger(depth) && depth >= 2)) throw new OptionError(`{depth} must be an integer >= 2, got ${depth}`);
  requireChoice("activation", activation, PART2_ACTIVATIONS);
  requireChoice("init", init, PART2_INITS);
  if (!(options.lr > 0)) throw new OptionError(`{lr} must be positive, got ${options.lr}`);
  if (!(Number.isInteger(options.passes) && options.passes >= 1)) {
    throw new OptionError(`{passes} must be a positive integer, got ${options.passes}`);
  }
}

/** Trains the chain on `table` and records every layer's gradient at every update. */
export function traceGradients(table: Part2Table, options: TraceOptions): Trace {
  const { depth, activation, init, lr, passes } = options;
  checkTraceOptions(options);
  const random = seededRandom(options.seed ?? 1);
  const weights: tf.Variable[] = [], biases: tf.Variable[] = [];
  for (let k = 0; k < depth; k++) {
    const fanIn = k === 0 ? 2 : 1;
    weights.push(
      tf.variable(tf.tensor2d(Array.from({ length: fanIn }, () => initialValue(init, fanIn, random)), [fanIn, 1])),
    );
    biases.push(tf.variable(tf.scalar(init === "ones" ? 1 : 0)));
  }
  const act = (z: tf.Tensor) =>
    activation === "sigmoid" ? tf.sigmoid(z) : activation === "tanh" ? tf.tanh(z) : tf.relu(z);
  const steps: TraceStep[] = [];
  const variables = [...weights, ...biases];
  try {
    for (let pass = 0; pass < passes; pass++) {
      for (let sample = 0; sample < table.features.length; sample++) {
        const x = tf.tensor2d([table.features[sample]], [1, 2]);
        const y = table.labels[sample];
        let output = 0;
        const { grads, value } = tf.variableGrads(() => {
          let a: tf.Tensor = x;
          for (let k = 0; k < depth; k++) {
            const z = tf.add(tf.matMul(a as tf.Tensor2D, weights[k]), biases[k]);
            a = k === depth - 1 ? tf.sigmoid(z) : act(z);
          }
          output = (a.dataSync() as Float32Array)[0];
          // Cross-entropy on the sigmoid output: its gradient at the output is a - y.
          const p = tf.clipByValue(a, 1e-7, 1 - 1e-7);
          return tf.neg(tf.add(tf.mul(y, tf.log(p)), tf.mul(1 - y, tf.log(tf.sub(1, p))))).sum() as tf.Scalar;
        }, variables);
        value.dispose();
        x.dispose();
        const first = grads[weights[0].name].dataSync();
        const gradients = weights.map((w, k) => {
          const g = grads[w.name].dataSync();
          return k === 0 ? Math.hypot(...g) : Math.abs(g[0]);
        });
        steps.push({
          step: steps.length,
          pass,
          sample,
          gradients,
          firstLayer: [Math.abs(first[0]), Math.abs(first[1])],
          output,
        });
        // Every gradient was computed with the old weights; now update all layers.
        for (const v of variables) {
          const g = grads[v.name];
          v.assign(tf.tidy(() => tf.sub(v, tf.mul(g, lr))));
        }
        Object.values(grads).forEach((g) => g.dispose());
      }
    }
  } finally {
    variables.forEach((v) => v.dispose());
  }
  return { options, steps };
}

/** trace.csv text: `step,pass,sample,dwN,...,dw2,dw1_0,dw1_1,output`. */
export function traceCsv(trace: Trace): string {
  const depth = trace.options.depth;
  const header = [
    "step",
    "pass",
    "sample",
    ...Array.from({ length: depth - 1 }, (_, i) => `dw${depth - i}`),
    "dw1_0",
    "dw1_1",
    "output",
  ];
  const rows = trace.steps.map((s) => [
    s.step,
    s.pass,
    s.sample,
    ...s.gradients.slice(1).reverse(),
    ...s.firstLayer,
    s.output,
  ]);
  return toCsv(header, rows);
}

/** Mean and max |dW| per layer and each layer's mean relative to the output layer's. */
export function summarize(trace: Trace): { layer: number; mean: number; max: number; ratio: number }[] {
  const depth = trace.options.depth;
  const stats = Array.from({ length: depth }, (_, k) => {
    const values = trace.steps.map((s) => s.gradients[k]);
    return {
      layer: k + 1,
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      max: Math.max(...values),
      ratio: 0,
    };
  });
  const top = stats[depth - 1].mean;
  for (const s of stats) s.ratio = top > 0 ? s.mean / top : NaN;
  return stats.reverse();
}

/** Line colours of the course figure: layer 5 red, 4 green, 3 blue, 2 yellow, then more. */
export const TRACE_COLORS = ["#d62728", "#2ca02c", "#1f77b4", "#e6b800", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/** The course figure: |dW5|, |dW4|, |dW3|, |dW2| against the update step. */
export function traceChart(trace: Trace, logY: boolean): string {
  const depth = trace.options.depth;
  const series: Series[] = [];
  for (let k = depth; k >= 2; k--) {
    series.push({
      name: `hidden layer${k}`,
      color: TRACE_COLORS[(depth - k) % TRACE_COLORS.length],
      points: trace.steps.map((s) => [s.step, s.gradients[k - 1]]),
    });
  }
  return renderChart([{
    title: `|dL/dW| per update (${trace.options.activation}, init ${trace.options.init}, lr ${trace.options.lr})`,
    xLabel: "update step",
    yLabel: logY ? "|dW| (log scale)" : "|dW|",
    series,
    logY,
    xRange: [0, trace.steps.length],
  }], { width: 720, height: 420 });
}
