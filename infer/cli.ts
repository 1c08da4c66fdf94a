/**
 * `deno task classify --model MODEL_DIR IMAGE...`: one line per image, or JSON lines with --json.
 * Exits 0 when every image was classified, 1 otherwise (each failure named).
 * @module
 */
import { join } from "node:path";
import { createProgress, defineCommand, runCli, UsageError } from "../lib/mod.ts";
import { initBackend, stopBackendThreads } from "../engine/mod.ts";
import { DEFAULT_MODEL_DIR, loadClassifier } from "./mod.ts";
import { prepareDecoding } from "../pipeline/mod.ts";

const CLASSIFY_COMMAND = defineCommand({
  usage: "deno task classify [--model MODEL_DIR] [--json] IMAGE_OR_FOLDER...",
  description: "A folder is searched recursively for images (.jpg .jpeg .png .webp .gif .tif .tiff .bmp .avif), in\n" +
    "name order. Long runs show progress on stderr.",
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
      help: "threads for the net's products (default: one per core for more than 64 images, where\n" +
        "they take a folder ~15% faster; one for fewer, since starting them costs ~0.3 s)",
    },
    json: {
      type: "boolean",
      help: 'one JSON object per line: {"file","label","isDog","probability"} or {"file","error"}',
    },
  },
});

/** What a file found in a folder must be called to be classified. */
const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|bmp|avif)$/i;

/** Images per forward pass; two batches at most are held at once (one decoding, one in the net). */
const BATCH = 64;

await runCli(CLASSIFY_COMMAND, async (flags) => {
  if (flags.positionals.length === 0) throw new UsageError("no IMAGE or folder given");
  const files = await expandFolders(flags.positionals);
  const json = flags.boolean("json");
  const threads = flags.integer("threads") ?? (files.length > BATCH ? navigator.hardwareConcurrency : 1);
  // sharp and the record kernels load while the backend compiles its own.
  prepareDecoding().catch(() => {});
  await initBackend("wasm", { threads });
  const classifier = await loadClassifier(flags.string("model") ?? Deno.env.get("DOG_MODEL") ?? DEFAULT_MODEL_DIR);
  let failures = 0, index = 0;
  const bar = files.length > BATCH
    ? createProgress({ total: files.length, label: "classify", unit: "img" })
    : undefined;
  for await (const result of classifier.classifyStream(files, { batchSize: BATCH })) {
    bar?.tick();
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
  bar?.done();
  classifier.dispose();
  stopBackendThreads();
  if (failures > 0) {
    console.error(`${failures} of ${files.length} images could not be classified`);
    Deno.exit(1);
  }
});

/** The arguments with each folder replaced by the images under it (recursively, in name order). */
async function expandFolders(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await Deno.stat(path).catch(() => null);
    if (info?.isDirectory) files.push(...(await imagesUnder(path)));
    else files.push(path); // a file, or a path that is not there: its error is reported in its place
  }
  return files;
}

/** Images under `dir`, recursively, in name order; links are followed, each folder read once (no loops). */
async function imagesUnder(dir: string, seen = new Set<string>()): Promise<string[]> {
  const real = await Deno.realPath(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  const entries = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    // A link counts as what it points to; a broken one is skipped.
    const kind = entry.isSymlink ? await Deno.stat(path).catch(() => null) : entry;
    if (kind?.isDirectory) files.push(...(await imagesUnder(path, seen)));
    else if (kind?.isFile && IMAGE_FILE.test(entry.name)) files.push(path);
  }
  return files;
}
