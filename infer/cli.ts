/**
 * `deno task classify --model MODEL_DIR IMAGE...`: one line per image, or JSON lines with --json.
 * Exits 0 when every image was classified, 1 otherwise (each failure named).
 * @module
 */
import { parseArgs } from "node:util";
import { runCli } from "../lib/cli.ts";
import { loadClassifier } from "./mod.ts";

const USAGE = `Usage: deno task classify [--model MODEL_DIR] [--json] IMAGE...

  --model DIR   model directory written by \`deno task train\` (default: $DOG_MODEL, else models/default)
  --json        one JSON object per line: {"file","label","isDog","probability"} or {"file","error"}`;

await runCli(USAGE, async () => {
  const { values, positionals } = parseArgs({
    options: { model: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  if (positionals.length === 0) throw new TypeError("no IMAGE given");
  const classifier = await loadClassifier(values.model ?? Deno.env.get("DOG_MODEL") ?? "models/default");
  let failures = 0;
  // In groups, so a folder of thousands of photos does not sit in memory at once.
  for (let start = 0; start < positionals.length; start += 64) {
    const files = positionals.slice(start, start + 64);
    const results = await classifier.classifyBatch(files);
    for (const [i, result] of results.entries()) {
      const file = files[i];
      if (result instanceof Error) {
        failures++;
        if (values.json) console.log(JSON.stringify({ file, error: result.message }));
        else console.error(`${file}\terror: ${result.message}`);
      } else if (values.json) {
        console.log(JSON.stringify({ file, ...result }));
      } else {
        console.log(`${file}\t${result.label}\t${result.probability.toFixed(4)}`);
      }
    }
  }
  classifier.dispose();
  if (failures > 0) {
    console.error(`${failures} of ${positionals.length} images could not be classified`);
    Deno.exit(1);
  }
});
