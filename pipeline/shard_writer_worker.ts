/**
 * The thread behind {@linkcode ShardWriter}: appends records to the temporary
 * file, hashes them and sums each pixel, then syncs and renames on `finish`.
 * Messages are handled strictly in order.
 * @module
 */
/// <reference lib="deno.worker" />
import { createHash } from "node:crypto";
import type { WriterReply, WriterRequest } from "./shard_writer.ts";

let file: Deno.FsFile | undefined;
let paths = { path: "", temporary: "" };
let hash = createHash("sha256");
let sums = new Float64Array(0);
let recordSize = 0;
let count = 0;
let queue: Promise<void> = Promise.resolve();

const reply = (message: WriterReply, transfer: Transferable[] = []) => self.postMessage(message, { transfer });

async function handle(request: WriterRequest): Promise<void> {
  switch (request.type) {
    case "open":
      ({ recordSize } = request);
      paths = { path: request.path, temporary: request.temporary };
      sums = new Float64Array(recordSize * 2);
      file = await Deno.open(request.temporary, { write: true, createNew: true });
      return reply({ type: "opened" });
    case "append": {
      const record = request.record;
      const bytes = new Uint8Array(record.buffer, record.byteOffset, record.byteLength);
      hash.update(bytes);
      for (let written = 0; written < bytes.length;) written += await file!.write(bytes.subarray(written));
      for (let p = 0; p < recordSize; p++) {
        sums[p] += record[p];
        sums[recordSize + p] += record[p] * record[p];
      }
      count++;
      // The buffer goes back to the decoding thread to hold a later record.
      return reply({ type: "appended", record }, [record.buffer as ArrayBuffer]);
    }
    case "finish": {
      await file!.sync();
      file!.close();
      file = undefined;
      await Deno.rename(paths.temporary, paths.path);
      const digest = hash.digest("hex");
      hash = createHash("sha256");
      return reply({ type: "finished", count, sha256: digest, sums }, [sums.buffer]);
    }
    case "abort":
      try {
        file?.close();
      } catch {
        // already closed
      }
      file = undefined;
      await Deno.remove(paths.temporary).catch(() => {});
      return reply({ type: "aborted" });
  }
}

self.onmessage = (event: MessageEvent<WriterRequest>) => {
  queue = queue.then(() => handle(event.data)).catch((error) => {
    reply({ type: "error", message: error instanceof Error ? error.message : String(error) });
  });
};
