/**
 * The TensorFlow.js runtime: the one place that imports tfjs and starts its backend
 * (WASM SIMD by default, threaded across the cores), the WebAssembly kernels that
 * work in the backend's heap, and the fully-connected net laid out for speed on it
 * (mlp.ts and residual_mlp.ts: their forward and backward passes, used by training and inference alike).
 *
 * @example Start the backend and make a tensor
 * ```ts ignore
 * import { describeBackend, initBackend, tf } from "./mod.ts";
 *
 * console.log(describeBackend(await initBackend("wasm")));
 * tf.tensor1d([1, 2, 3]).print();
 * ```
 * @module
 */
export {
  BackendError,
  type BackendInfo,
  type BackendName,
  type BackendOptions,
  describeBackend,
  emptyTensor,
  initBackend,
  kernelPool,
  stopBackendThreads,
  tensorMemory,
  tf,
  tfjsHeap,
  type WasmHeap,
} from "./tf.ts";
export { type AdamKernel, adamKernel, type AdamKernelArgs, fourFloatRanges } from "./wasm_adam.ts";
export { type Ceilings, measureCeilings } from "./ceilings.ts";
export { transpose2d } from "./transpose.ts";
export { logProducts, type ProductRecord } from "./gemm.ts";
export { type PoolTimings } from "./kernel_pool.ts";
export {
  CHUNK_SIZE,
  chunkRanges,
  type DenseLayer,
  type InputBatch,
  type Parameter,
  type StepResult,
  transposeInto,
} from "./layers.ts";
export {
  BN_EPSILON,
  BN_MOMENTUM,
  buildMlp,
  countParameters,
  disposeMlp,
  type Mlp,
  type MlpSpec,
  parameters,
  predictProbabilities,
  stateTensors,
  type StepOptions,
  trainStep,
} from "./mlp.ts";
export {
  type LayerNormParameters,
  LN_EPSILON,
  type ResidualBlock,
  residualDenseLayers,
  type ResidualNet,
  type ResidualShape,
} from "./residual_mlp.ts";
