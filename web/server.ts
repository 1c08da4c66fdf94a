/**
 * The web server behind `deno task serve`: a page to try a trained model on your own photos, in the
 * browser with stock TensorFlow.js, and `POST /classify` for scripts, answered by `classify()` here.
 *
 * It serves a fixed list of things and nothing else: the page, its script (web/page.ts, bundled at
 * start-up), tfjs from node_modules, and the model's own files (model.json, the weight files it names,
 * its statistics, and images lying directly in the model folder). A path that is not on that list, or
 * that leads out of the model folder through a link, is 404.
 * @module
 */
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Slots } from "../lib/mod.ts";
import { type Classifier, ImageDecodeError, loadClassifier } from "../infer/mod.ts";

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** The model directory to serve and classify with. */
  model: string;
  /** Interface to listen on (default 127.0.0.1: this machine only). */
  host?: string;
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** Largest `POST /classify` body in bytes (default {@linkcode DEFAULT_MAX_BODY}). */
  maxBodyBytes?: number;
  /** Requests classified at once; the others wait their turn (default 4). */
  concurrency?: number;
}

/** A running server. */
export interface RunningServer {
  /** Its address, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  /** Stops listening, lets requests in flight finish, and frees the model. */
  shutdown(): Promise<void>;
}

/** The default cap on a `POST /classify` body: 20 MiB, more than any photo a phone takes. */
export const DEFAULT_MAX_BODY = 20 << 20;

const IMAGE_NAME = /^[\w][\w .()-]*\.(jpe?g|png|webp|gif|bmp|tiff?|avif)$/i;
const TYPES: Record<string, string> = {
  json: "application/json",
  bin: "application/octet-stream",
  f32: "application/octet-stream",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  avif: "image/avif",
};

/** Loads the model, bundles the page, and starts listening. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const modelDir = await Deno.realPath(resolve(options.model)).catch(() => resolve(options.model));
  const classifier = await loadClassifier(modelDir);
  const page = await bundlePage();
  const tfjs = fileURLToPath(new URL("../node_modules/@tensorflow/tfjs/dist/tf.min.js", import.meta.url));
  const handler = makeHandler({
    classifier,
    modelDir,
    modelFiles: await namedModelFiles(modelDir),
    page,
    tfjs,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
    slots: new Slots(options.concurrency ?? 4),
  });
  const host = options.host ?? "127.0.0.1";
  const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({ hostname: host, port: options.port ?? 8000, onListen: onListen }, handler);
  const address = await listening;
  const shown = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return {
    url: `http://${shown}:${address.port}/`,
    async shutdown() {
      // Graceful for a few seconds; a client still sending a body nobody reads does not hold it up longer.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise((resolve) => timer = setTimeout(resolve, 3000));
      await Promise.race([server.shutdown(), grace]);
      clearTimeout(timer);
      classifier.dispose();
    },
  };
}

/** Bundles web/page.ts and what it imports into one browser script, with Deno's own bundler. */
async function bundlePage(): Promise<string> {
  const entry = fileURLToPath(new URL("./page.ts", import.meta.url));
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`Cannot bundle the page: ${new TextDecoder().decode(stderr).trim()}`);
  return new TextDecoder().decode(stdout);
}

/** What the request handler works with. */
interface HandlerContext {
  classifier: Classifier;
  modelDir: string;
  /** The model-folder files model.json names (weights, statistics), read once at start-up. */
  modelFiles: Set<string>;
  page: string;
  tfjs: string;
  maxBodyBytes: number;
  slots: Slots;
}

/** The request handler: the fixed routes, then 404. */
function makeHandler(context: HandlerContext): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (route === "POST /classify") return await classifyRequest(request, context);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return json(405, { error: `${request.method} ${url.pathname} is not served here` });
    }
    if (url.pathname === "/") return text(PAGE_HTML, "text/html; charset=utf-8");
    if (url.pathname === "/page.js") return text(context.page, "text/javascript; charset=utf-8");
    if (url.pathname === "/tf.min.js") return await file(context.tfjs, "text/javascript; charset=utf-8");
    if (url.pathname.startsWith("/model/")) {
      const name = decodePathPart(url.pathname.slice("/model/".length));
      const path = name === null ? null : await modelFile(context, name);
      if (path) return await file(path, TYPES[path.split(".").pop()!.toLowerCase()] ?? "application/octet-stream");
    }
    return json(404, { error: "not found" });
  };
}

