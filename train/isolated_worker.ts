/**
 * The worker behind {@linkcode trainIsolated}: starts its own backend, runs one
 * training, and reports log lines and the result.
 * @module
 */
/// <reference lib="deno.worker" />
import { initBackend, stopBackendThreads } from "../engine/mod.ts";
import { train } from "./fit.ts";
import type { IsolatedReply, IsolatedRequest } from "./isolated.ts";
import { runEnvironment } from "./run_record.ts";

const reply = (message: IsolatedReply) => self.postMessage(message);

self.onmessage = async (event: MessageEvent<IsolatedRequest>) => {
  const { config, threads, force } = event.data;
  try {
    const backend = await initBackend("wasm", { threads });
    const result = await train(config, {
      force,
      environment: await runEnvironment(backend),
      hooks: { log: (line) => reply({ type: "log", line }) },
    });
    reply({ type: "done", result });
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    reply({ type: "error", name, message });
  } finally {
    stopBackendThreads();
  }
};
