/**
 * Command-line entry points: each command declares its flags once, in a table, and the
 * parser options, the help text, the value checks and the mapping of library errors
 * back to flags all derive from that table.
 *
 * Exit codes: 0 done; 2 a usage error (unknown flag, missing or malformed value, or a
 * library {@linkcode OptionError} about a flagged option), with the help text; 1 for
 * anything else. An unexpected JavaScript error (TypeError, ReferenceError) is a bug:
 * it is shown with its stack, never dressed as a usage error.
 *
 * @example A command
 * ```ts ignore
 * const COMMAND = defineCommand({
 *   usage: "deno task thing --in FILE [options]",
 *   flags: { in: { type: "string", value: "FILE", help: "input file", required: true } },
 * });
 * await runCli(COMMAND, async (flags) => console.log(flags.string("in")));
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { OptionError, optionNames, OptionNamingError, renderOptionNames } from "./errors.ts";

/** One flag. */
export interface FlagSpec {
  /** `string` takes a value, `boolean` is a switch. */
  type: "string" | "boolean";
  /** The value's placeholder in the help text ("N", "DIR"). */
  value?: string;
  /** Help text; `\n` starts a continuation line. */
  help: string;
  /** May be given more than once (values collected in order). */
  multiple?: boolean;
  /** One-letter alias. */
  short?: string;
  /** Must be given. */
  required?: boolean;
  /** The library option this flag sets, when it is not the flag's name in camelCase. */
  option?: string;
}

/** A command: how it is called, what it does, its flags. */
export interface CommandSpec {
  /** The usage line after "Usage: ". */
  usage: string;
  /** Paragraph(s) between the usage line and the options. */
  description?: string;
  /** Flags by name (without the leading dashes); `help` is added. */
  flags: Record<string, FlagSpec>;
  /** Name of the positional arguments in messages ("IMAGE"), when the command takes any. */
  positionals?: string;
}

/** A usage mistake found by the command-line layer itself. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Returns the command with the `--help` flag added (every command has it). */
export function defineCommand(spec: CommandSpec): CommandSpec {
  return { ...spec, flags: { ...spec.flags, help: { type: "boolean", short: "h", help: "this text" } } };
}

/** The help text of a command, from its flag table. */
export function helpText(command: CommandSpec): string {
  const rows = Object.entries(command.flags).map(([name, flag]) => {
    const head = `${flag.short ? `-${flag.short}, ` : ""}--${name}${flag.value ? ` ${flag.value}` : ""}`;
    return [head, flag.help.split("\n")] as const;
  });
  const width = Math.min(26, Math.max(...rows.map(([head]) => head.length)) + 2);
  const lines = rows.flatMap(([head, help]) => {
    const first = head.length < width
      ? `  ${head.padEnd(width)}${help[0]}`
      : `  ${head}\n  ${" ".repeat(width)}${help[0]}`;
    return [first, ...help.slice(1).map((line) => `  ${" ".repeat(width)}${line}`)];
  });
  const description = command.description ? `\n\n${command.description}` : "";
  return `Usage: ${command.usage}${description}\n\nOptions:\n${lines.join("\n")}`;
}

/** Parsed flags with typed getters; absent flags read as undefined, so library defaults apply. */
export class ParsedFlags {
  /** Positional arguments. */
  readonly positionals: string[];
  #values: Record<string, string | boolean | string[] | undefined>;
  #command: CommandSpec;

  /** Wraps parseArgs' result. */
  constructor(
    command: CommandSpec,
    values: Record<string, string | boolean | string[] | undefined>,
    positionals: string[],
  ) {
    this.#command = command;
    this.#values = values;
    this.positionals = positionals;
  }

