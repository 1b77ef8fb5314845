// Flag parsers shared by commands: they reject bad values as usage errors (exit status 2).
import { InvalidArgumentError } from 'commander';
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

/** A parameter selector (`scalpel help params`), checked when the flags are parsed. */
export function selector(value: string): string {
  try {
    parseSelector(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return value;
}
