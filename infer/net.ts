/**
 * A saved model put back on the engine training runs on (engine/mlp.ts) instead of into a tfjs layers model:
 * each weight kept as [out, in] in column chunks, so the weight is the left operand of its product and
 * XNNPACK never packs it. A tfjs Dense layer multiplies x·K with its 211 MB kernel on the right, which XNNPACK
 * packs on first use (over a second for part3) and whose shape suits it badly; on the engine part3's forward
 * pass runs about four times as fast. Same weights, same answers to float rounding (tested).
 * @module
 */
import {
  BN_EPSILON,
  chunkRanges,
  type DenseLayer,
  type LayerNormParameters,
  LN_EPSILON,
  type Mlp,
  residualDenseLayers,
  type ResidualNet,
  type ResidualShape,
  tf,
  transpose2d,
} from "../engine/mod.ts";
import type { ModelFiles } from "../model/mod.ts";

/** One layer of the saved Sequential topology, as much of it as is read here. */
interface LayerConfig {
  class_name: string;
  config: { units?: number; activation?: string; use_bias?: boolean; epsilon?: number; axis?: number | number[] };
}

/**
 * The engine's net holding the saved weights, or null when the topology is not the chain the project writes
 * (Dense, optional BatchNorm, ReLU, optional Dropout, ..., Dense sigmoid): then the caller uses tfjs layers.
 */
export function netFromModelFiles(files: ModelFiles): Mlp | null {
  const shape = readShape(files);
  if (!shape) return residualNetFromModelFiles(files);
  const { inputSize, hidden, batchNorm } = shape;
  const values = weightValues(files);
  const sizes = [inputSize, ...hidden, 1];
  const get = (name: string) => {
    const v = values.get(name);
    if (!v) throw new Error(`model.json names no weight ${name}`);
    return v;
  };
  const layers: DenseLayer[] = sizes.slice(0, -1).map((fanIn, l) => {
    const fanOut = sizes[l + 1];
    const layer: DenseLayer = {
      inputSize: fanIn,
      outputSize: fanOut,
      weights: kernelChunks(get(`dense_${l + 1}/kernel`), fanIn, fanOut),
    };
    if (batchNorm && l < sizes.length - 2) {
      const name = `batch_norm_${l + 1}`;
      layer.gamma = column(get(`${name}/gamma`));
      layer.beta = column(get(`${name}/beta`));
      layer.movingMean = column(get(`${name}/moving_mean`));
      layer.movingVariance = column(get(`${name}/moving_variance`));
    } else {
      layer.bias = column(values.get(`dense_${l + 1}/bias`) ?? new Float32Array(fanOut));
    }
    return layer;
  });
  return { spec: { inputSize, hidden, batchNorm, dropout: 0 }, layers };
}

/** Each saved weight by name, as a view of the weight file's bytes (a copy where they are not 4-byte aligned). */
function weightValues(files: ModelFiles): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  let offset = files.weightData.byteOffset;
  const buffer = files.weightData.buffer as ArrayBuffer;
  for (const spec of files.weightSpecs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    values.set(
      spec.name,
      offset % 4 === 0
        ? new Float32Array(buffer, offset, count)
        : new Float32Array(buffer.slice(offset, offset + count * 4)),
    );
    offset += count * 4;
  }
  return values;
}

/** A per-unit vector as the engine keeps it: a column [units, 1]. */
function column(values: Float32Array): tf.Tensor2D {
  return tf.tensor2d(values, [values.length, 1]);
}

/**
 * A Keras kernel [in, out] as the engine keeps a weight: column chunks [out, b - a], each transposed from rows
 * [a, b) on the kernel pool's threads (part3's 61 M weights took ~0.5 s as a JavaScript loop).
 */
function kernelChunks(kernel: Float32Array, fanIn: number, fanOut: number): tf.Tensor2D[] {
  return chunkRanges(fanIn).map(([a, b]) => {
    const rows = tf.tensor2d(kernel.subarray(a * fanOut, b * fanOut), [b - a, fanOut]);
    const chunk = transpose2d(rows);
    rows.dispose();
    return chunk;
  });
}

/**
 * The engine's residual MLP holding the saved weights, when the model is the functional resmlp the project
 * writes (train/layers_model.ts: dense_in, block_k_norm/up/down/add, final_norm, dense_out, with the shape its
 * metadata names); null otherwise.
 */
