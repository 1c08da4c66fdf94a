/**
 * The worker behind {@linkcode BatchLoader}: owns a split reader and assembles
 * batches off the main thread.
 * @module
 */
/// <reference lib="deno.worker" />
import { openSplit } from "../pipeline/mod.ts";
import type { Standardization } from "../model/mod.ts";
import { assembleBatch, type RecordSource, splitInMemory } from "./batches.ts";

let reader: RecordSource | null = null;
let standardization: Standardization | undefined;

self.onmessage = async (event: MessageEvent) => {
  const { id, type } = event.data;
  try {
    if (type === "open") {
      // This thread does nothing else: blocking reads are cheapest here.
      const split = await openSplit(event.data.dir, { verify: event.data.verify ?? false, blockingReads: true });
      reader = event.data.inMemory ? splitInMemory(split) : split;
      standardization = event.data.standardization;
      self.postMessage({ id });
    } else if (type === "load") {
      if (!reader) throw new Error("batch worker used before open");
      const { indices, augment, mirror } = event.data;
      const batch = await assembleBatch(reader, indices, standardization, augment, mirror);
      self.postMessage({ id, batch }, {
        transfer: [batch.values.buffer as ArrayBuffer, batch.labels.buffer as ArrayBuffer],
      });
    }
  } catch (error) {
    self.postMessage({ id, error: (error as Error).message, name: (error as Error).name });
  }
};
