/**
 * Faults a training run must survive, done for real to the command a user runs: a second run on the same
 * model folder, SIGKILL in the middle of an epoch and in the middle of writing a checkpoint, and a disk that
 * refuses a write part-way (a file size limit). Each ends with weights byte-identical to an uninterrupted run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeLabelledCache } from "../demo/mod.ts";

const CLI = fileURLToPath(new URL("../train/cli.ts", import.meta.url));
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-ffi", "--allow-env", "--allow-sys", "--allow-run=git"];

/** A cache of 72x72 records, and training flags whose checkpoint (~45 MB) takes a while to write. */
async function setUp(): Promise<{ dir: string; flags: (out: string, epochs: number) => string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "train_faults_test" });
  await makeLabelledCache(dir, { train: 320, test: 40, width: 72, height: 72, seed: 8 }, { params: { size: 72 } });
  const flags = (out: string, epochs: number) => [
    "--data",
    join(dir, "cache"),
    "--out",
    out,
    "--hidden",
    "512,256",
    "--batch-norm",
    "--dropout",
    "0.1",
    "--batch-size",
    "16",
    "--epochs",
    String(epochs),
    "--threads",
    "1",
  ];
  return { dir, flags };
}

function start(args: string[], prefix: string[] = []): Deno.ChildProcess {
  const [command, ...rest] = prefix.length ? prefix : [Deno.execPath()];
  const deno = prefix.length ? [Deno.execPath()] : [];
  return new Deno.Command(command, {
    args: [...rest, ...deno, "run", ...PERMISSIONS, CLI, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function finish(child: Deno.ChildProcess): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await child.output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

async function run(args: string[], prefix: string[] = []): Promise<{ code: number; stderr: string }> {
  return await finish(start(args, prefix));
}

/** Polls until `check` holds (every millisecond or so), or fails after `seconds`. */
async function waitFor(what: string, check: () => Promise<boolean>, seconds = 120): Promise<void> {
  const until = performance.now() + seconds * 1000;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const checkpointEpoch = (out: string) =>
  Deno.readTextFile(join(out, "checkpoint", "state.json")).then((t) => JSON.parse(t).epoch as number, () => 0);

const writingCheckpoint = async (out: string) => {
  try {
    for await (const entry of Deno.readDir(join(out, "checkpoint"))) if (entry.name.includes(".tmp-")) return true;
  } catch {
    // not made yet
  }
  return false;
};

Deno.test("train CLI: killed with SIGKILL mid-epoch and mid-checkpoint, --resume ends byte-identical to an uninterrupted run", async () => {
  const { dir, flags } = await setUp();
  const reference = await run(flags(join(dir, "whole"), 4));
  assert.equal(reference.code, 0, reference.stderr);
  const out = join(dir, "killed");

  // 1. In the middle of epoch 2: its first checkpoint is written, the second is not.
  let child = start(flags(out, 4));
  // Epoch 2 (20 steps and an evaluation) takes tens of ms; the poll sees the checkpoint within ~1 ms of it.
  await waitFor("the checkpoint of epoch 1", async () => await checkpointEpoch(out) === 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  child.kill("SIGKILL");
  await finish(child);
  assert.equal(await checkpointEpoch(out), 1, "killed before the checkpoint of epoch 2");

  // 2. While the checkpoint of epoch 3 is being written (its temporary files are there).
  child = start([...flags(out, 4), "--resume"]);
  await waitFor("a checkpoint being written after epoch 2", async () => await checkpointEpoch(out) >= 2);
  await waitFor("the checkpoint of epoch 3 being written", () => writingCheckpoint(out));
  child.kill("SIGKILL");
  await finish(child);
  assert.ok(await checkpointEpoch(out) >= 2);

  // 3. Resume to the end.
  const resumed = await run([...flags(out, 4), "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming after epoch [23]/);
  const [a, b] = await Promise.all([join(dir, "whole"), out].map((d) => Deno.readFile(join(d, "weights.bin"))));
  assert.deepEqual(b, a);
  // No temporary file of a killed write is left behind.
  for await (const entry of Deno.readDir(join(out, "checkpoint"))) assert.ok(!entry.name.includes(".tmp-"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: a write that fails part-way leaves checkpoint and model as they were, and a later --resume finishes", async () => {
  const { dir, flags } = await setUp();
  const reference = await run(flags(join(dir, "whole"), 3));
  assert.equal(reference.code, 0, reference.stderr);
  const out = join(dir, "full");
  const first = await run(flags(out, 2));
  assert.equal(first.code, 0, first.stderr);
  const before = await Promise.all(["model.json", "weights.bin"].map((f) => Deno.readFile(join(out, f))));

  // A disk that takes files of 16 MB at most: the optimizer's moments (~22 MB) cannot be written.
  // SIGXFSZ is ignored, so the write fails with EFBIG instead of killing the process.
  const limited = await run([...flags(out, 3), "--resume"], [
    "bash",
    "-c",
    `trap '' XFSZ; ulimit -f 16384; exec "$@"`,
    "--",
  ]);
  assert.equal(limited.code, 1, limited.stderr);
  assert.match(limited.stderr, /error: Cannot write the checkpoint of epoch 3 into .*File too large/);
  assert.match(
    limited.stderr,
    /Nothing was half-written \(the checkpoint of epoch 2 is intact\); make room, then continue with --resume/,
  );
  assert.equal(await checkpointEpoch(out), 2);
  const after = await Promise.all(["model.json", "weights.bin"].map((f) => Deno.readFile(join(out, f))));
  assert.deepEqual(after, before, "the model of the finished run is untouched");

  const resumed = await run([...flags(out, 3), "--resume"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(
    await Deno.readFile(join(out, "weights.bin")),
    await Deno.readFile(join(dir, "whole", "weights.bin")),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("train CLI: a second run on the same --out exits at once naming the first, which finishes intact", async () => {
  const { dir, flags } = await setUp();
  const out = join(dir, "shared");
  const first = start(flags(out, 3));
  await waitFor("the first run to take the folder", () => Deno.stat(join(out, ".lock")).then(() => true, () => false));
  // The first run holds the lock from before it opens the data; give it a moment to be sure it has.
  await waitFor("the first run's first checkpoint", async () => await checkpointEpoch(out) >= 1);
  const started = performance.now();
  const second = await run([...flags(out, 3), "--force"]);
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, /is in use by another run \(deno task train, pid \d+, started /);
  assert.ok(performance.now() - started < 30_000);
  const done = await finish(first);
  assert.equal(done.code, 0, done.stderr);
  const record = JSON.parse(await Deno.readTextFile(join(out, "training.json")));
  assert.equal(record.config.epochs, 3);
  await Deno.remove(dir, { recursive: true });
});