function residualNetFromModelFiles(files: ModelFiles): Mlp | null {
  const architecture = files.metadata.architecture as { model?: string; residual?: ResidualShape } | undefined;
  const shape = architecture?.model === "resmlp" ? architecture.residual : undefined;
  if (!shape) return null;
  const { width, depth, expansion } = shape;
  const inputSize = files.metadata.inputSize;
  const expected: [string, number[]][] = [["dense_in/kernel", [inputSize, width]], ["dense_in/bias", [width]]];
  for (let k = 1; k <= depth; k++) {
    expected.push(
      [`block_${k}_norm/gamma`, [width]],
      [`block_${k}_norm/beta`, [width]],
      [`block_${k}_up/kernel`, [width, width * expansion]],
      [`block_${k}_up/bias`, [width * expansion]],
      [`block_${k}_down/kernel`, [width * expansion, width]],
      [`block_${k}_down/bias`, [width]],
    );
  }
  expected.push(["final_norm/gamma", [width]], ["final_norm/beta", [width]]);
  expected.push(["dense_out/kernel", [width, 1]], ["dense_out/bias", [1]]);
  const specs = new Map(files.weightSpecs.map((spec) => [spec.name, spec.shape.join(",")]));
  const topology = files.json.modelTopology as { config?: { layers?: LayerConfig[] } };
  const epsilons = (topology?.config?.layers ?? []).filter((layer) => layer.class_name === "LayerNormalization")
    .map((layer) => layer.config.epsilon);
  if (
    specs.size !== expected.length || expected.some(([name, dims]) => specs.get(name) !== dims.join(",")) ||
    epsilons.length !== depth + 1 || epsilons.some((epsilon) => epsilon !== LN_EPSILON)
  ) {
    return null;
  }
  const values = weightValues(files);
  const dense = (name: string, fanIn: number, fanOut: number): DenseLayer => ({
    inputSize: fanIn,
    outputSize: fanOut,
    weights: kernelChunks(values.get(`${name}/kernel`)!, fanIn, fanOut),
    bias: column(values.get(`${name}/bias`)!),
  });
  const norm = (name: string): LayerNormParameters => ({
    gamma: column(values.get(`${name}/gamma`)!),
    beta: column(values.get(`${name}/beta`)!),
  });
  const net: ResidualNet = {
    shape,
    input: dense("dense_in", inputSize, width),
    blocks: Array.from({ length: depth }, (_, k) => ({
      norm: norm(`block_${k + 1}_norm`),
      up: dense(`block_${k + 1}_up`, width, width * expansion),
      down: dense(`block_${k + 1}_down`, width * expansion, width),
    })),
    finalNorm: norm("final_norm"),
    output: dense("dense_out", width, 1),
  };
  return {
    spec: { inputSize, hidden: [], batchNorm: false, dropout: 0, residual: shape },
    layers: residualDenseLayers(net),
    residual: net,
  };
}

/** The net's shape, when the topology is the chain the project writes; null otherwise. */
function readShape(files: ModelFiles): { inputSize: number; hidden: number[]; batchNorm: boolean } | null {
  const topology = files.json.modelTopology as { config?: { layers?: LayerConfig[] } };
  const layers = topology?.config?.layers;
  if (!Array.isArray(layers)) return null;
  const hidden: number[] = [];
  let batchNorm = false, sigmoidOutput = false;
  for (const [i, layer] of layers.entries()) {
    const { class_name: kind, config } = layer;
    if (kind === "Dense") {
      const last = i === layers.length - 1;
      if (last) sigmoidOutput = config.units === 1 && config.activation === "sigmoid";
      else if (config.activation !== "linear") return null;
      else hidden.push(config.units!);
    } else if (kind === "BatchNormalization") {
      if (config.epsilon !== BN_EPSILON) return null;
      batchNorm = true;
    } else if (kind === "Activation") {
      if (config.activation !== "relu") return null;
    } else if (kind !== "Dropout") {
      return null;
    }
  }
  const inputSize = files.weightSpecs[0]?.shape[0];
  return sigmoidOutput && inputSize === files.metadata.inputSize ? { inputSize, hidden, batchNorm } : null;
}
