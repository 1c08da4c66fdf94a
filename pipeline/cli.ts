/**
 * `deno task preprocess`: label CSVs -> cached float32 shards, gray or colour.
 * @module
 */
import { defineCommand, runCli, UsageError } from "../lib/mod.ts";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_SHARD_SIZE,
  type ErrorPolicy,
  preprocess,
  type SplitSummary,
} from "./preprocess.ts";
import { DEFAULT_PREPROCESS, type PixelScale, type ResizeKernel } from "./decode_image.ts";

const PREPROCESS_COMMAND = defineCommand({
  usage: "deno task preprocess --csv DATA/train.csv [--csv DATA/test.csv ...] --out CACHE [options]",
  description: "Each CSV becomes a split named after it (train.csv -> CACHE/train/).",
  flags: {
    csv: {
      type: "string",
      value: "FILE",
      multiple: true,
      required: true,
      option: "csvs",
      help: "label CSV (header path,label or imgName,label); repeat for each split",
    },
    out: { type: "string", value: "DIR", required: true, help: "output folder (the cache)" },
    root: {
      type: "string",
      value: "DIR",
      help: "folder image paths resolve against (default: the CSV's folder;\n" +
        "for the course's /dataSet/... paths, the folder holding dataSet/)",
    },
    "path-column": {
      type: "string",
      value: "NAME",
      help: "path column header (default: path, imgName, image, file or filename)",
    },
    "label-column": { type: "string", value: "NAME", help: "label column header (default: label)" },
    classes: {
      type: "string",
      value: "A,B",
      help: "class names for label 0 and 1, accepted as labels (default not_dog,dog)",
    },
    size: { type: "string", value: "N", help: `output width and height (default ${DEFAULT_PREPROCESS.size})` },
    scale: {
      type: "string",
      value: "unit|raw",
      help: "store value/255 (unit, default) or 0..255 (raw, as the course did)",
    },
    color: {
      type: "boolean",
      option: "channels",
      help: "store R, G, B per pixel (OpenCV's colours, as cv2.imread + COLOR_BGR2RGB)\ninstead of gray",
    },
    "resize-kernel": {
      type: "string",
      value: "K",
      help: "opencv-linear (default: cv2.resize INTER_LINEAR, bit for bit: the course's),\n" +
        "opencv-area (cv2.INTER_AREA, bit for bit: averages what it shrinks; use it\n" +
        "for photos many times larger than --size, e.g. --size 64), or linear (libvips\n" +
        "bilinear widened when shrinking; gray only)",
    },
    "store-flipped": {
      type: "boolean",
      help: "also store a left-right mirrored copy of every image of the train split\n" +
        "(for random flips drawn afresh each epoch instead, see deno task train --augment)",
    },
    "store-flipped-split": {
      type: "string",
      value: "NAME",
      help: "the split --store-flipped applies to (default train; never test)",
    },
    "shard-size": { type: "string", value: "N", help: `records per shard (default ${DEFAULT_SHARD_SIZE})` },
    concurrency: { type: "string", value: "N", help: `images decoded at once (default ${DEFAULT_CONCURRENCY})` },
    "on-error": {
      type: "string",
      value: "fail|skip",
      help: "stop at the first bad row (default), or skip and list it in rejected.csv",
    },
  },
});

await runCli(PREPROCESS_COMMAND, async (flags) => {
  const options = {
    csvs: flags.strings("csv"),
    out: flags.string("out")!,
    root: flags.string("root"),
    pathColumn: flags.string("path-column"),
    labelColumn: flags.string("label-column"),
    classes: parseClasses(flags.list("classes")),
    params: {
      size: flags.integer("size") ?? DEFAULT_PREPROCESS.size,
      scale: (flags.string("scale") ?? DEFAULT_PREPROCESS.scale) as PixelScale,
      resizeKernel: (flags.string("resize-kernel") ?? DEFAULT_PREPROCESS.resizeKernel) as ResizeKernel,
      channels: flags.boolean("color") ? 3 as const : 1 as const,
    },
    storeFlipped: flags.boolean("store-flipped"),
    storeFlippedSplit: flags.string("store-flipped-split"),
    shardSize: flags.integer("shard-size") ?? DEFAULT_SHARD_SIZE,
    concurrency: flags.integer("concurrency") ?? DEFAULT_CONCURRENCY,
    onError: (flags.string("on-error") ?? "fail") as ErrorPolicy,
    progress: true,
  };
  const flipped = options.storeFlipped ? `, store-flipped ${options.storeFlippedSplit ?? "train"}` : "";
  console.error(
    `preprocess: ${options.csvs.join(", ")} -> ${options.out} (size ${options.params.size}, ` +
      `${options.params.channels === 3 ? "colour" : "gray"}, scale ${options.params.scale}, ` +
      `resize ${options.params.resizeKernel}${flipped}, ` +
      `shard ${options.shardSize}, concurrency ${options.concurrency}, on-error ${options.onError})`,
  );
  const summaries = await preprocess(options);
  for (const summary of summaries) console.log(describe(summary));
});

function parseClasses(names: string[] | undefined): [string, string] | undefined {
  if (names === undefined) return undefined;
  if (names.length !== 2 || names.some((n) => n === "")) {
    throw new UsageError(`--classes takes two names, "not_dog,dog"; got "${names.join(",")}"`);
  }
  return [names[0], names[1]];
}

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
