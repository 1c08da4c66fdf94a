/**
 * Starts tfjs-backend-wasm 4.22.0's threaded SIMD build under Deno, so XNNPACK's
 * matrix products use more than one core (part3's products run about 2× faster
 * on two cores).
 *
 * The backend turns threads off whenever it thinks it runs on Node (tfjs issue
 * #3830), and its Emscripten loader then fails under Deno in three places. This
 * module gets it through them for the duration of `tf.setBackend("wasm")` only,
 * and puts everything back afterwards:
 * 1. the pthread workers are started from `blob:` URLs, which Deno's
 *    `node:worker_threads` refuses: blobs made during start-up are remembered
 *    and the workers are started from the same text as code (`eval: true`), and
 *    the worker's `importScripts`, which would read the main script from a file,
 *    evaluates the script's text handed to it instead (one exact string, checked):
 *    nothing is written to disk, so no write permission is needed;
 * 2. the worker text assigns `self.location`, read-only in a Deno worker: that
 *    assignment (one exact string, checked) is dropped;
 * 3. the main script the workers load is the factory function's source alone,
 *    which refers to the bundle's `require$$N` and `commonjsGlobal`: they are defined
 *    in front of it;
 * and XNNPACK sizes its pool at half the logical cores it is told of, so
 * `os.cpus()` reports each core twice while the pool is made. The pool's workers
 * keep a process alive until {@linkcode stopThreads} ends them.
 * @module
 */
import workerThreads from "node:worker_threads";
import os from "node:os";

/** The one backend version these steps were written against and tested with. */
export const THREADED_WASM_VERSION = "4.22.0";

const LOCATION_ASSIGNMENT = "location:{href:__filename},";
const IMPORT_SCRIPTS = 'importScripts:function(f){(0,eval)(fs.readFileSync(f,"utf8")+"//# sourceURL="+f)}';
const IMPORT_SCRIPTS_FROM_TEXT = "importScripts:function(code){(0,eval)(code)}";
const WORKER_PRELUDE = "var require$$0 = require('fs'), require$$1 = require('path'), " +
  "require$$3 = require('perf_hooks'), require$$4 = require('os'); var commonjsGlobal = globalThis;\n";

/**
 * Runs `start` (which must call `tf.setBackend("wasm")`) with the threaded build's
 * loader made to work under Deno; gives up after `timeoutMs` with an error.
 */
export async function withThreadedWasm<T>(start: () => Promise<T>, timeoutMs: number): Promise<T> {
  const OriginalBlob = globalThis.Blob;
  const blobTexts = new WeakMap<Blob, string>();
  const urlTexts = new Map<string, string>();
  const originalCreateObjectURL = URL.createObjectURL;
  const OriginalNodeWorker = workerThreads.Worker;
  const originalWebWorker = globalThis.Worker;
  const originalCpus = os.cpus;
  let problem: Error | null = null;

  globalThis.Blob = class extends OriginalBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts?.every((part) => typeof part === "string")) blobTexts.set(this, (parts as string[]).join(""));
    }
  } as typeof Blob;
  URL.createObjectURL = (blob: Blob) => {
    const url = originalCreateObjectURL(blob);
    const text = blobTexts.get(blob);
    if (text !== undefined) urlTexts.set(url, text);
    return url;
  };
  // deno-lint-ignore no-explicit-any
  (workerThreads as any).Worker = class extends OriginalNodeWorker {
    constructor(url: string | URL, options?: workerThreads.WorkerOptions) {
      const text = urlTexts.get(String(url));
      if (text === undefined) {
        super(url, options);
        return;
      }
      if (!text.includes(LOCATION_ASSIGNMENT) || !text.includes(IMPORT_SCRIPTS)) {
        problem ??= new Error(`the pthread worker script of tfjs-backend-wasm is not the ${THREADED_WASM_VERSION} one`);
      }
      const code = text.replace(LOCATION_ASSIGNMENT, "").replace(IMPORT_SCRIPTS, IMPORT_SCRIPTS_FROM_TEXT);
      super(code, { ...options, eval: true });
    }
    // deno-lint-ignore no-explicit-any
    override postMessage(message: any, transfer?: any): void {
      if (message?.cmd === "load" && message.urlOrBlob instanceof OriginalBlob) {
        const text = blobTexts.get(message.urlOrBlob);
        if (text !== undefined) message = { ...message, urlOrBlob: WORKER_PRELUDE + text };
      }
      super.postMessage(message, transfer);
    }
  };
  os.cpus = () => [...originalCpus(), ...originalCpus()];

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the threaded WASM backend did not start within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    const result = await Promise.race([start(), timeout]);
    if (problem) throw problem;
    return result;
  } finally {
    clearTimeout(timer);
    globalThis.Blob = OriginalBlob;
    URL.createObjectURL = originalCreateObjectURL;
    // deno-lint-ignore no-explicit-any
    (workerThreads as any).Worker = OriginalNodeWorker;
    // The Emscripten loader sets the global Worker to node's; Deno's own (used by the batch loader) comes back.
    globalThis.Worker = originalWebWorker;
    os.cpus = originalCpus;
  }
}

/** Ends the threaded build's workers (they would keep the process alive); the backend cannot be used afterwards. */
// deno-lint-ignore no-explicit-any
export function stopThreads(emscriptenModule: any): void {
  emscriptenModule?.PThread?.terminateAllThreads?.();
}