/** A percent-decoded path segment, or null when it does not decode. */
function decodePathPart(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The files model.json names besides itself: its weight files and the statistics file its metadata names. */
async function namedModelFiles(modelDir: string): Promise<Set<string>> {
  const json = JSON.parse(await Deno.readTextFile(join(modelDir, "model.json")));
  const metadata = json.userDefinedMetadata?.dognet ?? {};
  return new Set<string>([
    ...(json.weightsManifest ?? []).flatMap((group: { paths: string[] }) => group.paths),
    ...[metadata.standardize?.file, metadata.foldedStandardization?.file].filter((f): f is string => !!f),
  ]);
}

/**
 * The path of model-folder file `name`, when it is one the page may fetch: model.json, the files it names,
 * or an image lying directly in the folder; null otherwise, and for anything whose real path is outside the
 * folder (a link out of it).
 */
async function modelFile(context: HandlerContext, name: string): Promise<string | null> {
  if (name.includes("/") || name.includes("\\") || name.startsWith(".")) return null;
  if (name !== "model.json" && !IMAGE_NAME.test(name) && !context.modelFiles.has(name)) return null;
  try {
    const real = await Deno.realPath(join(context.modelDir, name));
    return real.startsWith(context.modelDir + "/") && (await Deno.stat(real)).isFile ? real : null;
  } catch {
    return null;
  }
}

/** `POST /classify`: the body is an image's bytes; the answer is `classify()`'s, as JSON. */
async function classifyRequest(request: Request, context: HandlerContext): Promise<Response> {
  const cap = context.maxBodyBytes;
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > cap) {
    await request.body?.cancel();
    return tooLarge(`the body is ${declared} bytes; the limit is ${cap} bytes`);
  }
  await using _slot = await context.slots.take();
  const bytes = await readCapped(request, cap);
  if (bytes === null) return tooLarge(`the body is over the limit of ${cap} bytes`);
  if (bytes.length === 0) return json(400, { error: "the body is empty: send an image's bytes" });
  try {
    return json(200, await context.classifier.classify(bytes));
  } catch (error) {
    if (error instanceof ImageDecodeError) return json(415, { error: error.reason });
    console.error(`POST /classify: ${(error as Error).stack ?? error}`);
    return json(500, { error: "the server failed to classify the image" });
  }
}

/** The request body, or null as soon as it passes `cap` bytes (the rest is never read). */
async function readCapped(request: Request, cap: number): Promise<Uint8Array | null> {
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.length;
    if (total > cap) {
      await request.body.cancel().catch(() => {});
      return null;
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** 413, closing the connection: the rest of the body is never read, so the connection cannot be reused. */
function tooLarge(error: string): Response {
  const response = json(413, { error });
  response.headers.set("connection", "close");
  return response;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

function text(body: string, type: string): Response {
  return new Response(body, { headers: { "content-type": type } });
}

async function file(path: string, type: string): Promise<Response> {
  try {
    const opened = await Deno.open(path, { read: true });
    return new Response(opened.readable, { headers: { "content-type": type } });
  } catch {
    return json(404, { error: `${basename(path)} not found` });
  }
}

const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dog / not dog</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 900px; }
#drop { border: 2px dashed #999; border-radius: 8px; padding: 28px; text-align: center; color: #555; }
#drop.over { border-color: #1f77b4; background: #eef5fb; }
#results { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
#results li { border: 1px solid #ddd; border-radius: 6px; padding: 8px; font-size: 14px; }
#results img { width: 100%; height: 140px; object-fit: cover; border-radius: 4px; display: block; margin-bottom: 6px; }
#results li.dog { border-color: #2ca02c; } #results li.not-dog { border-color: #d62728; } #results li.error { color: #a00; }
#results pre { display: none; }
</style></head><body>
<h1>dog / not dog</h1>
<p id="status">loading the model…</p>
<div id="drop">Drop photos here, or <input type="file" id="picker" accept="image/*" multiple></div>
<p>Your photos stay in this browser: it decodes them, makes the model's gray input with the project's own code,
and runs the net with TensorFlow.js. Nothing is uploaded.</p>
<ul id="results"></ul>
<script src="/tf.min.js"></script>
<script type="module" src="/page.js"></script>
</body></html>
`;
