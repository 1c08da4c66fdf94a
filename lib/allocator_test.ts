import assert from "node:assert/strict";
import { keepFreedMemory } from "./allocator.ts";

Deno.test("keepFreedMemory() sets glibc's allocator on Linux, once, and says so", () => {
  const applied = keepFreedMemory();
  // Wherever glibc runs Deno (CI and the machines the README names run Debian), it must take effect.
  if (Deno.build.os === "linux" && Deno.build.env === "gnu") assert.equal(applied, true);
  assert.equal(keepFreedMemory(), applied);
});
