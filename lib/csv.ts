/**
 * CSV in and out: the one module that imports csv-parse, and the writer that quotes
 * only the fields that need it.
 * @module
 */
import { parse } from "csv-parse/sync";

/** One parsed CSV line. */
export interface CsvRow {
  /** The fields, trimmed. */
  fields: string[];
  /** The file line the row ends on (1-based; the header is line 1). */
  line: number;
}

/**
 * Parses CSV text into rows (header included): a BOM is dropped, blank lines are skipped,
 * fields are trimmed, and rows may have any number of fields (callers check the count, so
 * that their message can name the line). Throws csv-parse's error for broken quoting.
 */
export function parseCsv(text: string): CsvRow[] {
  const records = parse(text, {
    bom: true,
    info: true,
    skip_empty_lines: true,
    relax_column_count: true,
    trim: true,
  }) as unknown as { record: string[]; info: { lines: number } }[];
  return records.map(({ record, info }) => ({ fields: record, line: info.lines }));
}

/** Parses CSV text with a header line into one object per data row, keyed by the header's names. */
export function parseCsvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.map((row) => Object.fromEntries(header.fields.map((name, i) => [name, row.fields[i] ?? ""])));
}

/** Joins a header and rows into CSV text, quoting fields with commas, quotes or line breaks. */
export function toCsv(header: string[], rows: (string | number)[][], lineEnd = "\n"): string {
  const quote = (field: string | number) => {
    const text = String(field);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [header, ...rows].map((row) => row.map(quote).join(",")).join(lineEnd) + lineEnd;
}
