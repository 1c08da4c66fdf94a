/**
 * Bounded concurrency: work over a list with a bounded number of tasks in flight, results
 * handed back in the list's order ({@linkcode mapInOrder}); and, for work that arrives on its
 * own (requests to a server), a fixed number of slots to take turns in ({@linkcode Slots}).
 * @module
 */

/** Options of {@linkcode mapInOrder}. */
export interface MapInOrderOptions {
  /** Tasks running at once. */
  concurrency: number;
  /**
   * How far past the result being consumed tasks may start (default twice `concurrency`):
   * bounds the finished results held while an earlier, slower one is awaited.
   */
  lookahead?: number;
}

/**
 * Runs `task` on every item with at most `concurrency` running at once, and yields the
 * results in the items' order. If a task throws, the error comes out when its turn
 * comes, and tasks already running are waited for before it does. Stopping early (a
 * `break` or a throw in the consumer) starts no further task.
 */
export async function* mapInOrder<T, R>(
  items: readonly T[],
  task: (item: T, index: number) => Promise<R>,
  options: MapInOrderOptions,
): AsyncGenerator<R> {
  const { concurrency } = options;
  const lookahead = Math.max(concurrency, options.lookahead ?? 2 * concurrency);
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be >= 1`);
  const results = new Map<number, Promise<R>>();
  let running = 0, started = 0, consumed = 0, stopped = false;
  const startMore = () => {
    while (!stopped && running < concurrency && started < items.length && started - consumed < lookahead) {
      const index = started++;
      running++;
      const result = task(items[index], index).finally(() => {
        running--;
        startMore();
      });
      result.catch(() => {}); // its error is delivered in turn, not as an unhandled rejection
      results.set(index, result);
    }
  };
  try {
    for (; consumed < items.length; consumed++) {
      startMore();
      const result = results.get(consumed)!;
      results.delete(consumed);
      yield await result;
    }
  } finally {
    stopped = true;
    await Promise.allSettled(results.values());
  }
}

/** Runs `task` on every item, at most `concurrency` at once, until all are done or one throws. */
export async function forEachLimited<T>(
  items: readonly T[],
  task: (item: T, index: number) => Promise<void>,
  concurrency: number,
): Promise<void> {
  // A task's slot is freed when it ends, whatever the order: no long task holds up the next start.
  for await (const _ of mapInOrder(items, task, { concurrency, lookahead: items.length })) {
    // results are void; iterating drives the work and surfaces the first error
  }
}

/** A fixed number of slots; taking one waits, first come first served, while all are taken. */
export class Slots {
  #free: number;
  #waiting: (() => void)[] = [];

  /** Creates `count` slots. */
  constructor(count: number) {
    if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`slots must be >= 1, got ${count}`);
    this.#free = count;
  }

  /** Takes a slot, waiting for one if need be; dispose the result to give it back. */
  async take(): Promise<AsyncDisposable> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let given = false;
    return {
      [Symbol.asyncDispose]: () => {
        if (given) return Promise.resolve();
        given = true;
        const next = this.#waiting.shift();
        if (next) next();
        else this.#free++;
        return Promise.resolve();
      },
    };
  }
}
