/**
 * Small text helpers shared by the HTML, SVG and Markdown writers.
 * @module
 */

/** Escapes text for HTML and SVG (element content and double-quoted attributes). */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** A fraction as a percentage with one decimal ("57.4%"), or "–" when absent or not finite. */
export function percent(fraction: number | undefined | null): string {
  return fraction === undefined || fraction === null || !Number.isFinite(fraction)
    ? "–"
    : `${(100 * fraction).toFixed(1)}%`;
}
