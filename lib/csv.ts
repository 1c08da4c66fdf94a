/**
 * Writing CSV text (quoting only the fields that need it).
 * @module
 */

/** Joins a header and rows into CSV text, quoting fields with commas, quotes or line breaks. */
export function toCsv(header: string[], rows: string[][], lineEnd = "\n"): string {
  const quote = (field: string) => /[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
  return [header, ...rows].map((row) => row.map(quote).join(",")).join(lineEnd) + lineEnd;
}
