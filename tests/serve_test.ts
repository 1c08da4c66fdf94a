/**
 * `deno task serve` as a person and a script use it: the page in headless Chromium classifies a photo with
 * stock TensorFlow.js and agrees with `classify()`; `POST /classify` answers, refuses what it should with the
 * right status, serves nothing outside its list, holds up under 64 requests at once; Ctrl-C stops it.
 * Every request goes to 127.0.0.1 only.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeJpeg, makeLabelledCache, renderTaskImage } from "../demo/mod.ts";
import { initBackend, tf } from "../engine/mod.ts";
import { makeTrainConfig, train } from "../train/mod.ts";
import { makeEdgeCases } from "../fixtures/make_fixtures.ts";
import { loadSharp, seededRandom } from "../lib/mod.ts";
import { decodeImage, mirrored } from "../pipeline/mod.ts";
import { loadLayersModel } from "../model/mod.ts";
import { loadClassifier } from "../infer/mod.ts";
import { startServer } from "../web/mod.ts";
import { CHROMIUM, headless } from "../fixtures/chromium.ts";

const TINY = fileURLToPath(new URL("../fixtures/tiny-model/", import.meta.url));
const CLI = fileURLToPath(new URL("../web/cli.ts", import.meta.url));
/** Bytes as a fetch body (fetch's types want an ArrayBuffer-backed view). */
const asBody = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

/** Sends `request` as raw bytes (no client normalising the path) and returns the status code. */
async function rawStatus(url: string, request: string): Promise<number> {
  const { hostname, port } = new URL(url);
  using connection = await Deno.connect({ hostname, port: Number(port) });
  await connection.write(new TextEncoder().encode(request));
  const buffer = new Uint8Array(4096);
  const n = await connection.read(buffer);
  const head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
}

/** A copy of the tiny model in a folder of its own, with a link out of it and a file beside it. */
async function modelFolder(): Promise<{ dir: string; model: string }> {
  const dir = await Deno.makeTempDir({ prefix: "serve_test" });
  const model = join(dir, "model");
  await Deno.mkdir(model);
  for await (const entry of Deno.readDir(TINY)) await Deno.copyFile(join(TINY, entry.name), join(model, entry.name));
  await Deno.writeTextFile(join(dir, "secret.txt"), "not for the web\n");
  await Deno.symlink(join(dir, "secret.txt"), join(model, "leak.jpg"));
  await Deno.writeTextFile(join(model, "notes.txt"), "beside the model, not named by it\n");
  return { dir, model };
}

