// The one count grammar (src/data/count.ts): what parses, how shares round, and what is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPlainCount, parseCount, resolveCount, splitList } from '../src/data/count.js';
import { resolveN } from '../src/corruption/closed-form.js';
import { resolveBudget } from '../src/surgery/budget.js';
import { parseDefenderSpec } from '../src/defence/defender-data.js';

test('counts, fractions, percentages and all, in any case', () => {
  assert.deepEqual(parseCount('100'), { kind: 'count', n: 100 });
  assert.deepEqual(parseCount(' 1% '), { kind: 'fraction', fraction: 0.01, percent: true });
  assert.deepEqual(parseCount('0.001'), { kind: 'fraction', fraction: 0.001, percent: false });
  assert.deepEqual(parseCount('ALL'), { kind: 'all' });
  assert.deepEqual(parseCount(7), { kind: 'count', n: 7 });
  assert.deepEqual(parseCount('1e2'), { kind: 'count', n: 100 });
  for (const bad of ['', '0', '-3', '1.5', 'abc', '0%', '120%', '%', 'NaN', 'Infinity'])
    assert.throws(() => parseCount(bad, 'n'), new RegExp(`n '${bad.replace(/[%.]/g, '\\$&')}' is not`), bad);
});

test('one rounding rule: shares round to the nearest count, at least 1; counts above k refused', () => {
  assert.equal(resolveCount('1%', 61706), 617);
  assert.equal(resolveCount('0.01', 61706), 617);
  assert.equal(resolveCount('0.0001', 10), 1);
  assert.equal(resolveCount('all', 42), 42);
  assert.equal(resolveCount('100%', 42), 42);
  assert.equal(resolveCount(0.5, 3), 2);
  assert.throws(() => resolveCount(43, 42, 'budget', 'parameters'), /budget 43 is more than the 42 parameters/);
  assert.throws(() => resolveCount(1, 0), /nothing to count/);
});

test('probe/harden n, inject budget and the defender share agree', () => {
  for (const v of ['10', '1%', '0.003', 'all', 'All', '0.16%']) {
    assert.equal(resolveN(v, 61706), resolveCount(v, 61706), v);
    assert.equal(resolveBudget(v, 61706), resolveCount(v, 61706), v);
  }
  assert.deepEqual(parseDefenderSpec('5%'), { kind: 'share', fraction: 0.05 });
  assert.deepEqual(parseDefenderSpec('0.05'), { kind: 'share', fraction: 0.05 });
  assert.deepEqual(parseDefenderSpec('3000'), { kind: 'share', count: 3000 });
  assert.equal(isPlainCount('100'), true);
  assert.equal(isPlainCount('100%'), false);
  assert.equal(isPlainCount('all'), false);
});

test('comma lists: split once, empty items refused', () => {
  assert.deepEqual(splitList(' 10, 1% ,all'), ['10', '1%', 'all']);
  assert.throws(() => splitList('10,,all', 'n'), /n: expected a comma-separated list without empty items/);
  assert.throws(() => splitList(' ', 'n'), /empty items/);
});
