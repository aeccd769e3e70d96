import { QxError } from '../core/errors.js';

/** Parsed command line: positionals, repeated options as arrays, and boolean flags. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string[]>;
  flags: Set<string>;
}

export interface ArgSpec {
  /** Options that take a value (`--out FILE`, `-m X`); may repeat. Names without dashes. */
  valued?: string[];
  /** Options without a value. Names without dashes. */
  flags?: string[];
}

/**
 * A small parser in trec_eval's spirit: `-m X`, `-mX`, `--name X`, `--name=X`, flags `-q`, `--json`.
 * Unknown options are a usage error naming the option.
 */
export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const valued = new Set(spec.valued ?? []);
  const flagNames = new Set(spec.flags ?? []);
  const out: ParsedArgs = { positionals: [], options: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.positionals.push(a);
      continue;
    }
    const long = a.startsWith('--');
    let name = long ? a.slice(2) : a.slice(1, 2);
    let inline: string | undefined;
    if (long && name.includes('=')) {
      inline = name.slice(name.indexOf('=') + 1);
      name = name.slice(0, name.indexOf('='));
    } else if (!long && a.length > 2) {
      inline = a.slice(2);
    }
    if (flagNames.has(name) && inline === undefined) {
      out.flags.add(name);
    } else if (valued.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new QxError('usage', `option ${a} needs a value`);
      const list = out.options.get(name) ?? [];
      list.push(v);
      out.options.set(name, list);
    } else {
      throw new QxError('usage', `unknown option ${a}`);
    }
  }
  return out;
}

/** Last value of an option, or the default. */
export function opt(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = args.options.get(name);
  return v === undefined ? fallback : v[v.length - 1];
}

/** `--name` as an integer ≥ 1 (`fallback` when absent); anything else is a usage error. */
export function positiveIntOpt(args: ParsedArgs, name: string, fallback: number): number {
  const n = numOpt(args, name, fallback);
  if (!Number.isInteger(n) || n < 1) throw new QxError('usage', `--${name} must be a positive integer, got ${n}`);
  return n;
}

export function numOpt(args: ParsedArgs, name: string, fallback: number): number {
  const v = opt(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new QxError('usage', `--${name} must be a number, got "${v}"`);
  return n;
}
