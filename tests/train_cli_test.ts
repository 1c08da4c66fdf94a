import assert from "node:assert/strict";
import { join } from "node:path";
import { makeLabelledSet } from "../fixtures/make_fixtures.ts";
import { preprocess } from "../pipeline/preprocess.ts";

const CLI = new URL("../train/cli.ts", import.meta.url).pathname;

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

Deno.test("train CLI: bad flags and a missing cache exit non-zero with a clear message before training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_cli_test" });
  const cases: [string[], RegExp][] = [
    [["--out", dir], /--data and --out are required/],
    [["--data", dir, "--out", `${dir}/m`, "--model", "part9"], /unknown --model "part9": use part1 or part3/],
    [["--data", dir, "--out", `${dir}/m`, "--epochs", "ten"], /--epochs must be an integer, got "ten"/],
    [["--data", dir, "--out", `${dir}/m`, "--lr", "fast"], /--lr must be a number, got "fast"/],
    [["--data", dir, "--out", `${dir}/m`, "--batch-size", "0"], /--batch-size must be a positive integer, got 0/],
    [["--data", dir, "--out", `${dir}/m`], /train is not a complete split: manifest\.json is missing/],
    [["--data", dir, "--out", `${dir}/m`, "--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await run(args);
    assert.notEqual(code, 0, args.join(" "));
    assert.match(stderr, message, args.join(" "));
    assert.doesNotMatch(stderr, /epoch 1\//);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: --preset course refuses a unit-scale cache and says how to make a raw one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_cli_test" });
  await makeLabelledSet(dir, { train: 8, test: 4, width: 16, height: 16 });
  await preprocess({
    csvs: [join(dir, "train.csv"), join(dir, "test.csv")],
    out: join(dir, "cache"),
    params: { size: 8 },
  });
  const { code, stderr } = await run(["--data", join(dir, "cache"), "--out", join(dir, "m"), "--preset", "course"]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /--preset course trains on raw 0\.\.255 pixels, .* --scale unit; preprocess again with --scale raw/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: --threads 2 trains on tfjs' threaded build, learns as one thread does, and exits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "train_cli_test" });
  await makeLabelledSet(dir, { train: 120, test: 40, width: 24, height: 24, seed: 4 });
  await preprocess({
    csvs: [join(dir, "train.csv"), join(dir, "test.csv")],
    out: join(dir, "cache"),
    params: { size: 72 }, // 5,184 inputs: two column chunks, as the real first layer has
  });
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
