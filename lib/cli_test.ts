import assert from "node:assert/strict";
import { defineCommand, describeError, flagFor, helpText, parseFlags, UsageError } from "./cli.ts";
import { OptionError, OptionNamingError } from "./errors.ts";

const COMMAND = defineCommand({
  usage: "deno task thing --in FILE [options]",
  description: "Does a thing.",
  flags: {
    in: { type: "string", value: "FILE", required: true, option: "input", help: "the input" },
    "batch-size": { type: "string", value: "N", help: "records per batch\nsecond line of help" },
    "no-standardize": { type: "boolean", option: "standardize", help: "leave pixels as they are" },
    csv: { type: "string", multiple: true, help: "repeatable" },
  },
});

Deno.test("helpText() lists every declared flag, help included, from the one table", () => {
  const text = helpText(COMMAND);
  assert.match(text, /^Usage: deno task thing --in FILE \[options\]\n\nDoes a thing\.\n\nOptions:\n/);
  for (const flag of ["--in FILE", "--batch-size N", "--no-standardize", "--csv", "-h, --help"]) {
    assert.ok(text.includes(flag), flag);
  }
  // A continuation line lines up under the first.
  const lines = text.split("\n");
  const first = lines.findIndex((l) => l.includes("records per batch"));
  assert.equal(lines[first + 1].indexOf("second"), lines[first].indexOf("records"));
});

Deno.test("parseFlags() reads typed values, and absent flags as undefined", () => {
  const flags = parseFlags(COMMAND, ["--in", "a.csv", "--batch-size", "32", "--csv", "x", "--csv", "y"]);
  assert.equal(flags.string("in"), "a.csv");
  assert.equal(flags.integer("batch-size"), 32);
  assert.deepEqual(flags.strings("csv"), ["x", "y"]);
  assert.equal(flags.boolean("no-standardize"), false);
  assert.equal(parseFlags(COMMAND, ["--in", "a"]).integer("batch-size"), undefined);
  assert.throws(() => flags.string("nope"), TypeError, "reading an undeclared flag is a bug");
});

Deno.test("parseFlags() refuses what does not fit the table with a UsageError", () => {
  const cases: [string[], RegExp][] = [
    [[], /--in is required/],
    [["--in", "a", "--bogus"], /Unknown option '--bogus'/],
    [["--in", "a", "stray"], /Unexpected argument 'stray'/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(COMMAND, args), (e) => e instanceof UsageError && message.test(e.message));
  }
  assert.throws(() => parseFlags(COMMAND, ["--in", "a", "--batch-size", "ten"]).integer("batch-size"), /an integer/);
  // --help needs no required flag.
  assert.equal(parseFlags(COMMAND, ["--help"]).boolean("help"), true);
});

Deno.test("describeError(): usage errors exit 2, library option errors speak in flags, bugs are not usage errors", () => {
  assert.equal(flagFor(COMMAND, "batchSize"), "--batch-size");
  assert.equal(flagFor(COMMAND, "input"), "--in");
  assert.equal(flagFor(COMMAND, "standardize"), "--no-standardize");
  assert.equal(flagFor(COMMAND, "elsewhere"), "elsewhere");

  assert.deepEqual(describeError(COMMAND, new UsageError("--in is required")), {
    code: 2,
    message: "--in is required",
    usage: true,
  });
  const option = new OptionError("{batchSize} must be a positive integer, got 0");
  assert.equal(option.message, "batchSize must be a positive integer, got 0");
  assert.deepEqual(describeError(COMMAND, option), {
    code: 2,
    message: "--batch-size must be a positive integer, got 0",
    usage: true,
  });
  // An option this command has no flag for is not the user's to fix here.
  assert.equal(describeError(COMMAND, new OptionError("{shardSize} must be positive")).code, 1);
  // A runtime failure that names an option in its hint: exit 1, the hint in flags.
  const failure = new OptionNamingError("line 3: file not found; rerun with {input} fixed");
  assert.deepEqual(describeError(COMMAND, failure), {
    code: 1,
    message: "line 3: file not found; rerun with --in fixed",
    usage: false,
  });
  // A TypeError from our own code is a bug: exit 1 with where it happened, never the usage text.
  const bug = describeError(COMMAND, new TypeError("x is not a function"));
  assert.equal(bug.code, 1);
  assert.equal(bug.usage, false);
  assert.match(bug.message, /x is not a function[\s\S]*at [\s\S]*this is a bug/);
  assert.deepEqual(describeError(COMMAND, new Deno.errors.NotFound("no such file")), {
    code: 1,
    message: "no such file",
    usage: false,
  });
});
