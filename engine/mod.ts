/**
 * The TensorFlow.js runtime: the one place that imports tfjs and starts its backend
 * (WASM SIMD by default, threaded across the cores), the WebAssembly kernels that
 * work in the backend's heap, and the fully-connected net laid out for speed on it
 * (mlp.ts: its forward and backward passes, used by training and inference alike).
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
export { type AdamKernel, adamKernel, type AdamKernelArgs } from "./wasm_adam.ts";
export {
  BN_EPSILON,
  BN_MOMENTUM,
  buildMlp,
  CHUNK_SIZE,
  chunkRanges,
  countParameters,
  type DenseLayer,
  disposeMlp,
  type InputBatch,
  type Mlp,
  type MlpSpec,
  type Parameter,
  parameters,
  predictProbabilities,
  stateTensors,
  type StepOptions,
  type StepResult,
  trainStep,
  transposeInto,
} from "./mlp.ts";
