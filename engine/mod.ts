/**
 * The TensorFlow.js runtime: the one place that imports tfjs and starts its backend
 * (WASM SIMD by default, threaded across the cores), plus the WebAssembly kernels
 * that work in the backend's heap.
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
  initBackend,
  stopBackendThreads,
  tensorMemory,
  tf,
} from "./tf.ts";
export { type AdamKernel, adamKernel, type AdamKernelArgs, tfjsHeap } from "./wasm_adam.ts";
