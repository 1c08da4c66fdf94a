/**
 * Progress on stderr: a bar redrawn in place on a terminal, a plain line every
 * few seconds otherwise (CI logs, pipes).
 * @module
 */

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Units of work expected. */
  total: number;
  /** Shown before the bar. */
  label: string;
  /** What a unit is called in the rate ("img", "samples"). */
  unit?: string;
  /** Force terminal (true) or plain-line (false) output; default: whether stderr is a terminal. */
  terminal?: boolean;
  /** Seconds between plain lines. */
  lineEverySeconds?: number;
  /** Where to write; default stderr. */
  write?: (text: string) => void;
}

/** A running progress display. */
export interface Progress {
  /** Records `n` more units done, with an optional short note (such as a running loss). */
  tick(n?: number, note?: string): void;
  /** Ends the display. */
  done(): void;
}

const encoder = new TextEncoder();

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (v: number) => String(v).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

/** Starts a progress display. */
export function createProgress(options: ProgressOptions): Progress {
  const { total, label, unit = "items", lineEverySeconds = 5 } = options;
  const terminal = options.terminal ?? Deno.stderr.isTerminal();
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const start = performance.now();
  let done = 0, lastDraw = 0, note = "";

  const line = () => {
    const seconds = (performance.now() - start) / 1000;
    const rate = done / Math.max(seconds, 1e-9);
    const eta = rate > 0 ? (total - done) / rate : Infinity;
    const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
    const tail = `${done}/${total} ${rate.toFixed(1)} ${unit}/s ETA ${formatDuration(eta)}${note ? " " + note : ""}`;
    if (!terminal) return `${label}: ${percent}% ${tail}`;
    const width = 24, filled = total > 0 ? Math.round((width * done) / total) : width;
    return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${tail}`;
  };

  return {
    tick(n = 1, newNote) {
      done += n;
      if (newNote !== undefined) note = newNote;
      const now = performance.now();
      if (terminal && now - lastDraw > 100) {
        write(`\r\x1b[2K${line()}`);
        lastDraw = now;
      } else if (!terminal && now - lastDraw > lineEverySeconds * 1000) {
        write(`${line()}\n`);
        lastDraw = now;
      }
    },
    done() {
      write(terminal ? `\r\x1b[2K${line()}\n` : `${line()}\n`);
    },
  };
}
