/**
 * `deno task preprocess`: label CSVs -> cached grayscale float32 shards.
 * @module
 */
import { parseArgs } from "node:util";
import {
  type Augmentation,
  DEFAULT_CONCURRENCY,
  DEFAULT_SHARD_SIZE,
  type ErrorPolicy,
  preprocess,
  type SplitSummary,
} from "./preprocess.ts";
import { DEFAULT_PREPROCESS, type PixelScale, type ResizeKernel } from "./decode_gray.ts";
import { parseIntegerFlag, runCli } from "../lib/cli.ts";

const USAGE = `Usage: deno task preprocess --csv DATA/train.csv [--csv DATA/test.csv ...] --out CACHE [options]

Each CSV becomes a split named after it (train.csv -> CACHE/train/).

Options:
  --csv FILE             label CSV (header path,label or imgName,label); repeat for each split
  --out DIR              output folder (the cache)
  --root DIR             folder image paths resolve against (default: the CSV's folder;
                         for the course's /dataSet/... paths, the folder holding dataSet/)
  --path-column NAME     path column header (default: path, imgName, image, file or filename)
  --label-column NAME    label column header (default: label)
  --classes A,B          class names for label 0 and 1, accepted as labels (default not_dog,dog)
  --size N               output width and height (default ${DEFAULT_PREPROCESS.size})
  --scale unit|raw       store value/255 (unit, default) or 0..255 (raw, as the course did)
  --resize-kernel K      opencv-linear (default: cv2.resize INTER_LINEAR, bit for bit) or linear
                         (libvips bilinear widened when shrinking: better for photos much larger than --size)
  --augment flip         also store a left-right mirrored copy of every image of the train split
  --augment-split NAME   the split --augment applies to (default train; never test)
  --shard-size N         records per shard (default ${DEFAULT_SHARD_SIZE})
  --concurrency N        images decoded at once (default ${DEFAULT_CONCURRENCY})
  --on-error fail|skip   stop at the first bad row (default), or skip and list it in rejected.csv
  -h, --help             this text`;

await runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      csv: { type: "string", multiple: true },
      out: { type: "string" },
      root: { type: "string" },
      "path-column": { type: "string" },
      "label-column": { type: "string" },
      classes: { type: "string" },
      size: { type: "string" },
      scale: { type: "string" },
      "resize-kernel": { type: "string" },
      augment: { type: "string" },
      "augment-split": { type: "string" },
      "shard-size": { type: "string" },
      concurrency: { type: "string" },
      "on-error": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return console.log(USAGE);
  if (!values.csv?.length || !values.out) throw new TypeError("--csv and --out are required");
  let classes: [string, string] | undefined;
  if (values.classes !== undefined) {
    const names = values.classes.split(",").map((s) => s.trim());
    if (names.length !== 2 || names.some((n) => n === "")) {
      throw new TypeError(`--classes takes two names, "not_dog,dog"; got "${values.classes}"`);
    }
    classes = [names[0], names[1]];
  }
  const options = {
    csvs: values.csv,
    out: values.out,
    root: values.root,
    pathColumn: values["path-column"],
    labelColumn: values["label-column"],
    classes,
    params: {
      size: parseIntegerFlag("--size", values.size, DEFAULT_PREPROCESS.size),
      scale: (values.scale ?? DEFAULT_PREPROCESS.scale) as PixelScale,
      resizeKernel: (values["resize-kernel"] ?? DEFAULT_PREPROCESS.resizeKernel) as ResizeKernel,
    },
    augment: values.augment as Augmentation | undefined,
    augmentSplit: values["augment-split"],
    shardSize: parseIntegerFlag("--shard-size", values["shard-size"], DEFAULT_SHARD_SIZE),
    concurrency: parseIntegerFlag("--concurrency", values.concurrency, DEFAULT_CONCURRENCY),
    onError: (values["on-error"] ?? "fail") as ErrorPolicy,
    progress: true,
  };
  console.error(
    `preprocess: ${
      options.csvs.join(", ")
    } -> ${options.out} (size ${options.params.size}, scale ${options.params.scale}, ` +
      `resize ${options.params.resizeKernel}${options.augment ? `, augment ${options.augment}` : ""}, ` +
      `shard ${options.shardSize}, concurrency ${options.concurrency}, on-error ${options.onError})`,
  );
  const summaries = await preprocess(options);
  for (const summary of summaries) console.log(describe(summary));
});

function describe(s: SplitSummary): string {
  const flipped = s.augmentation === "flip" ? ", each image also mirrored" : "";
  const head = `${s.name}: ${s.count} records (label 0: ${s.countPerClass[0]}, label 1: ${s.countPerClass[1]}` +
    `${flipped}), ${s.rejected.length} rejected`;
  if (s.upToDate) return `${head}; up to date, nothing to do (${s.seconds.toFixed(2)} s) -> ${s.dir}`;
  const rate = s.decoded / Math.max(s.seconds, 1e-9);
  const lines = [
    `${head}; decoded ${s.decoded} images in ${s.seconds.toFixed(1)} s (${rate.toFixed(0)} images/s), ` +
    `${s.shardsWritten} shards written, ${s.shardsReused} reused -> ${s.dir}`,
  ];
  for (const r of s.rejected.slice(0, 10)) lines.push(`  rejected line ${r.line}: ${r.path}: ${r.reason}`);
  if (s.rejected.length > 10) lines.push(`  ... and ${s.rejected.length - 10} more in ${s.dir}/rejected.csv`);
  return lines.join("\n");
}
