/**
 * Every task in deno.json answers `--help` and `-h` with its usage and exit 0, without doing its work, and an
 * unknown flag with exit 2. `deno task test` is `deno test` itself: its help is Deno's, and so is its exit code
 * for a flag Deno does not know (1), so only its help is checked.
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { forEachLimited } from "../lib/mod.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TASKS: string[] = Object.keys(JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks);

async function runTask(task: string, flag: string): Promise<{ code: number; stdout: string }> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", task, flag],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout) };
}

Deno.test("every task answers --help and -h with its usage, and an unknown flag with exit 2", async () => {
  assert.ok(TASKS.length >= 10, `deno.json lists ${TASKS.length} tasks`);
  const problems: string[] = [];
  await forEachLimited(TASKS, async (task) => {
    for (const flag of ["--help", "-h"]) {
      const { code, stdout } = await runTask(task, flag);
      if (code !== 0 || !/^usage:/im.test(stdout)) problems.push(`${task} ${flag}: exit ${code}, no usage printed`);
    }
    if (task === "test") return;
    const { code } = await runTask(task, "--no-such-flag");
    if (code !== 2) problems.push(`${task} --no-such-flag: exit ${code}, expected 2`);
  }, 2);
  assert.deepEqual(problems, []);
});
