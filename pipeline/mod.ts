/**
 * The preprocessing pipeline: label CSVs -> decoded gray records -> float32 shards
 * with a manifest, and the readers training and inference use on its output.
 *
 * What other folders use:
 * - {@linkcode decodeImage}: the one preprocessing function (training cache and inference);
 * - {@linkcode preprocess}: the whole stage (`deno task preprocess` is pipeline/cli.ts);
 * - {@linkcode openSplit} / {@linkcode SplitReader}, {@linkcode readManifest}: reading a cache;
 * - {@linkcode readLabels}: a label CSV as rows.
 *
 * @example Preprocess a CSV, then read a record back
 * ```ts ignore
 * import { openSplit, preprocess } from "./mod.ts";
 *
 * const [train] = await preprocess({ csvs: ["data/train.csv"], out: "cache" });
 * using split = await openSplit(train.dir);
 * const first = await split.readRecord(0); // 227*227 gray values in 0..1
 * ```
 * @module
 */
export {
  channelsOf,
  decodeImage,
  DEFAULT_PREPROCESS,
  GRAYSCALE_FORMULA,
  ImageDecodeError,
  type ImageInput,
  isGrayJpeg,
  type PixelScale,
  prepareDecoding,
  type PreprocessParams,
  recordLength,
  RESIZE_KERNELS,
  type ResizeKernel,
} from "./decode_image.ts";
export { type OpencvKernel, pixelsToRecord, type RecordShape } from "./opencv_resize.ts";
export { mirrored } from "./mirror.ts";
export {
  LabelCsvError,
  type LabelRow,
  type LabelTable,
  parseLabels,
  PATH_COLUMN_NAMES,
  readLabels,
  type ReadLabelsOptions,
  resolveImagePath,
} from "./read_labels.ts";
export {
  type Manifest,
  MANIFEST_FILE,
  readManifest,
  SHARD_FORMAT_VERSION,
  type ShardEntry,
  SplitFormatError,
  tryReadManifest,
} from "./manifest.ts";
export {
  CorruptShardError,
  openSplit,
  type OpenSplitOptions,
  type RecordBatch,
  type ShardCheck,
  SplitReader,
  verifyShard,
} from "./shard_reader.ts";
export {
  type Augmentation,
  BadRowError,
  DEFAULT_CONCURRENCY,
  DEFAULT_SHARD_SIZE,
  type ErrorPolicy,
  preprocess,
  type PreprocessOptions,
  type Rejection,
  splitName,
  type SplitSummary,
} from "./preprocess.ts";
