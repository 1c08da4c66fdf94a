import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeLabelledCache } from "../demo/mod.ts";

const CLI = fileURLToPath(new URL("../train/cli.ts", import.meta.url));

async function run(args: string[]) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-env",
      "--allow-sys",
      "--allow-run=git",
      CLI,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

Deno.test("train CLI: usage errors exit 2 with the help text, other failures 1, all before training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_cli_test" });
  const m = ["--data", dir, "--out", `${dir}/m`];
  const cases: [string[], number, RegExp][] = [
    [["--out", dir], 2, /error: --data is required/],
    [
      [...m, "--model", "part9"],
      2,
      /--model must be part1, part3 or resmlp \(or give --hidden widths .*\), got "part9"/,
    ],
    [
      [...m, "--model", "part3", "--width", "64"],
      2,
      /--width, --depth and --expansion are for --model resmlp, not part3/,
    ],
    [[...m, "--schedule", "step"], 2, /--schedule must be exponential or cosine, got "step"/],
    [[...m, "--preset", "fancy"], 2, /--preset must be "course" or "modern", got "fancy"/],
    [[...m, "--epochs", "ten"], 2, /--epochs must be an integer, got "ten"/],
    [[...m, "--lr", "fast"], 2, /--lr must be a number, got "fast"/],
    [[...m, "--batch-size", "0"], 2, /--batch-size must be a positive integer, got 0/],
    [[...m, "--augment", "spin"], 2, /--augment takes "flip", "shift:N" \(pixels\) and "crop:S"/],
    [[...m, "--val-split", "test"], 2, /--val-split must name a third split/],
    [[...m, "--bogus"], 2, /Unknown option '--bogus'/],
    [m, 1, /train is not a complete split: manifest\.json is missing/],
  ];
  for (const [args, expected, message] of cases) {
    const { code, stderr } = await run(args);
    assert.equal(code, expected, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message, args.join(" "));
    // The help text comes with usage errors only.
    assert.equal(/Usage: deno task train/.test(stderr), expected === 2, args.join(" "));
    assert.doesNotMatch(stderr, /epoch 1\//);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: --preset course refuses a unit-scale cache and says how to make a raw one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_cli_test" });
  await makeLabelledCache(dir, { train: 8, test: 4, width: 16, height: 16 }, { params: { size: 8 } });
  const { code, stderr } = await run(["--data", join(dir, "cache"), "--out", join(dir, "m"), "--preset", "course"]);
  assert.equal(code, 2);
  assert.match(
    stderr,
    /--preset course trains on raw 0\.\.255 pixels, .* at unit scale; preprocess again at raw scale \(deno task preprocess --scale raw\)/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: --threads 2 trains on tfjs' threaded build, learns as one thread does, and exits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_cli_test" });
  await makeLabelledCache(dir, { train: 120, test: 40, width: 24, height: 24, seed: 4 }, { params: { size: 72 } }); // 5,184 inputs: two column chunks, as the real first layer has
  const common = ["--data", join(dir, "cache"), "--hidden", "32,16", "--batch-norm", "--epochs", "2"];
  const records = [];
  for (const threads of ["1", "2"]) {
    const out = join(dir, `m${threads}`);
    const started = performance.now();
    const { code, stderr } = await run([...common, "--out", out, "--threads", threads]);
    assert.equal(code, 0, stderr);
    // The threaded build's workers must not keep the process alive after training.
    assert.ok(performance.now() - started < 120_000);
    records.push(JSON.parse(await Deno.readTextFile(join(out, "training.json"))));
  }
  const expected = Math.min(2, navigator.hardwareConcurrency);
  assert.equal(records[1].backend.threads, expected);
  // Same seed, same data: the same learning curve up to float rounding in the threaded products.
  const losses = records.map((r) => r.metrics.test.loss);
  assert.ok(Math.abs(losses[0] - losses[1]) < 1e-3, `test loss ${losses[0]} (1 thread) vs ${losses[1]} (2 threads)`);
  assert.equal(records[0].metrics.test.accuracy, records[1].metrics.test.accuracy);
  await Deno.remove(dir, { recursive: true });
});