  #spec(name: string, type: FlagSpec["type"]): FlagSpec {
    const spec = this.#command.flags[name];
    if (!spec || spec.type !== type) throw new TypeError(`no ${type} flag --${name} is declared`);
    return spec;
  }

  /** A string flag's value. */
  string(name: string): string | undefined {
    this.#spec(name, "string");
    return this.#values[name] as string | undefined;
  }

  /** A repeatable string flag's values (empty when absent). */
  strings(name: string): string[] {
    this.#spec(name, "string");
    return (this.#values[name] as string[] | undefined) ?? [];
  }

  /** A boolean flag: true when given. */
  boolean(name: string): boolean {
    this.#spec(name, "boolean");
    return this.#values[name] === true;
  }

  /** An integer flag's value. */
  integer(name: string): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    if (!/^\s*-?\d+\s*$/.test(text)) throw new UsageError(`--${name} must be an integer, got "${text}"`);
    return Number(text);
  }

  /** A number flag's value. */
  number(name: string): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value)) {
      throw new UsageError(`--${name} must be a number, got "${text}"`);
    }
    return value;
  }

  /** A comma-separated list flag's items (trimmed), or undefined. */
  list(name: string): string[] | undefined {
    return this.string(name)?.split(",").map((item) => item.trim());
  }
}

/** Parses `args` against the command's flag table; throws {@linkcode UsageError} for what does not fit it. */
export function parseFlags(command: CommandSpec, args: string[]): ParsedFlags {
  const options = Object.fromEntries(
    Object.entries(command.flags).map(([name, flag]) => [name, {
      type: flag.type,
      ...(flag.multiple ? { multiple: true } : {}),
      ...(flag.short ? { short: flag.short } : {}),
    }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: command.positionals !== undefined });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (!values.help) {
    const missing = Object.entries(command.flags).filter(([name, flag]) => flag.required && values[name] === undefined);
    if (missing.length > 0) {
      const names = missing.map(([name]) => `--${name}`);
      throw new UsageError(`${names.join(" and ")} ${names.length === 1 ? "is" : "are"} required`);
    }
  }
  return new ParsedFlags(command, values, parsed.positionals);
}

/** The flag of `command` that sets library option `option`, as `--name`, or the option name itself. */
export function flagFor(command: CommandSpec, option: string): string {
  const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const entry = Object.entries(command.flags).find(([name, flag]) => (flag.option ?? camel(name)) === option);
  return entry ? `--${entry[0]}` : option;
}

/** True when every option an error names has a flag of this command: then it is the user's to fix. */
function namesOnlyFlags(command: CommandSpec, template: string): boolean {
  return optionNames(template).every((option) => flagFor(command, option).startsWith("--"));
}

/** The exit code and message for an error thrown by a command's body. */
export function describeError(command: CommandSpec, error: unknown): { code: 1 | 2; message: string; usage: boolean } {
  if (error instanceof UsageError) return { code: 2, message: error.message, usage: true };
  if (error instanceof OptionNamingError) {
    const message = renderOptionNames(error.template, (option) => flagFor(command, option));
    const usage = error instanceof OptionError && namesOnlyFlags(command, error.template);
    return { code: usage ? 2 : 1, message, usage };
  }
  if (error instanceof TypeError || error instanceof ReferenceError) {
    // Our own code throws neither for bad input: this is a bug, and where it happened is what matters.
    return { code: 1, message: `${error.stack ?? error.message}\n(this is a bug: please report it)`, usage: false };
  }
  return { code: 1, message: error instanceof Error ? error.message : String(error), usage: false };
}

/**
 * Runs a command: parses `Deno.args` against its flag table, prints the help text for `--help`,
 * and turns a thrown error into one clear message on stderr and exit code 1 or 2.
 */
export async function runCli(command: CommandSpec, body: (flags: ParsedFlags) => Promise<void>): Promise<void> {
  try {
    const flags = parseFlags(command, Deno.args);
    if (flags.boolean("help")) return console.log(helpText(command));
    await body(flags);
  } catch (error) {
    const { code, message, usage } = describeError(command, error);
    console.error(`error: ${message}`);
    if (usage) console.error(`\n${helpText(command)}`);
    Deno.exit(code);
  }
}
