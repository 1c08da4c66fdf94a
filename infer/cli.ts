/**
 * `deno task classify --model MODEL_DIR IMAGE...`: one line per image, or JSON lines with --json.
 * Exits 0 when every image was classified, 1 otherwise (each failure named).
 * @module
 */
import { defineCommand, runCli, UsageError } from "../lib/mod.ts";
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
    json: {
      type: "boolean",
      help: 'one JSON object per line: {"file","label","isDog","probability"} or {"file","error"}',
    },
  },
});

/** Images per forward pass; also bounds how many decoded images are held at once. */
const BATCH = 64;

await runCli(CLASSIFY_COMMAND, async (flags) => {
  const files = flags.positionals;
  if (files.length === 0) throw new UsageError("no IMAGE given");
  const json = flags.boolean("json");
  const classifier = await loadClassifier(flags.string("model") ?? Deno.env.get("DOG_MODEL") ?? DEFAULT_MODEL_DIR);
  let failures = 0;
  for (let start = 0; start < files.length; start += BATCH) {
    const batch = files.slice(start, start + BATCH);
    const results = await classifier.classifyBatch(batch);
    for (const [i, result] of results.entries()) {
      const file = batch[i];
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
  }
  classifier.dispose();
  if (failures > 0) {
    console.error(`${failures} of ${files.length} images could not be classified`);
    Deno.exit(1);
  }
});
