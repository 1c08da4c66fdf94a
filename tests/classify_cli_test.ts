import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const CLI = fileURLToPath(new URL("../infer/cli.ts", import.meta.url));
const TINY = fileURLToPath(new URL("../fixtures/tiny-model/", import.meta.url));

async function run(args: string[]) {
  // Only the permissions inference needs: read, ffi + env for sharp, the core count for tfjs' threads.
  // No write, no network.
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-ffi", "--allow-env", "--allow-sys=cpus", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

Deno.test("classify CLI: one line per image, exit 0 when all were classified", async () => {
  const { code, stdout } = await run(["--model", TINY, `${TINY}dog.jpg`, `${TINY}not-dog.jpg`]);
  assert.equal(code, 0);
  const lines = stdout.trim().split("\n").map((l) => l.split("\t"));
  assert.deepEqual(lines.map((l) => l[1]), ["dog", "not_dog"]);
  assert.ok(lines.every((l) => Number(l[2]) >= 0 && Number(l[2]) <= 1));
});

Deno.test("classify CLI: --json lines, and a non-zero exit naming each failure", async () => {
  const { code, stdout, stderr } = await run([
    "--json",
    "--model",
    TINY,
    `${TINY}dog.jpg`,
    "/no/such.jpg",
    `${TINY}model.json`,
  ]);
  assert.equal(code, 1);
  const rows = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(rows[0].label, "dog");
  assert.match(rows[1].error, /no\/such\.jpg: file not found/);
  assert.match(rows[2].error, /model\.json: not an image/);
  assert.match(stderr, /2 of 3 images could not be classified/);
  const missing = await run(["--model", "/no/model", `${TINY}dog.jpg`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /model directory \/no\/model does not exist/);
});

Deno.test("classify CLI: a folder is searched recursively for images, in name order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "classify_cli_test" });
  await Deno.mkdir(`${dir}/b/deeper`, { recursive: true });
  await Deno.copyFile(`${TINY}dog.jpg`, `${dir}/b/deeper/z.jpg`);
  await Deno.copyFile(`${TINY}not-dog.jpg`, `${dir}/a.JPG`);
  await Deno.copyFile(`${TINY}dog.jpg`, `${dir}/b/c.jpeg`);
  await Deno.writeTextFile(`${dir}/notes.txt`, "not an image, and not named like one: left alone\n");
  // Links count as what they point to; a link back up (a loop) and a broken link are not followed.
  await Deno.symlink(`${dir}/b/c.jpeg`, `${dir}/b/linked.jpg`);
  await Deno.symlink(dir, `${dir}/b/deeper/loop`);
  await Deno.symlink(`${dir}/gone.jpg`, `${dir}/broken.jpg`);
  const { code, stdout } = await run(["--model", TINY, "--json", dir]);
  assert.equal(code, 0);
  const rows = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.file), [
    `${dir}/a.JPG`,
    `${dir}/b/c.jpeg`,
    `${dir}/b/deeper/z.jpg`,
    `${dir}/b/linked.jpg`,
  ]);
  assert.deepEqual(rows.map((r) => r.label), ["not_dog", "dog", "dog", "dog"]);
  await Deno.remove(dir, { recursive: true });
});
