/**
 * Files that appear whole or not at all: written under a temporary name in the
 * same folder, flushed, then renamed over the final name.
 * @module
 */
import { basename, dirname, join } from "node:path";

/** A temporary name beside `path`, unique to this process and call. */
export function temporaryPathFor(path: string): string {
  const suffix = `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  return join(dirname(path), `.${basename(path)}.tmp-${suffix}`);
}

/** True for names made by {@linkcode temporaryPathFor}, so leftovers of a killed run can be swept. */
export function isTemporaryName(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}

/**
 * Writes `data` (or its parts, one after another, never joined in memory) to `path` atomically; typed arrays
 * are written as their bytes.
 */
export async function writeFileAtomic(path: string, data: ArrayBufferView | ArrayBufferView[]): Promise<void> {
  const temporary = temporaryPathFor(path);
  try {
    using file = await Deno.open(temporary, { write: true, createNew: true });
    for (const view of Array.isArray(data) ? data : [data]) {
      const part = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      let written = 0;
      while (written < part.length) written += await file.write(part.subarray(written));
    }
    await file.sync();
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  await Deno.rename(temporary, path);
}

/** Writes text to `path` atomically. */
export async function writeTextFileAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

/** Removes temporary files left in `dir` by killed runs. */
export async function sweepTemporaryFiles(dir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && isTemporaryName(entry.name)) {
        await Deno.remove(join(dir, entry.name)).catch(() => {});
        removed++;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}
