// Command-line parsing on Node's own util.parseArgs, with the checks every
// command shares: unknown options, numbers and their ranges, choices.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how the command was called: printed with the usage hint, exit code 2. */
export class UsageError extends Error {}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** One line for --help. */
  help: string;
  /** Shown in --help as the value's placeholder, e.g. FILE or N. */
  value?: string;
  default?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** Arguments after the options (e.g. WORD…), when the command takes any. */
  positionals?: { value: string; help: string };
  /** Extra paragraphs printed after the options. */
  notes?: string;
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const def = o.default !== undefined ? ` (default: ${o.default})` : '';
    return `  ${flag.padEnd(28)} ${o.help}${def}`;
  });
  const positionals = spec.positionals === undefined ? [] : ['', 'arguments:', `  ${spec.positionals.value.padEnd(28)} ${spec.positionals.help}`];
  const usage = `usage: netlab ${spec.name} [options]${spec.positionals === undefined ? '' : ` [${spec.positionals.value}]`}`;
  return [`netlab ${spec.name}: ${spec.summary}`, '', usage, ...positionals, '', 'options:', ...rows, '  --help                       show this help', spec.notes ? `\n${spec.notes}` : ''].join('\n');
}

/** A command line parsed: the options' values (defaults filled in) and the arguments after them. */
export interface ParsedCommand {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses argv for a command; unknown options, and arguments where the command takes none, are usage errors. */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedCommand | 'help' {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean' } };
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: spec.positionals !== undefined });
  } catch (error) {
    throw new UsageError(`${spec.name}: ${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
  if (parsed.values.help) return 'help';
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, o] of Object.entries(spec.options)) values[name] = (parsed.values[name] as string | boolean | undefined) ?? o.default;
  return { values, positionals: parsed.positionals };
}

/** A number option within [min, max] (either end excluded with `exclusiveMin` or `exclusiveMax`); `integer` demands a whole number. */
export function numberOption(
  command: string,
  name: string,
  raw: string | boolean | undefined,
  range: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean; exclusiveMax?: boolean },
): number {
  if (typeof raw !== 'string' || raw.trim() === '') throw new UsageError(`${command}: --${name} needs a value`);
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new UsageError(`${command}: --${name} must be a number, got '${raw}'`);
  if (range.integer && !Number.isInteger(value)) throw new UsageError(`${command}: --${name} must be a whole number, got '${raw}'`);
  if (range.min !== undefined && (range.exclusiveMin ? value <= range.min : value < range.min))
    throw new UsageError(`${command}: --${name} must be ${range.exclusiveMin ? '>' : '>='} ${range.min}, got ${raw}`);
  if (range.max !== undefined && (range.exclusiveMax ? value >= range.max : value > range.max))
    throw new UsageError(`${command}: --${name} must be ${range.exclusiveMax ? '<' : '<='} ${range.max}, got ${raw}`);
  return value;
}

/** A string option that must be one of `choices`. */
export function choiceOption<T extends string>(command: string, name: string, raw: string | boolean | undefined, choices: readonly T[]): T {
  if (typeof raw !== 'string' || !choices.includes(raw as T))
    throw new UsageError(`${command}: --${name} must be one of ${choices.join(', ')}, got '${String(raw)}'`);
  return raw as T;
}
