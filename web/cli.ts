/**
 * `deno task serve`: a page to try a trained model on your own photos, and `POST /classify`.
 * @module
 */
import { defineCommand, runCli } from "../lib/mod.ts";
import { initBackend, stopBackendThreads } from "../engine/mod.ts";
import { DEFAULT_MODEL_DIR } from "../infer/mod.ts";
import { DEFAULT_MAX_BODY, startServer } from "./server.ts";

const SERVE_COMMAND = defineCommand({
  usage: "deno task serve [--model MODEL_DIR] [--port 8000] [--host 127.0.0.1]",
  description: "Serves a page that classifies photos in the browser with stock TensorFlow.js, and\n" +
    "POST /classify (an image's bytes in, JSON out) answered on the server. Ctrl-C stops it.",
  flags: {
    model: {
      type: "string",
      value: "DIR",
      help: `model directory written by \`deno task train\` (default: $DOG_MODEL, else ${DEFAULT_MODEL_DIR})`,
    },
    port: { type: "string", value: "N", help: "port to listen on (default 8000; 0 picks a free one)" },
    host: {
      type: "string",
      value: "ADDRESS",
      help: "interface to listen on (default 127.0.0.1, this machine only; 0.0.0.0 opens it to\n" +
        "your network: anyone who reaches the port can use the page and the endpoint)",
    },
    "max-body": {
      type: "string",
      value: "BYTES",
      help: `largest POST /classify body (default ${DEFAULT_MAX_BODY}, 20 MiB)`,
    },
  },
});

await runCli(SERVE_COMMAND, async (flags) => {
  // Both cores for the net: a request's forward pass takes half the time (starting the threads costs ~0.3 s once).
  await initBackend("wasm", { threads: navigator.hardwareConcurrency });
  const server = await startServer({
    model: flags.string("model") ?? Deno.env.get("DOG_MODEL") ?? DEFAULT_MODEL_DIR,
    port: flags.integer("port") ?? 8000,
    host: flags.string("host") ?? "127.0.0.1",
    maxBodyBytes: flags.integer("max-body"),
  });
  console.log(`serving ${server.url} (Ctrl-C to stop)`);
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  await server.shutdown();
  stopBackendThreads();
  console.log("stopped");
});
