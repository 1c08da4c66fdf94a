/**
 * sharp's decode alone, as a whole process: every image of a label CSV decoded to raw pixels and nothing
 * else, as many at once as `deno task preprocess` decodes (the same sharp settings, from lib/sharp.ts). No
 * sharp-based stage can beat it on the same files and cores; bench/preprocess.ts and bench/infer.ts time it
 * beside the real commands.
 *
 * `deno run -A bench/decode_only.ts --csv FILE [--root DIR]` or `--folder DIR`; prints the images decoded.
 * @module
 */
import { join } from "node:path";
import { defineCommand, loadSharp, runCli, UsageError } from "../lib/mod.ts";
import { DEFAULT_CONCURRENCY, readLabels } from "../pipeline/mod.ts";

const DECODE_ONLY = defineCommand({
  usage: "deno run -A bench/decode_only.ts (--csv FILE [--root DIR] | --folder DIR)",
  description: "Decodes every image to raw pixels with sharp, nothing else; prints how many.",
  flags: {
    csv: { type: "string", value: "FILE", help: "label CSV whose images to decode" },
    root: { type: "string", value: "DIR", help: "folder the CSV's paths are relative to (default: the CSV's)" },
    folder: { type: "string", value: "DIR", help: "decode every .jpg/.jpeg/.png in DIR instead" },
  },
});

/** The image paths named by a CSV or found in a folder. */
async function imagePaths(csv: string | undefined, root: string | undefined, folder: string | undefined) {
  if (folder) {
    const names: string[] = [];
    for await (const entry of Deno.readDir(folder)) if (/\.(jpe?g|png)$/i.test(entry.name)) names.push(entry.name);
    return names.sort().map((name) => join(folder, name));
  }
  if (!csv) throw new UsageError("give --csv FILE or --folder DIR");
  return (await readLabels(csv, { root })).rows.map((row) => row.path);
}

if (import.meta.main) {
  await runCli(DECODE_ONLY, async (flags) => {
    const paths = await imagePaths(flags.string("csv"), flags.string("root"), flags.string("folder"));
    const sharp = await loadSharp();
    let next = 0;
    await Promise.all(Array.from({ length: DEFAULT_CONCURRENCY }, async () => {
      while (next < paths.length) await sharp(paths[next++]).raw().toBuffer();
    }));
    console.log(paths.length);
  });
}
