/**
 * Reads a label CSV (`path,label` or the course's `imgName,label`) into rows,
 * resolving each image path and flagging bad rows without throwing, so the
 * caller's error policy (fail or skip) decides what happens to them.
 * @module
 */
import { dirname, isAbsolute, join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { type CsvRow, OptionNamingError, parseCsv } from "../lib/mod.ts";

/** Path column names tried, in order, when none is given. */
export const PATH_COLUMN_NAMES = ["path", "imgname", "image", "file", "filename"];

/** One data row of a label CSV. */
export interface LabelRow {
  /** Line number in the CSV file (1-based; the header is line 1). */
  line: number;
  /** The image path exactly as the CSV gives it. */
  source: string;
  /** The path resolved to a file on disk. */
  path: string;
  /** 0 or 1; null when the row is bad. */
  label: 0 | 1 | null;
  /** Why the row cannot be used, when it cannot. */
  problem?: string;
}

/** Options for {@linkcode parseLabels} and {@linkcode readLabels}. */
export interface ReadLabelsOptions {
  /** Folder that paths resolve against: relative ones always, absolute ones (the course's `/dataSet/...`) when given. Default: the CSV's folder. */
  root?: string;
  /** Header of the path column; default: the first of {@linkcode PATH_COLUMN_NAMES} present. */
  pathColumn?: string;
  /** Header of the label column; default `label`. */
  labelColumn?: string;
  /** Class names for label 0 and label 1 (`["not_dog", "dog"]`), accepted besides 0/1. */
  classes?: readonly [string, string];
}

/** A parsed label CSV with the digest of its bytes. */
export interface LabelTable {
  /** The CSV file. */
  csvPath: string;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
  /** Data rows in file order. */
  rows: LabelRow[];
}

/** Raised when a CSV as a whole is unusable (empty, no such column, broken quoting). */
export class LabelCsvError extends OptionNamingError {
  /** Creates the error with a message naming the file. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LabelCsvError";
  }
}

/** Reads and parses the CSV at `csvPath`. */
export async function readLabels(csvPath: string, options: ReadLabelsOptions = {}): Promise<LabelTable> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(csvPath);
  } catch (error) {
    throw new LabelCsvError(`Cannot read ${csvPath}: ${(error as Error).message}`, { cause: error });
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const rows = parseLabels(text, { ...options, csvPath });
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return { csvPath, sha256, rows };
}

/** Parses CSV text; `csvPath` names the file in messages and is the default root. */
export function parseLabels(text: string, options: ReadLabelsOptions & { csvPath: string }): LabelRow[] {
  const { csvPath } = options;
  let records: CsvRow[];
  try {
    records = parseCsv(text);
  } catch (error) {
    throw new LabelCsvError(`Cannot parse ${csvPath}: ${(error as Error).message}`, { cause: error });
  }
  if (records.length === 0) throw new LabelCsvError(`${csvPath} is empty: expected a header line such as "path,label"`);
  const header = records[0].fields;
  const pathIndex = findColumn(header, options.pathColumn, PATH_COLUMN_NAMES, "path", "pathColumn", csvPath);
  const labelIndex = findColumn(header, options.labelColumn, ["label"], "label", "labelColumn", csvPath);
  if (records.length === 1) throw new LabelCsvError(`${csvPath} has a header but no data rows`);

  const root = options.root ?? dirname(resolve(csvPath));
  const firstLine = new Map<string, number>();
  return records.slice(1).map(({ fields: record, line }) => {
    const source = record[pathIndex] ?? "";
    const path = resolveImagePath(source, root, options.root !== undefined);
    const row: LabelRow = { line, source, path, label: null };
    if (record.length !== header.length) {
      row.problem = `expected ${header.length} columns, found ${record.length}`;
    } else if (source === "") {
      row.problem = "empty path";
    } else if (firstLine.has(path)) {
      row.problem = `duplicate path: same image as line ${firstLine.get(path)}`;
    } else {
      const label = parseLabel(record[labelIndex], options.classes);
      if (label === null) row.problem = `bad label "${record[labelIndex]}": expected ${labelChoices(options.classes)}`;
      row.label = label;
    }
    if (!firstLine.has(path)) firstLine.set(path, line);
    if (row.problem) row.label = null;
    return row;
  });
}

/** Resolves a CSV path: relative ones against `root`, absolute ones against it only when a root was given. */
export function resolveImagePath(source: string, root: string, rootGiven: boolean): string {
  if (isAbsolute(source)) return rootGiven ? join(root, source) : source;
  return join(root, source);
}

function findColumn(
  header: string[],
  wanted: string | undefined,
  defaults: string[],
  what: string,
  option: string,
  csvPath: string,
): number {
  const names = header.map((name) => name.toLowerCase());
  const candidates = wanted ? [wanted.toLowerCase()] : defaults;
  for (const candidate of candidates) {
    const index = names.indexOf(candidate);
    if (index >= 0) return index;
  }
  const tried = wanted ? `"${wanted}"` : defaults.map((n) => `"${n}"`).join(" or ");
  throw new LabelCsvError(
    `${csvPath} line 1: no ${what} column (${tried}) in header "${header.join(",")}"; name it with {${option}}`,
  );
}

function parseLabel(cell: string | undefined, classes?: readonly [string, string]): 0 | 1 | null {
  if (cell === undefined || cell === "") return null;
  if (classes) {
    if (cell === classes[0]) return 0;
    if (cell === classes[1]) return 1;
  }
  if (!/^[+]?\d+(\.\d*)?$/.test(cell)) return null;
  const value = Number(cell);
  return value === 0 || value === 1 ? value : null;
}

function labelChoices(classes?: readonly [string, string]): string {
  return classes ? `0, 1, "${classes[0]}" or "${classes[1]}"` : "0 or 1 (or 0.0 / 1.0)";
}
