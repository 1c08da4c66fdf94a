/**
 * Shared pieces of the command-line entry points: flag parsing and error reporting.
 * @module
 */

/** Parses an integer flag value, or returns the default when absent. */
export function parseIntegerFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value.trim())) throw new TypeError(`${flag} must be an integer, got "${value}"`);
  return Number(value);
}

/** Parses a number flag value, or returns the default when absent. */
export function parseNumberFlag(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number)) throw new TypeError(`${flag} must be a number, got "${value}"`);
  return number;
}

/** Runs a CLI body: a thrown error becomes one clear line on stderr and exit code 1 (2 for usage errors). */
export async function runCli(usage: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const usageError = error instanceof TypeError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(`error: ${(error as Error).message}`);
    if (usageError) console.error(`\n${usage}`);
    Deno.exit(usageError ? 2 : 1);
  }
}
