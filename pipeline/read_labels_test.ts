import assert from "node:assert/strict";
import { join } from "node:path";
import { LabelCsvError, parseLabels, readLabels } from "./read_labels.ts";

Deno.test("parseLabels() reads path,label CSVs relative to the CSV's folder", () => {
  const rows = parseLabels("path,label\nimages/a.jpg,1\nimages/b.jpg,0\n", { csvPath: "/data/set/train.csv" });
  assert.deepEqual(rows.map((r) => [r.line, r.path, r.label]), [
    [2, "/data/set/images/a.jpg", 1],
    [3, "/data/set/images/b.jpg", 0],
  ]);
});

Deno.test("parseLabels() resolves the course's /dataSet/ paths against --root and reads 1.0/0.0 labels", () => {
  const rows = parseLabels("imgName,label\n/dataSet/train_000001.jpg,0.0\n/dataSet/train_000002.jpg,1.0\n", {
    csvPath: "/course/hw4/train.csv",
    root: "/course",
  });
  assert.deepEqual(rows.map((r) => [r.source, r.path, r.label]), [
    ["/dataSet/train_000001.jpg", "/course/dataSet/train_000001.jpg", 0],
    ["/dataSet/train_000002.jpg", "/course/dataSet/train_000002.jpg", 1],
  ]);
});

Deno.test("parseLabels() handles a BOM, CRLF, quoted fields and non-ASCII names", () => {
  const text = '\ufeffpath,label\r\n"dir, with comma/chien ""été"".jpg",1\r\n狗/图片.png,0\r\n';
  const rows = parseLabels(text, { csvPath: "/d/x.csv" });
  assert.deepEqual(rows.map((r) => [r.line, r.source, r.label]), [
    [2, 'dir, with comma/chien "été".jpg', 1],
    [3, "狗/图片.png", 0],
  ]);
});

Deno.test("parseLabels() takes column names from the header, in any order and with custom names", () => {
  const rows = parseLabels("class,id,file_name\ndog,7,a.jpg\nnot_dog,8,b.jpg\n", {
    csvPath: "/d/x.csv",
    pathColumn: "file_name",
    labelColumn: "class",
    classes: ["not_dog", "dog"],
  });
  assert.deepEqual(rows.map((r) => [r.source, r.label]), [["a.jpg", 1], ["b.jpg", 0]]);
});

Deno.test("parseLabels() flags bad labels, duplicate paths and short rows with their line", () => {
  const rows = parseLabels("path,label\na.jpg,1\nb.jpg,2\na.jpg,0\nc.jpg\nd.jpg,yes\ne.jpg,\n", {
    csvPath: "/d/x.csv",
  });
  assert.equal(rows[0].problem, undefined);
  assert.match(rows[1].problem!, /bad label "2"/);
  assert.equal(rows[1].line, 3);
  assert.match(rows[2].problem!, /duplicate path: same image as line 2/);
  assert.match(rows[3].problem!, /expected 2 columns, found 1/);
  assert.match(rows[4].problem!, /bad label "yes"/);
  assert.match(rows[5].problem!, /bad label ""/);
  assert.ok(rows.slice(1).every((r) => r.label === null));
});

Deno.test("parseLabels() rejects an empty CSV, a header-only CSV and a missing column by name", () => {
  assert.throws(
    () => parseLabels("", { csvPath: "e.csv" }),
    (e) => e instanceof LabelCsvError && /e.csv is empty/.test(e.message),
  );
  assert.throws(() => parseLabels("path,label\n", { csvPath: "h.csv" }), /h.csv has a header but no data rows/);
  assert.throws(
    () => parseLabels("name,label\na.jpg,1\n", { csvPath: "m.csv" }),
    /m.csv line 1: no path column .* in header "name,label"; name it with pathColumn/,
  );
  assert.throws(() => parseLabels("path,class\na.jpg,1\n", { csvPath: "m.csv" }), /no label column \("label"\)/);
});

Deno.test("readLabels() reports the CSV's sha256 and names a missing file", async () => {
  const dir = await Deno.makeTempDir();
  const csv = join(dir, "train.csv");
  await Deno.writeTextFile(csv, "path,label\na.jpg,1\n");
  const table = await readLabels(csv);
  assert.equal(table.sha256.length, 64);
  assert.equal(table.rows[0].path, join(dir, "a.jpg"));
  await assert.rejects(() => readLabels(join(dir, "nope.csv")), /Cannot read .*nope.csv/);
  await Deno.remove(dir, { recursive: true });
});
