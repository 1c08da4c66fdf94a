/**
 * A training run in a worker of its own: its own tfjs and WASM heap, so several runs
 * can go at once in one process (each on its share of the cores), and a run's memory
 * is all given back when it ends. The worker has this process's permissions.
 * @module
 */
import type { TrainConfig } from "./config.ts";
import type { TrainResult } from "./run_record.ts";

/** Options of {@linkcode trainIsolated}. */
export interface IsolatedOptions {
  /** Threads for the worker's WASM backend. */
  threads: number;
  /** Replace an existing model directory. */
  force?: boolean;
  /** Receives the run's log lines. */
  log?: (line: string) => void;
}

/** A message from the worker. */
export type IsolatedReply =
  | { type: "log"; line: string }
  | { type: "done"; result: TrainResult }
  | { type: "error"; message: string; name: string };

/** A request to the worker. */
export interface IsolatedRequest {
  /** The run. */
  config: TrainConfig;
  /** Backend threads. */
  threads: number;
  /** Replace an existing model directory. */
  force: boolean;
}

/** Trains `config` in a new worker and returns its result; the worker ends with the run. */
export function trainIsolated(config: TrainConfig, options: IsolatedOptions): Promise<TrainResult> {
  const worker = new Worker(new URL("./isolated_worker.ts", import.meta.url), { type: "module" });
  return new Promise<TrainResult>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<IsolatedReply>) => {
      const reply = event.data;
      if (reply.type === "log") options.log?.(reply.line);
      else if (reply.type === "done") resolve(reply.result);
      else reject(Object.assign(new Error(reply.message), { name: reply.name }));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`the training worker for ${config.out} failed: ${event.message}`));
    };
    worker.postMessage({ config, threads: options.threads, force: options.force ?? false } satisfies IsolatedRequest);
  }).finally(() => worker.terminate());
}
