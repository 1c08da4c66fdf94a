/**
 * `deno task report MODEL_DIR... [--out report.html]`: one HTML page comparing trained models.
 * @module
 */
import { parseArgs } from "node:util";
import { runCli } from "../lib/cli.ts";
import { writeTextFileAtomic } from "../lib/atomic_file.ts";
import { readRun, renderReport } from "./report.ts";

const USAGE = `Usage: deno task report MODEL_DIR... [--out report.html] [--title TEXT]

Writes one self-contained HTML page (inline SVG, no scripts, no network) comparing the runs.`;

await runCli(USAGE, async () => {
  const { values, positionals } = parseArgs({
    options: {
      out: { type: "string", default: "report.html" },
      title: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  if (positionals.length === 0) throw new TypeError("no MODEL_DIR given");
  const runs = await Promise.all(positionals.map(readRun));
  await writeTextFileAtomic(values.out, renderReport(runs, values.title));
  console.log(`wrote ${values.out} comparing ${runs.map((r) => r.name).join(", ")}`);
});
