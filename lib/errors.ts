/**
 * Errors that name a library call's options. A library message writes an option as
 * `{name}`; `message` shows it as the plain option name, and a command-line entry
 * point shows it as its own flag (`--name`), so library code never speaks of flags.
 * @module
 */

/** An option name marked in a template: `{name}`. */
const MARKED_OPTION = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

/** Replaces each `{option}` in `template` with `nameOf(option)`. */
export function renderOptionNames(template: string, nameOf: (option: string) => string): string {
  return template.replace(MARKED_OPTION, (_, option: string) => nameOf(option));
}

/** The options `template` names. */
export function optionNames(template: string): string[] {
  return [...template.matchAll(MARKED_OPTION)].map((match) => match[1]);
}

/** An error whose message names options as `{option}` (see the module doc). */
export class OptionNamingError extends Error {
  /** The message with its option names still marked. */
  readonly template: string;

  /** Creates the error from a template such as "Cannot write {out}: it holds a model; set {force}". */
  constructor(template: string, options?: ErrorOptions) {
    super(renderOptionNames(template, (option) => option), options);
    this.template = template;
    this.name = "OptionNamingError";
  }
}

/** A bad option value or combination: the caller's mistake, found before any work was done. */
export class OptionError extends OptionNamingError {
  /** Creates the error; see {@linkcode OptionNamingError}. */
  constructor(template: string, options?: ErrorOptions) {
    super(template, options);
    this.name = "OptionError";
  }
}

/** Throws an {@linkcode OptionError} unless `value` is an integer of at least `min`. */
export function requireInteger(option: string, value: number, min: number, max = Infinity): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    const range = max === Infinity
      ? (min === 1 ? "a positive integer" : `an integer >= ${min}`)
      : `an integer from ${min} to ${max}`;
    throw new OptionError(`{${option}} must be ${range}, got ${value}`);
  }
}

/** Throws an {@linkcode OptionError} unless `value` is one of `choices`. */
export function requireChoice<T extends string>(
  option: string,
  value: string,
  choices: readonly T[],
): asserts value is T {
  if (!choices.includes(value as T)) {
    throw new OptionError(
      `{${option}} must be ${choices.map((c) => `"${c}"`).join(", ").replace(/, ([^,]*)$/, " or $1")}, got "${value}"`,
    );
  }
}
