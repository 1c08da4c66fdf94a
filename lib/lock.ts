/**
 * A lock that keeps two runs from writing the same output folder at once.
 *
 * It is an OS file lock (flock) on `DIR/.lock`, so it dies with its process:
 * a run killed with SIGKILL never leaves a lock that blocks the next one.
 * The file also records who holds it, for the error message.
 * @module
 */
import { join } from "node:path";

/** Raised when another live process holds the lock. */
export class LockedError extends Error {
  /** Creates the error naming the folder and the holder. */
  constructor(message: string) {
    super(message);
    this.name = "LockedError";
  }
}

/** Takes the lock on `dir` (creating the folder), or throws {@linkcode LockedError} at once; dispose to release. */
export async function acquireLock(dir: string, command: string): Promise<AsyncDisposable & { path: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, ".lock");
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    const holder = await Deno.readTextFile(path).then((text) => JSON.parse(text), () => null);
    file.close();
    const who = holder ? `${holder.command}, pid ${holder.pid}, started ${holder.startedAt}` : "unknown process";
    throw new LockedError(`${dir} is in use by another run (${who}); wait for it to finish or stop it.`);
  }
  await file.truncate(0);
  const info = { pid: Deno.pid, startedAt: new Date().toISOString(), command };
  await file.write(new TextEncoder().encode(JSON.stringify(info) + "\n"));
  return {
    path,
    async [Symbol.asyncDispose]() {
      await file.truncate(0).catch(() => {});
      await file.unlock().catch(() => {});
      file.close();
    },
  };
}
