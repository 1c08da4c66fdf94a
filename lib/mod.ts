/**
 * Helpers every part of the project shares and none owns: atomic files, the folder
 * lock, progress on stderr, CSV, SVG charts, seeded randomness, the concurrency
 * limiter, option-naming errors and the command-line layer. Nothing here knows about
 * images or nets.
 *
 * sharp (libvips) is reached through `lib/sharp.ts`, which loads it on first use.
 * @module
 */
export {
  isTemporaryName,
  sweepTemporaryFiles,
  temporaryPathFor,
  writeFileAtomic,
  writeTextFileAtomic,
} from "./atomic_file.ts";
export { acquireLock, LockedError } from "./lock.ts";
export { createProgress, formatDuration, type Progress, type ProgressOptions } from "./progress.ts";
export { type CsvRow, parseCsv, parseCsvObjects, toCsv } from "./csv.ts";
export { type ChartPanel, niceTicks, renderChart, type Series } from "./svg_chart.ts";
export { betaFrom, gammaFrom, normalFrom, seededRandom } from "./random.ts";
export { escapeHtml, percent } from "./text.ts";
export { forEachLimited, mapInOrder, type MapInOrderOptions, Slots } from "./pool.ts";
export {
  OptionError,
  optionNames,
  OptionNamingError,
  renderOptionNames,
  requireChoice,
  requireInteger,
} from "./errors.ts";
export {
  type CommandSpec,
  defineCommand,
  describeError,
  flagFor,
  type FlagSpec,
  helpText,
  ParsedFlags,
  parseFlags,
  runCli,
  UsageError,
} from "./cli.ts";
export { loadSharp, type Sharp, svgToPng } from "./sharp.ts";
