import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeLabelledSet } from "../demo/mod.ts";
import { toCsv } from "../lib/mod.ts";
import { openSplit, readManifest } from "../pipeline/mod.ts";

const CLI = fileURLToPath(new URL("../pipeline/cli.ts", import.meta.url));

function preprocessCommand(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-ffi", "--allow-env", "--allow-sys", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(args: string[]) {
  const { code, stdout, stderr } = await preprocessCommand(args).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("preprocess CLI: killed with SIGKILL mid-run, the next run finishes with the same shards", async () => {
  const dir = await Deno.makeTempDir({ prefix: "preprocess_cli_test" });
  await makeLabelledSet(dir, { train: 80, test: 4, width: 160, height: 120, seed: 5 });
  const args = ["--csv", join(dir, "train.csv"), "--size", "96", "--shard-size", "8", "--concurrency", "1"];
  const reference = await run([...args, "--out", join(dir, "reference")]);
  assert.equal(reference.code, 0, reference.stderr);

  const out = join(dir, "crashed");
  const child = preprocessCommand([...args, "--out", out]).spawn();
  const marker = join(out, "train", ".progress", "shard-00002.f32.json");
  for (let i = 0; i < 600; i++) {
    if (await Deno.stat(marker).then(() => true, () => false)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  assert.equal(status.success, false, "the run finished before it could be killed; make the fixture bigger");
  await assert.rejects(() => openSplit(join(out, "train")), /manifest\.json is missing/);

  const resumed = await run([...args, "--out", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /shards written, [1-9]\d* reused/);
  const [a, b] = [await readManifest(join(dir, "reference", "train")), await readManifest(join(out, "train"))];
  assert.deepEqual(b.shards.map((s) => s.sha256), a.shards.map((s) => s.sha256));
  assert.equal(b.pixelStats.sha256, a.pixelStats.sha256);
  const leftovers = [...Deno.readDirSync(join(out, "train"))].filter((e) => e.name.includes(".tmp-"));
  assert.deepEqual(leftovers, []);

  const again = await run([...args, "--out", out]);
  assert.match(again.stdout, /up to date, nothing to do/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess CLI: exits at once while another live process holds --out, and takes over after it dies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "preprocess_cli_test" });
  await makeLabelledSet(dir, { train: 4, test: 2, width: 16, height: 16, seed: 6 });
  const out = join(dir, "cache");
  const lockModule = new URL("../lib/lock.ts", import.meta.url).href;
  // A process that takes the lock the way a run does, then waits until killed.
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const { acquireLock } = await import("${lockModule}"); await acquireLock(${
        JSON.stringify(out)
      }, "holder"); console.log("locked"); setInterval(() => {}, 1000);`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /locked/);
  const args = ["--csv", join(dir, "train.csv"), "--out", out, "--size", "8"];
  const started = performance.now();
  const blocked = await run(args);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /is in use by another run \(holder, pid \d+/);
  assert.ok(performance.now() - started < 10_000);
  holder.kill("SIGKILL");
  await holder.status;
  reader.releaseLock();
  await holder.stdout.cancel();
  const after = await run(args);
  assert.equal(after.code, 0, after.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess CLI: the course layout (imgName,label, /dataSet/ paths, --root) works as it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "preprocess_cli_test" });
  const { train } = await makeLabelledSet(join(dir, "source"), { train: 6, test: 0, width: 227, height: 227, seed: 8 });
  await Deno.mkdir(join(dir, "course", "dataSet"), { recursive: true });
  await Deno.mkdir(join(dir, "course", "hw4"), { recursive: true });
  const rows = train.map((r, i) => {
    const name = `train_${String(i + 1).padStart(6, "0")}.jpg`;
    Deno.copyFileSync(join(dir, "source", r.path), join(dir, "course", "dataSet", name));
    return [`/dataSet/${name}`, `${r.label}.0`];
  });
  await Deno.writeTextFile(join(dir, "course", "hw4", "train.csv"), toCsv(["imgName", "label"], rows));
  const result = await run([
    "--csv",
    join(dir, "course", "hw4", "train.csv"),
    "--root",
    join(dir, "course"),
    "--out",
    join(dir, "cache"),
    "--scale",
    "raw",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /train: 6 records \(label 0: 3, label 1: 3\), 0 rejected/);
  using reader = await openSplit(join(dir, "cache", "train"));
  assert.equal(reader.manifest.scale, "raw");
  assert.equal(reader.recordSize, 227 * 227);
  const first = await reader.readRecord(0);
  assert.ok(first.some((v) => v > 1), "raw scale keeps 0..255 values");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("preprocess CLI: bad flags and bad rows exit non-zero with one clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "preprocess_cli_test" });
  await makeLabelledSet(dir, { train: 2, test: 2, width: 16, height: 16 });
  const missing = await run([]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /error: --csv and --out are required/);
  // A value the flag parser accepts but the stage refuses is a usage error too, named by its flag.
  const zero = await run(["--csv", join(dir, "train.csv"), "--out", join(dir, "c"), "--size", "0"]);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /error: --size must be an integer from 1 to 4096, got 0/);
  const scale = await run(["--csv", join(dir, "train.csv"), "--out", join(dir, "c"), "--scale", "foo"]);
  assert.equal(scale.code, 2);
  assert.match(scale.stderr, /error: --scale must be "unit" or "raw", got "foo"/);
  const badSize = await run(["--csv", join(dir, "train.csv"), "--out", join(dir, "c"), "--size", "big"]);
  assert.equal(badSize.code, 2);
  assert.match(badSize.stderr, /--size must be an integer, got "big"/);
  await Deno.writeTextFile(join(dir, "bad.csv"), "path,label\nimages/train/00000.jpg,0\nimages/train/nope.jpg,1\n");
  const badRow = await run(["--csv", join(dir, "bad.csv"), "--out", join(dir, "c")]);
  assert.equal(badRow.code, 1);
  assert.match(badRow.stderr, /error: .*bad\.csv line 3: images\/train\/nope\.jpg: file not found/);
  // The library's hint names the flag in the CLI's words.
  assert.match(badRow.stderr, /rerun with --on-error skip/);
  await Deno.remove(dir, { recursive: true });
});
