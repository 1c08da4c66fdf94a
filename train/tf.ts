/**
 * The one place that imports TensorFlow.js and picks its backend.
 *
 * The WASM backend with SIMD is the default: it is about 10x faster than the
 * plain-JavaScript `cpu` backend, which is only used when asked for.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BackendWasm, getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

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
  /** WASM threads (1 under Deno). */
  threads: number;
  /** tfjs version. */
  version: string;
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

/** Sets the backend once, before any tensor exists; later calls return the same info (or throw if they differ). */
export async function initBackend(name: BackendName = "wasm"): Promise<BackendInfo> {
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
      ok = await tf.setBackend("wasm");
    } catch (error) {
      throw new BackendError(`the WASM backend failed to start: ${(error as Error).message}`, { cause: error });
    }
    if (!ok) {
      throw new BackendError(
        `the WASM backend failed to start (are its .wasm files in ${dist.pathname}? run \`deno install\`). ` +
          "Use --backend cpu to run on the much slower JavaScript backend.",
      );
    }
  } else {
    await tf.setBackend("cpu");
  }
  await tf.ready();
  current = {
    backend: name,
    simd: name === "wasm" && tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
    threads: name === "wasm" ? getThreadsCount() : 1,
    version: tf.version.tfjs,
  };
  return current;
}

/** A one-line description of the backend for logs. */
export function describeBackend(info: BackendInfo): string {
  return `tfjs ${info.version}, backend ${info.backend}${
    info.backend === "wasm" ? `, SIMD ${info.simd ? "on" : "off"}` : ""
  }, ${info.threads} thread${info.threads === 1 ? "" : "s"}`;
}

/**
 * A Float32Array view of a tensor's memory, for in-place updates.
 * On WASM the view aliases the heap: take it right before use, since the heap
 * can move when it grows. On cpu it is the backend's own array.
 */
export function tensorMemory(tensor: tf.Tensor): Float32Array {
  const backend = tf.backend();
  if (tf.getBackend() === "wasm") {
    const wasm = backend as BackendWasm;
    // deno-lint-ignore no-explicit-any
    const { memoryOffset } = (wasm as any).dataIdMap.get(tensor.dataId);
    // deno-lint-ignore no-explicit-any
    const heap: Float32Array = (wasm.wasm as any).HEAPF32;
    return new Float32Array(heap.buffer, memoryOffset, tensor.size);
  }
  // deno-lint-ignore no-explicit-any
  const values = (backend as any).data.get(tensor.dataId).values;
  if (!(values instanceof Float32Array)) throw new TypeError("tensorMemory() needs a float32 tensor");
  return values;
}
