/**
 * What machine a bench ran on: every speed figure is printed beside it.
 * @module
 */

/** The CPU's model name, as lscpu or /proc/cpuinfo gives it (speed figures mean little without it). */
export async function cpuName(): Promise<string> {
  try {
    const text = await cpuInfo();
    const name = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? "unknown CPU";
    const flags = /^flags\s*:\s*(.+)$/m.exec(text)?.[1] ?? "";
    const vector = /\bavx512f\b/.test(flags) ? "AVX-512" : /\bavx2\b/.test(flags) ? "AVX2" : "no AVX2";
    // Cloud CPUs often name only the brand: family and model tell Zen 3 (25/1) from Zen 4 (25/17) and so on.
    const family = /^cpu family\s*:\s*(\d+)$/m.exec(text)?.[1], model = /^model\s*:\s*(\d+)$/m.exec(text)?.[1];
    const generation = family && model ? ` (family ${family} model ${model})` : "";
    return `${name}${generation}, ${vector}, ${navigator.hardwareConcurrency} cores`;
  } catch {
    return "CPU unknown";
  }
}

/**
 * /proc/cpuinfo's text. Deno reads it only with --allow-all; `deno task bench` runs each bench with named
 * permissions (including --allow-run), so there it is read through `cat`.
 */
async function cpuInfo(): Promise<string> {
  try {
    return await Deno.readTextFile("/proc/cpuinfo");
  } catch {
    const { code, stdout } = await new Deno.Command("cat", { args: ["/proc/cpuinfo"], stdout: "piped" }).output();
    if (code !== 0) throw new Error("cannot read /proc/cpuinfo");
    return new TextDecoder().decode(stdout);
  }
}
