/**
 * The README and the manual stay true to the tree: every relative link in README.md and docs/*.md resolves to
 * a file (and to a heading, where it names an anchor), and every `deno task NAME` they show is a task in
 * deno.json.
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The Markdown files of the manual: README.md and docs/*.md, relative to the root. */
async function manualFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(join(ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  return files.sort();
}

/** GitHub's anchor for a heading: lower case, punctuation but hyphens and underscores dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors of a Markdown text's headings (repeats get GitHub's -1, -2 suffixes); code blocks are skipped. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const heading of headings(markdown)) {
    const base = headingAnchor(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

function headings(markdown: string): string[] {
  return withoutCode(markdown).split("\n").filter((line) => /^#{1,6} /.test(line)).map((line) =>
    line.replace(/^#+ /, "")
  );
}

function withoutCode(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "");
}

/** The relative link targets of a Markdown text (inline links and images), outside code blocks. */
export function relativeLinks(markdown: string): string[] {
  const targets = [...withoutCode(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
  return targets.filter((target) => !/^[a-z]+:/i.test(target));
}

Deno.test("headingAnchor() and relativeLinks() read Markdown as GitHub does", () => {
  assert.equal(
    headingAnchor("`--preset course` and the baseline's four bugs"),
    "--preset-course-and-the-baselines-four-bugs",
  );
  assert.equal(headingAnchor("Use the model from plain TensorFlow.js"), "use-the-model-from-plain-tensorflowjs");
  assert.deepEqual([...anchorsOf("# A\n```\n# not a heading\n```\n## A\n")], ["a", "a-1"]);
  assert.deepEqual(relativeLinks("[x](a.md#b) ![y](p.png) [z](https://e.org) `[q](code.md)`\n```\n[w](no.md)\n```"), [
    "a.md#b",
    "p.png",
    "code.md",
  ]);
});

Deno.test("every relative link in README.md and docs/ resolves to a file and, where named, a heading", async () => {
  const broken: string[] = [];
  for (const file of await manualFiles()) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const link of relativeLinks(text)) {
      const [path, anchor] = link.split("#");
      const target = path === "" ? file : normalize(join(dirname(file), decodeURIComponent(path)));
      const exists = await Deno.stat(join(ROOT, target)).then(() => true, () => false);
      if (!exists) {
        broken.push(`${file}: ${link}: no file ${target}`);
      } else if (anchor !== undefined && target.endsWith(".md")) {
        const anchors = anchorsOf(await Deno.readTextFile(join(ROOT, target)));
        if (!anchors.has(anchor)) broken.push(`${file}: ${link}: no heading #${anchor} in ${target}`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("every `deno task NAME` in README.md and docs/ is a task in deno.json", async () => {
  const tasks = new Set(Object.keys(JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks));
  const unknown: string[] = [];
  for (const file of await manualFiles()) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const [, name] of text.matchAll(/deno(?:@[\d.]+)? task (?:--quiet )?([a-z][\w-]*)/g)) {
      if (!tasks.has(name)) unknown.push(`${file}: deno task ${name}`);
    }
  }
  assert.deepEqual(unknown, []);
});
