/**
 * Small dependency-free SVG line charts (learning curves, gradient traces).
 * `svgToPng()` in lib/sharp.ts renders them to PNG.
 * @module
 */
import { escapeHtml } from "./text.ts";

/** One line on a chart. */
export interface Series {
  /** Legend text. */
  name: string;
  /** CSS colour. */
  color: string;
  /** Points (x, y); non-finite y values are skipped. */
  points: [number, number][];
  /** Dashed line. */
  dashed?: boolean;
}

/** One chart panel. */
export interface ChartPanel {
  /** Title above the panel. */
  title: string;
  /** X axis label. */
  xLabel: string;
  /** Y axis label. */
  yLabel: string;
  /** The lines. */
  series: Series[];
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Fixed x range. */
  xRange?: [number, number];
  /** Put the legend beside the plot instead of over its top-right corner (for many lines). */
  legendBeside?: boolean;
}

/** "Nice" tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const step0 = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= step0)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(4)));
}

/** Renders panels side by side as one SVG document. */
export function renderChart(panels: ChartPanel[], options: { width?: number; height?: number } = {}): string {
  const panelWidth = options.width ?? 460, height = options.height ?? 320;
  const margin = { left: 62, right: 16, top: 34, bottom: 46 };
  const parts: string[] = [];
  for (const [p, panel] of panels.entries()) {
    const legendWidth = 40 + 6.4 * Math.max(0, ...panel.series.map((t) => t.name.length));
    const x0 = p * panelWidth + margin.left;
    const x1 = (p + 1) * panelWidth - margin.right - (panel.legendBeside ? legendWidth + 8 : 0);
    const y0 = height - margin.bottom, y1 = margin.top;
    const all = panel.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!panel.logY || y > 0));
    const xs = all.map(([x]) => x), ys = all.map(([, y]) => y);
    const [xMin, xMax] = panel.xRange ?? [Math.min(...xs, 0), Math.max(...xs, 1)];
    const ty = (v: number) => (panel.logY ? Math.log10(v) : v);
    let [yMin, yMax] = ys.length ? [Math.min(...ys.map(ty)), Math.max(...ys.map(ty))] : [0, 1];
    if (yMax === yMin) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
    if (!panel.logY) [yMin, yMax] = [yMin - (yMax - yMin) * 0.05, yMax + (yMax - yMin) * 0.05];
    const sx = (x: number) => x0 + ((x - xMin) / (xMax - xMin || 1)) * (x1 - x0);
    const sy = (y: number) => y0 - ((ty(y) - yMin) / (yMax - yMin)) * (y0 - y1);
    parts.push(
      `<text x="${(x0 + x1) / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${
        escapeHtml(panel.title)
      }</text>`,
    );
    parts.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="none" stroke="#888"/>`);
    for (const t of niceTicks(xMin, xMax, 6)) {
      parts.push(`<line x1="${sx(t)}" y1="${y0}" x2="${sx(t)}" y2="${y0 + 4}" stroke="#888"/>`);
      parts.push(`<text x="${sx(t)}" y="${y0 + 16}" text-anchor="middle" font-size="11">${formatTick(t)}</text>`);
    }
    const yTicks = panel.logY
      ? Array.from({ length: Math.floor(yMax) - Math.ceil(yMin) + 1 }, (_, i) => 10 ** (Math.ceil(yMin) + i))
      : niceTicks(yMin, yMax, 5);
    for (const t of yTicks) {
      parts.push(`<line x1="${x0}" y1="${sy(t)}" x2="${x1}" y2="${sy(t)}" stroke="#eee"/>`);
      parts.push(`<text x="${x0 - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${formatTick(t)}</text>`);
    }
    parts.push(
      `<text x="${(x0 + x1) / 2}" y="${height - 10}" text-anchor="middle" font-size="12">${
        escapeHtml(panel.xLabel)
      }</text>`,
    );
    const labelX = p * panelWidth + 14, labelY = (y0 + y1) / 2;
    parts.push(
      `<text x="${labelX}" y="${labelY}" text-anchor="middle" font-size="12" transform="rotate(-90 ${labelX} ${labelY})">${
        escapeHtml(panel.yLabel)
      }</text>`,
    );
    // The legend is drawn after the lines, on a white box, so no line runs through its text.
    const legendX = panel.legendBeside ? x1 + 12 : x1 - legendWidth;
    const legend = [
      `<rect x="${legendX - 4}" y="${y1 + 2}" width="${legendWidth}" height="${
        panel.series.length * 16 + 6
      }" fill="white" fill-opacity="0.85"/>`,
    ];
    for (const [i, s] of panel.series.entries()) {
      const points = s.points.filter(([, y]) => Number.isFinite(y) && (!panel.logY || y > 0));
      if (points.length > 0) {
        const d = points.map(([x, y], k) => `${k ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join("");
        parts.push(
          `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${
            s.dashed ? ' stroke-dasharray="5,3"' : ""
          }/>`,
        );
        if (points.length < 40) {
          for (const [x, y] of points) {
            parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
          }
        }
      }
      const ly = y1 + 14 + i * 16, lx = legendX;
      const dash = s.dashed ? ' stroke-dasharray="5,3"' : "";
      legend.push(
        `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      );
      legend.push(`<text x="${lx + 26}" y="${ly}" font-size="11">${escapeHtml(s.name)}</text>`);
    }
    parts.push(...legend);
  }
  const width = panelWidth * panels.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${
    parts.join("\n")
  }\n</svg>\n`;
}
