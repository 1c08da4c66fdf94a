/**
 * `deno task bench`: runs the benchmarks one process each (so one's threads and heap never colour the
 * next's numbers): preprocessing (beside OpenCV and sharp's decode alone), training steps and whole epochs
 * (beside PyTorch), inference (beside PyTorch + OpenCV). Each bench also runs alone, with its own flags:
 * `deno run -A bench/NAME.ts --help`.
 * @module
 */
import { defineCommand, runCli, UsageError } from "../lib/mod.ts";

/** The benchmarks, in the order they run. */
export const BENCHES = {
  preprocess: "preprocessing images/s, beside an OpenCV loop and sharp's decode alone",
  train: "training steps (samples/s) of part1, part3 and the residual MLP at several batch sizes, beside PyTorch",
  epochs: "whole training epochs through train(), beside a PyTorch user's loop",
  infer: "inference latency and throughput, and whole classify commands beside PyTorch + OpenCV",
} as const;

type BenchName = keyof typeof BENCHES;

const BENCH_COMMAND = defineCommand({
  usage: "deno task bench [--only preprocess,train,epochs,infer]",
  description: "Measures speed beside the tools people would otherwise use (~25 minutes for all four on 2 cores):\n" +
    Object.entries(BENCHES).map(([name, what]) => `  ${name.padEnd(11)}${what}`).join("\n"),
  flags: {
    only: { type: "string", value: "LIST", help: `benchmarks to run (default all: ${Object.keys(BENCHES).join(",")})` },
  },
});

if (import.meta.main) {
  await runCli(BENCH_COMMAND, async (flags) => {
    const names = (flags.list("only") ?? Object.keys(BENCHES)) as BenchName[];
    const unknown = names.filter((name) => !(name in BENCHES));
    if (unknown.length > 0) {
      throw new UsageError(`--only: unknown benchmark "${unknown[0]}": choose from ${Object.keys(BENCHES).join(", ")}`);
    }
    for (const name of names) {
      const script = new URL(`./${name}.ts`, import.meta.url).pathname;
      const permissions = ["--allow-read", "--allow-write", "--allow-ffi", "--allow-env", "--allow-sys", "--allow-run"];
      const { code } = await new Deno.Command(Deno.execPath(), { args: ["run", ...permissions, script] }).spawn()
        .status;
      if (code !== 0) throw new Error(`the ${name} benchmark failed (exit code ${code})`);
    }
  });
}
