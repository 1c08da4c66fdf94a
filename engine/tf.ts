/**
 * The one place that imports TensorFlow.js and picks its backend.
 *
 * The WASM backend with SIMD is the default: it is about 10x faster than the
 * plain-JavaScript `cpu` backend, which is only used when asked for.
 * @module
 */
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { type BackendWasm, getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { stopThreads, THREADED_WASM_VERSION, withThreadedWasm } from "./wasm_threads.ts";
import { createKernelPool, type KernelPool } from "./kernel_pool.ts";

export { tf };
export type { BackendWasm };

/** Which backend to run on. */
export type BackendName = "wasm" | "cpu";

/** What the backend turned out to be. */
export interface BackendInfo {
  /** Backend name. */
  backend: BackendName;
  /** Whether WASM SIMD is in use. */
  simd: boolean;
  /** Threads XNNPACK uses for the WASM backend's products (1 unless `threads` was asked for). */
  threads: number;
  /** tfjs version. */
  version: string;
  /** The engine's own kernels (wasm only): the threads they run on and whether the products use fused multiply-add. */
  kernels: { threads: number; fusedMultiplyAdd: boolean } | null;
}

/** Raised when the requested backend cannot start. */
export class BackendError extends Error {
  /** Creates the error with its explanation. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackendError";
  }
}

let current: BackendInfo | null = null;
let currentPool: KernelPool | null = null;

/** Options of {@linkcode initBackend}. */
export interface BackendOptions {
  /**
   * Threads for the WASM backend's matrix products (default 1). More than one starts tfjs' threaded
   * SIMD build through wasm_threads.ts; the number is capped at the machine's cores.
   */
  threads?: number;
  /** How long the threaded build may take to start before giving up (default 60 s). */
  threadsTimeoutMs?: number;
}

/** Sets the backend once, before any tensor exists; later calls return the same info (or throw if they differ). */
export async function initBackend(name: BackendName = "wasm", options: BackendOptions = {}): Promise<BackendInfo> {
  const threads = Math.min(options.threads ?? 1, navigator.hardwareConcurrency);
  if (!Number.isInteger(threads) || threads < 1) throw new BackendError(`threads must be a positive integer`);
  if (current) {
    if (current.backend !== name) {
      throw new BackendError(`backend is already ${current.backend}, cannot switch to ${name}`);
    }
    return current;
  }
  if (name === "wasm") {
    const dist = new URL("../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url);
    setWasmPaths(dist.href);
    let ok = false;
    try {
      if (threads > 1) {
        if (tf.version.tfjs !== THREADED_WASM_VERSION) {
          throw new Error(`threads need tfjs ${THREADED_WASM_VERSION}, this is ${tf.version.tfjs}`);
        }
        tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
        setThreadsCount(threads);
        ok = await withThreadedWasm(() => tf.setBackend("wasm"), options.threadsTimeoutMs ?? 60_000);
      } else {
        tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
        ok = await tf.setBackend("wasm");
      }
    } catch (error) {
      const hint = threads > 1 ? " Rerun with --threads 1 for the single-threaded build." : "";
      throw new BackendError(`the WASM backend failed to start: ${(error as Error).message}.${hint}`, {
        cause: error,
      });
    }
    if (!ok) {
      throw new BackendError(
        `the WASM backend failed to start (are its .wasm files in ${fileURLToPath(dist)}? run \`deno install\`). ` +
          "Use --backend cpu to run on the much slower JavaScript backend.",
      );
    }
  } else {
    await tf.setBackend("cpu");
  }
  await tf.ready();
  const heap = tfjsHeap();
  const simd = name === "wasm" && tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
  // The engine's kernels need SIMD (every browser and Deno has it); without, tfjs' ops do the work.
  currentPool = heap && simd ? await createKernelPool(heap, { threads }) : null;
  current = {
    backend: name,
    simd,
    threads: name === "wasm" ? getThreadsCount() : 1,
    version: tf.version.tfjs,
    kernels: currentPool && { threads: currentPool.threads, fusedMultiplyAdd: currentPool.fusedMultiplyAdd },
  };
  return current;
}

/**
 * Ends the threads of a threaded WASM backend so that the process can exit; call it when done with
 * tensors. Does nothing for a single-threaded or cpu backend.
 */
export function stopBackendThreads(): void {
  currentPool?.dispose();
  if (current?.backend === "wasm" && current.threads > 1) stopThreads((tf.backend() as BackendWasm).wasm);
}

/** The engine's kernels and their threads while the WASM backend is the active one, else null. */
export function kernelPool(): KernelPool | null {
  return currentPool && tf.getBackend() === "wasm" ? currentPool : null;
}

/** What the kernels need from the tfjs-wasm backend's Emscripten module. */
export interface WasmHeap {
  /** The heap. */
  memory: WebAssembly.Memory;
  /** Allocates `bytes` in the heap; 0 when full. */
  malloc: (bytes: number) => number;
  /** Frees what malloc gave. */
  free: (pointer: number) => void;
}

/** The tfjs-wasm heap, or null on another backend. */
export function tfjsHeap(): WasmHeap | null {
  if (tf.getBackend() !== "wasm") return null;
  // deno-lint-ignore no-explicit-any
  const module = (tf.backend() as any).wasm;
  // The single-threaded build exports its memory; the threaded one creates it in JavaScript (shared).
  const memory = module?.asm?.memory ?? module?.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory) || typeof module._malloc !== "function") return null;
  return { memory, malloc: (bytes) => module._malloc(bytes), free: (pointer) => module._free(pointer) };
}

/** Byte offset of a tensor's values in the tfjs-wasm heap (valid until the tensor is disposed). */
export function tensorPointer(tensor: tf.Tensor): number {
  // deno-lint-ignore no-explicit-any
  return (tf.backend() as any).dataIdMap.get(tensor.dataId).memoryOffset;
}

/** A float32 tensor of `shape` to be filled by the caller: uninitialised in the tfjs-wasm heap, zeros on cpu. */
export function emptyTensor<R extends tf.Rank>(shape: number[]): tf.Tensor<R> {
  return tf.getBackend() === "wasm" ? uninitializedTensor<R>(shape) : tf.zeros(shape as tf.ShapeMap[R]);
}

/** A float32 tensor of `shape` allocated in the tfjs-wasm heap and not initialised: the caller fills it. */
export function uninitializedTensor<R extends tf.Rank>(shape: number[]): tf.Tensor<R> {
  const backend = tf.backend() as BackendWasm;
  return tf.engine().makeTensorFromTensorInfo(backend.makeOutput(shape, "float32"), backend) as tf.Tensor<R>;
}

/** A one-line description of the backend for logs. */
export function describeBackend(info: BackendInfo): string {
  const simd = info.backend === "wasm" ? `, SIMD ${info.simd ? "on" : "off"}` : "";
  const kernels = info.kernels ? `, own kernels${info.kernels.fusedMultiplyAdd ? " with FMA" : ""}` : "";
  return `tfjs ${info.version}, backend ${info.backend}${simd}, ${info.threads} thread${
    info.threads === 1 ? "" : "s"
  }${kernels}`;
}

/**
 * A Float32Array view of a tensor's memory, for in-place updates.
 * On WASM the view aliases the heap: take it right before use, since the heap
 * can move when it grows. On cpu it is the backend's own array.
 */
export function tensorMemory(tensor: tf.Tensor): Float32Array {
  const backend = tf.backend();
  if (tf.getBackend() === "wasm") {
    // deno-lint-ignore no-explicit-any
    const heap: Float32Array = ((backend as BackendWasm).wasm as any).HEAPF32;
    return new Float32Array(heap.buffer, tensorPointer(tensor), tensor.size);
  }
  // deno-lint-ignore no-explicit-any
  const values = (backend as any).data.get(tensor.dataId).values;
  if (!(values instanceof Float32Array)) throw new TypeError("tensorMemory() needs a float32 tensor");
  return values;
}
