/**
 * A lock file that keeps two runs from writing the same output folder, and that
 * a dead process does not hold: a lock whose process is gone is taken over.
 * @module
 */
import { join } from "node:path";
import { hostname } from "node:os";
import process from "node:process";

/** Raised when another live process holds the lock. */
export class LockedError extends Error {
  /** Creates the error naming the folder and the holder. */
  constructor(message: string) {
    super(message);
    this.name = "LockedError";
  }
}

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

/** Takes the lock on `dir` (creating it), or throws {@linkcode LockedError}; dispose to release. */
export async function acquireLock(dir: string, command: string): Promise<AsyncDisposable & { path: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, ".lock");
  const info: LockInfo = { pid: Deno.pid, host: hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await Deno.writeTextFile(path, JSON.stringify(info) + "\n", { createNew: true });
      return {
        path,
        async [Symbol.asyncDispose]() {
          await Deno.remove(path).catch(() => {});
        },
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const holder = await readLock(path);
    if (holder && isAlive(holder)) {
      throw new LockedError(
        `${dir} is in use by another run (${holder.command}, pid ${holder.pid}, started ${holder.startedAt}); ` +
          `wait for it to finish or stop it. If no such process exists, delete ${path}.`,
      );
    }
    // The holder is dead (or the file is unreadable): take the lock over.
    await Deno.remove(path).catch(() => {});
  }
  throw new LockedError(`could not take the lock ${path}: another run keeps taking it`);
}

async function readLock(path: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

function isAlive(holder: LockInfo): boolean {
  // A lock from another machine (shared disk) cannot be checked: treat it as held.
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}
