// Flag parsers shared by commands. The exit-status rule lives here: a flag value that does not parse is a usage error
// (commander's InvalidArgumentError, exit status 2), raised by one of these parsers as the flags are read; a value that
// parses but does not fit the model or the data (a class the model lacks, a budget above its parameter count, a
// missing or corrupt file) is the library's to refuse, with a plain Error (exit status 1).
import { InvalidArgumentError } from 'commander';
import { parseNorm } from '../corruption/norms.js';
import { parseCount, splitList } from '../data/count.js';
import { parseDefenderSpec } from '../defence/defender-data.js';
import { parseTrigger } from '../data/triggers.js';
import { parseSelector } from '../params/select.js';

/** A whole number >= `min`. */
export function integer(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected a whole number${min > 0 ? ` of at least ${min}` : min === 0 ? ' of at least 0' : ''}, got '${value}'`);
    }
    return n;
  };
}

/** The losses `grad` and `bench` can fuse onto a model. */
export const LOSSES = ['cross-entropy', 'mse', 'kl'] as const;

/** A real number in [min, max]. */
export function real(min: number, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got '${value}'`);
    }
    return n;
  };
}

/** A real number > 0. */
export function positive(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got '${value}'`);
  return n;
}

/** A norm p ≥ 1: a number, or inf (also infinity, max, ∞). */
export function norm(value: string): number {
  const p = parseNorm(value);
  if (p === undefined || p < 1) throw new InvalidArgumentError(`expected a norm p ≥ 1 such as inf, 2 or 1, got '${value}'`);
  return p;
}

/**
 * A flag value checked by a library parser (a trigger spec, a grouping, …): the parser's error becomes a usage error
 * (exit status 2); the value itself is kept as given.
 *
 * @example cmd.option('--by <grouping>', 'vulnerability map', checkedBy((v) => parseGrouping(v)))
 */
export function checkedBy(parse: (value: string) => unknown): (value: string) => string {
  return (value) => {
    try {
      parse(value);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
    return value;
  };
}

/**
 * A comma-separated list, split once (`splitList`) and each item parsed by `item`; any item's error is a usage error.
 *
 * @example cmd.option('--eps <list>', 'corruption lengths', listOf(positive))
 */
export function listOf<T>(item: (value: string) => T): (value: string) => T[] {
  return (value) => {
    let items: string[];
    try {
      items = splitList(value);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
    return items.map((s) => {
      try {
        return item(s);
      } catch (e) {
        throw new InvalidArgumentError(e instanceof InvalidArgumentError ? `${e.message} (in '${value}')` : (e as Error).message);
      }
    });
  };
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    const v = value.trim() as T;
    if (!choices.includes(v)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${value}'`);
    return v;
  };
}

/**
 * A count as `parseCount` (src/data/count.ts) reads it: `100`, `0.001`, `1%` or `all`. A plain number comes back as a
 * number, a percentage or `all` as text: a share is resolved against the size of the set it counts in, which the
 * library knows.
 */
export function count(value: string): number | string {
  let c;
  try {
    c = parseCount(value, 'count');
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return c.kind === 'all' ? 'all' : c.kind === 'fraction' && c.percent ? value.trim() : c.kind === 'count' ? c.n : c.fraction;
}

/** A parameter selector (`scalpel help params`), checked when the flags are parsed. */
export const selector = checkedBy(parseSelector);

/**
 * A trigger in the language of `scalpel help triggers`. Its syntax is checked here; a `file:PATH` trigger's file is
 * read by the command (a missing or corrupt file is bad input, exit status 1).
 */
export const trigger = checkedBy((v) => {
  const t = v.trim();
  if (t.startsWith('file:')) {
    if (t === 'file:') throw new Error(`bad trigger '${v}': file: needs a path, e.g. file:reconstructed/label-0.safetensors`);
    return;
  }
  parseTrigger(t);
});

/** inject's --pattern: trigger:SPEC (syntax checked as `trigger`) or examples:FILE. */
export const pattern = checkedBy((v) => {
  const t = v.trim();
  if (t.startsWith('trigger:')) return trigger(t.slice('trigger:'.length));
  if (t.startsWith('examples:') && t.length > 'examples:'.length) return;
  throw new Error(`expected trigger:SPEC (e.g. trigger:patch:4x4@bottom-right:white) or examples:FILE, got '${v}'`);
});

/** locate's --errors: misclassified, or trigger:FILE (a reconstructed trigger; patch:/blend: specs also accepted). */
export const errorSource = checkedBy((v) => {
  const t = v.trim();
  if (t === 'misclassified') return;
  if (t.startsWith('trigger:') && t.length > 'trigger:'.length) {
    const spec = t.slice('trigger:'.length);
    return /^(patch|blend):/.test(spec) ? trigger(spec) : undefined;
  }
  throw new Error(`expected 'misclassified' or 'trigger:FILE', got '${v}'`);
});

/** --defender-data: a count or share of the training split (as `count`), or a file. */
export const defenderData = checkedBy(parseDefenderSpec);
