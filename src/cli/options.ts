// Flag parsers shared by commands: they reject bad values as usage errors (exit status 2).
import { InvalidArgumentError } from 'commander';
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

/**
 * A flag value checked by a library parser (a trigger spec, a grouping, …): the parser's error becomes a usage error
 * (exit status 2); the value itself is kept as given.
 *
 * @example cmd.option('--trigger <spec>', 'backdoor trigger', checkedBy(parseTrigger))
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
 * A trigger spec, checked when the flags are parsed; a `file:` trigger's file is read when the command runs, so that a
 * missing or corrupt file is a failure (exit status 1), not a usage error.
 */
export const triggerSpec = checkedBy((v) => (/^file:\S/.test(v.trim()) ? v : parseTrigger(v)));

/** A parameter selector (`scalpel help params`), checked when the flags are parsed. */
export const selector = checkedBy(parseSelector);
