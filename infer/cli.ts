/**
 * `deno task classify --model MODEL_DIR IMAGE...`: one line per image, or JSON lines with --json.
 * Exits 0 when every image was classified, 1 otherwise (each failure named).
 * @module
 */
import { defineCommand, runCli, UsageError } from "../lib/mod.ts";
import { initBackend, stopBackendThreads } from "../engine/mod.ts";
import { DEFAULT_MODEL_DIR, loadClassifier } from "./mod.ts";

const CLASSIFY_COMMAND = defineCommand({
  usage: "deno task classify [--model MODEL_DIR] [--json] IMAGE...",
  positionals: "IMAGE",
  flags: {
    model: {
      type: "string",
      value: "DIR",
      help: `model directory written by \`deno task train\` (default: $DOG_MODEL, else ${DEFAULT_MODEL_DIR})`,
    },
    threads: {
      type: "string",
      value: "N",
      help: "threads for the net's products (default 1: tfjs' threaded build writes temporary files, which\n" +
        "`deno task classify` may not; with --allow-write, 2 threads take 320 photos ~15% faster)",
    },
    json: {
      type: "boolean",
      help: 'one JSON object per line: {"file","label","isDog","probability"} or {"file","error"}',
    },
  },
});

/** Images per forward pass; two batches at most are held at once (one decoding, one in the net). */
const BATCH = 64;

await runCli(CLASSIFY_COMMAND, async (flags) => {
  const files = flags.positionals;
  if (files.length === 0) throw new UsageError("no IMAGE given");
  const json = flags.boolean("json");
  await initBackend("wasm", { threads: flags.integer("threads") ?? 1 });
  const classifier = await loadClassifier(flags.string("model") ?? Deno.env.get("DOG_MODEL") ?? DEFAULT_MODEL_DIR);
  let failures = 0, index = 0;
  for await (const result of classifier.classifyStream(files, { batchSize: BATCH })) {
    const file = files[index++];
    if (result instanceof Error) {
      failures++;
      if (json) console.log(JSON.stringify({ file, error: result.message }));
      else console.error(`${file}\terror: ${result.message}`);
    } else if (json) {
      console.log(JSON.stringify({ file, ...result }));
    } else {
      console.log(`${file}\t${result.label}\t${result.probability.toFixed(4)}`);
    }
  }
  classifier.dispose();
  stopBackendThreads();
  if (failures > 0) {
    console.error(`${failures} of ${files.length} images could not be classified`);
    Deno.exit(1);
  }
});
