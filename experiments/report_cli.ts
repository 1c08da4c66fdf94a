/**
 * `deno task report MODEL_DIR... [--out report.html]`: one HTML page comparing trained models.
 * @module
 */
import { defineCommand, runCli, UsageError, writeTextFileAtomic } from "../lib/mod.ts";
import { readReportRun, renderReport } from "./report.ts";

const REPORT_COMMAND = defineCommand({
  usage: "deno task report MODEL_DIR... [--out report.html] [--title TEXT]",
  description: "Writes one self-contained HTML page (inline SVG, no scripts, no network) comparing the runs.",
  positionals: "MODEL_DIR",
  flags: {
    out: { type: "string", value: "FILE", help: "the page to write (default report.html)" },
    title: { type: "string", value: "TEXT", help: "the page's title" },
  },
});

await runCli(REPORT_COMMAND, async (flags) => {
  if (flags.positionals.length === 0) throw new UsageError("no MODEL_DIR given");
  const out = flags.string("out") ?? "report.html";
  const runs = await Promise.all(flags.positionals.map(readReportRun));
  await writeTextFileAtomic(out, renderReport(runs, flags.string("title")));
  console.log(`wrote ${out} comparing ${runs.map((r) => r.name).join(", ")}`);
});
