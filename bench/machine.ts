/**
 * What machine a bench ran on: every speed figure is printed beside it.
 * @module
 */

/** The CPU's model name, as lscpu or /proc/cpuinfo gives it (speed figures mean little without it). */
export async function cpuName(): Promise<string> {
  try {
    const text = await Deno.readTextFile("/proc/cpuinfo");
    const name = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? "unknown CPU";
    const flags = /^flags\s*:\s*(.+)$/m.exec(text)?.[1] ?? "";
    const vector = /\bavx512f\b/.test(flags) ? "AVX-512" : /\bavx2\b/.test(flags) ? "AVX2" : "no AVX2";
    return `${name}, ${vector}, ${navigator.hardwareConcurrency} cores`;
  } catch {
    return "CPU unknown";
  }
}