Deno.test("POST /classify answers as classify() does, and refuses too big, empty, non-images and bombs", async () => {
  const { dir, model } = await modelFolder();
  const server = await startServer({ model, port: 0, maxBodyBytes: 1 << 20 });
  try {
    const dog = await Deno.readFile(join(TINY, "dog.jpg"));
    const answer = await fetch(new URL("classify", server.url), { method: "POST", body: dog });
    assert.equal(answer.status, 200);
    const classifier = await loadClassifier(TINY);
    assert.deepEqual(await answer.json(), await classifier.classify(dog));
    classifier.dispose();

    // Too big by its Content-Length: refused before the body is read (only 1 kB of it is ever sent).
    assert.equal(
      await rawStatus(
        server.url,
        "POST /classify HTTP/1.1\r\nHost: localhost\r\nContent-Length: 30000000\r\n\r\n" + "x".repeat(1024),
      ),
      413,
    );
    // Too big with no length given (chunked, 4 MiB against the 1 MiB limit): cut off once past the limit.
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 4 << 20) return controller.close();
        controller.enqueue(new Uint8Array(64 << 10));
        sent += 64 << 10;
      },
    });
    const chunked = await fetch(new URL("classify", server.url), { method: "POST", body: endless });
    assert.equal(chunked.status, 413);
    assert.match((await chunked.json()).error, /over the limit of 1048576 bytes/);

    const edge = await makeEdgeCases(join(dir, "edge"));
    const cases: [Uint8Array, number, RegExp][] = [
      [new Uint8Array(), 400, /the body is empty/],
      [new TextEncoder().encode("just text"), 415, /not an image/],
      [await Deno.readFile(edge.truncated), 415, /truncated or corrupt/],
      [await Deno.readFile(edge.bomb), 415, /too many pixels/],
    ];
    for (const [body, status, error] of cases) {
      const started = performance.now();
      const response = await fetch(new URL("classify", server.url), { method: "POST", body: asBody(body) });
      assert.equal(response.status, status);
      assert.match((await response.json()).error, error);
      assert.ok(performance.now() - started < 5000);
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the server serves its page, tfjs and the model's files, and nothing else", async () => {
  const { dir, model } = await modelFolder();
  const server = await startServer({ model, port: 0 });
  try {
    for (const path of ["/", "/page.js", "/tf.min.js", "/model/model.json", "/model/weights.bin", "/model/dog.jpg"]) {
      const response = await fetch(new URL(path, server.url));
      assert.equal(response.status, 200, path);
      await response.body?.cancel();
    }
    const script = await (await fetch(new URL("/page.js", server.url))).text();
    assert.match(script, /function pixelsToRecord/);
    // The browser bundle holds the pixel + resize code and the page, nothing that needs Deno or Node.
    assert.doesNotMatch(script, /from "node:|Deno\./);
    const refused = [
      "/model/../deno.json",
      "/model/..%2Fdeno.json",
      "/model/%2e%2e%2fdeno.json",
      "/model/%2e%2e/%2e%2e/deno.json",
      "/model//etc/passwd",
      "/model/%2Fetc%2Fpasswd",
      "/model/leak.jpg", // a link out of the model folder
      "/model/notes.txt", // in the folder, but not a file of the model
      "/model/.lock",
      "/deno.json",
      "/node_modules/@tensorflow/tfjs/package.json",
      "/etc/passwd",
    ];
    for (const path of refused) {
      const status = await rawStatus(
        server.url,
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(status, 404, path);
    }
    assert.equal((await fetch(new URL("/", server.url), { method: "DELETE" })).status, 405);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("64 POST /classify at once all succeed, memory stays bounded, and the server keeps serving", async () => {
  const server = await startServer({ model: TINY, port: 0 });
  try {
    const random = seededRandom(31);
    const photos = await Promise.all(
      Array.from({ length: 8 }, (_, i) => encodeJpeg(renderTaskImage((i % 2) as 0 | 1, 500, 375, random), 500, 375)),
    );
    const classifier = await loadClassifier(TINY);
    const expected = await Promise.all(photos.map((p) => classifier.classify(p)));
    classifier.dispose();
    const before = Deno.memoryUsage().rss;
    const answers = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
      const response = await fetch(new URL("classify", server.url), { method: "POST", body: asBody(photos[i % 8]) });
      return { status: response.status, body: await response.json() };
    }));
    const grown = (Deno.memoryUsage().rss - before) / 2 ** 20;
    answers.forEach((a, i) => {
      assert.equal(a.status, 200);
      assert.deepEqual(a.body, expected[i % 8]);
    });
    assert.ok(grown < 400, `resident memory grew by ${grown.toFixed(0)} MB`);
    assert.equal((await fetch(server.url)).status, 200);
  } finally {
    await server.shutdown();
  }
});

Deno.test({
  name: "deno task serve: the page classifies a photo in headless Chromium as classify() does; Ctrl-C stops it",
  ignore: CHROMIUM === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "serve_test" });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-net",
        "--allow-ffi",
        "--allow-env",
        "--allow-sys",
        "--allow-run",
        CLI,
        "--model",
        TINY,
        "--port",
        "0",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let url = "";
    while (!url) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the server stopped before it printed its address");
      url = /serving (http:\/\/\S+)/.exec(value)?.[1] ?? "";
    }
    const chromium = (args: string[]) => headless(dir, ["--virtual-time-budget=30000", ...args]);
    const { stdout } = await chromium(["--dump-dom", `${url}?photo=dog.jpg&record=1`]);
    const dom = stdout;
    const probability = Number(/id="result-0"[^>]*data-probability="([^"]+)"/.exec(dom)?.[1]);
    const record = JSON.parse(/<pre id="record-0">([^<]+)<\/pre>/.exec(dom)?.[1] ?? "[]") as number[];
    const classifier = await loadClassifier(TINY);
    const expected = (await classifier.classify(join(TINY, "dog.jpg"))).probability;
    // The browser decoded the JPEG to the very pixels sharp does, and stock tfjs (WebGL in software) agrees.
    assert.deepEqual(record, Array.from(await decodeImage(join(TINY, "dog.jpg"), classifier.metadata.preprocess)));
    classifier.dispose();
    assert.ok(Math.abs(probability - expected) < 1e-4, `page ${probability}, classify() ${expected}`);
    assert.match(dom, /data-label="dog"/);

    const shot = join(dir, "page.png");
    await chromium(["--window-size=900,520", `--screenshot=${shot}`, `${url}?photo=dog.jpg`]);
    assert.ok((await Deno.stat(shot)).size > 5000, "the screenshot shows a page");

    child.kill("SIGINT");
    const status = await child.status;
    const rest = [];
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      rest.push(value);
    }
    await child.stderr.cancel();
    assert.equal(status.code, 0);
    assert.match(rest.join(""), /stopped/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "the page makes a colour model's record (INTER_AREA, R, G, B) as the pipeline does, and answers as classify(), flip-averaged",
  ignore: CHROMIUM === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "serve_colour_test" });
    await initBackend("wasm");
    const { test } = await makeLabelledCache(dir, { train: 80, test: 8, width: 90, height: 60, seed: 21 }, {
      params: { size: 16, channels: 3, resizeKernel: "opencv-area" },
    });
    const model = join(dir, "model");
    // Flip averaging on: the page must average the photo's and its mirror image's answers, as classify() does.
    await train(
      makeTrainConfig({ data: join(dir, "cache"), out: model, hidden: [8], epochs: 2, batchSize: 16, tta: "flip" }),
    );
    // A photo whose halves differ (its left third painted black), so that it and its mirror image get other answers.
    const sharp = await loadSharp();
    const { data, info } = await sharp(join(dir, test[0].path)).raw().toBuffer({ resolveWithObject: true });
    for (let y = 0; y < info.height; y++) {
      data.fill(0, y * info.width * 3, (y * info.width + Math.floor(info.width / 3)) * 3);
    }
    await Deno.writeFile(join(model, "photo.jpg"), await sharp(data, { raw: info }).jpeg({ quality: 95 }).toBuffer());
    const server = await startServer({ model, port: 0 });
    try {
      const { stdout } = await headless(dir, [
        "--virtual-time-budget=30000",
        "--dump-dom",
        `${server.url}?photo=photo.jpg&record=1`,
      ]);
      const probability = Number(/id="result-0"[^>]*data-probability="([^"]+)"/.exec(stdout)?.[1]);
      const record = JSON.parse(/<pre id="record-0">([^<]+)<\/pre>/.exec(stdout)?.[1] ?? "[]") as number[];
      const classifier = await loadClassifier(model);
      const photo = join(model, "photo.jpg");
      assert.equal(record.length, 16 * 16 * 3);
      assert.deepEqual(record, Array.from(await decodeImage(photo, classifier.metadata.preprocess)));
      const expected = (await classifier.classify(photo)).probability;
      // The mirror image alone answers otherwise: the page's answer tells whether it averaged the two.
      const stored = await decodeImage(photo, classifier.metadata.preprocess);
      const { model: layers } = await loadLayersModel(model);
      const [own, mirror] = tf.tidy(() =>
        Array.from(
          (layers.predict(tf.tensor2d([...stored, ...mirrored(stored, 16, 3)], [2, 768])) as tf.Tensor).dataSync(),
        )
      );
      layers.dispose();
      assert.ok(Math.abs(own - mirror) > 1e-3, `the photo and its mirror answer alike (${own}, ${mirror})`);
      assert.ok(Math.abs(expected - (own + mirror) / 2) < 1e-5);
      classifier.dispose();
      assert.ok(Math.abs(probability - expected) < 1e-4, `page ${probability}, classify() ${expected}`);
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
