import assert from "node:assert/strict";
import { forEachLimited, mapInOrder, Slots } from "./pool.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("mapInOrder() yields in input order with at most `concurrency` tasks running", async () => {
  let running = 0, peak = 0;
  const delays = [30, 5, 20, 1, 10, 2, 15, 3];
  const out: number[] = [];
  for await (
    const value of mapInOrder(delays, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(ms);
      running--;
      return i;
    }, { concurrency: 3 })
  ) out.push(value);
  assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(peak, 3);
});

Deno.test("mapInOrder() delivers a task's error in its turn, after the tasks already running", async () => {
  const finished: number[] = [];
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (
      const value of mapInOrder([0, 1, 2, 3, 4, 5], async (i) => {
        await sleep(i === 1 ? 1 : 10);
        if (i === 1) throw new Error("task 1 failed");
        finished.push(i);
        return i;
      }, { concurrency: 2 })
    ) seen.push(value);
  }, /task 1 failed/);
  assert.deepEqual(seen, [0]);
  // Task 2 had started before task 1's error was delivered: it was waited for; nothing started after.
  assert.ok(!finished.includes(5), `finished ${finished}`);
});

Deno.test("forEachLimited() starts the next task as soon as any slot frees", async () => {
  const starts: number[] = [];
  const t0 = performance.now();
  await forEachLimited([40, 5, 5, 5], async (ms, i) => {
    starts[i] = performance.now() - t0;
    await sleep(ms);
  }, 2);
  // Task 3 starts while task 0 (40 ms) is still running.
  assert.ok(starts[3] < 30, `task 3 started at ${starts[3].toFixed(0)} ms`);
});

Deno.test("Slots lets `count` holders in at once and the rest in arrival order", async () => {
  const slots = new Slots(2);
  const order: number[] = [];
  let inside = 0, peak = 0;
  await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
    await using _slot = await slots.take();
    order.push(i);
    inside++;
    peak = Math.max(peak, inside);
    await sleep(5);
    inside--;
  }));
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
});
