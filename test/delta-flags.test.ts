// The editing commands' deltas: probe --save-delta (the worst corruption as a file), train --from --params --delta.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli } from './helpers/cli.js';
import type { ProbeReport } from '../src/corruption/probe.js';
import type { DiffReport } from '../src/params/diff.js';
import { changedCount } from '../src/params/delta.js';
import { readDelta } from '../src/params/delta-file.js';

const LENET = 'models/lenet5-fashion.onnx';
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-delta-flags-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('probe --save-delta writes the worst corruption; applied, it scores what the probe measured', async () => {
  const delta = join(dir, 'worst.safetensors');
  const p = await cli(['probe', LENET, '--eps', '0.03', '--n', '300', '--norm', 'inf', '--method', 'gradient', '--save-delta', delta, '--json']);
  assert.equal(p.code, 0, p.stderr);
  const record = (JSON.parse(p.stdout) as ProbeReport).records[0];
  const d = await readDelta(delta);
  assert.equal(changedCount(d), record.changed);
  assert.match(d.metadata.command, /^scalpel probe /);
  const corrupted = join(dir, 'worst.onnx');
  assert.equal((await cli(['apply', LENET, delta, '-o', corrupted])).code, 0);
  const e = await cli(['eval', corrupted, '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal((JSON.parse(e.stdout) as { accuracy: number }).accuracy, record.accuracy);
  const bad = await cli(['probe', LENET, '--eps', '0.01,0.03', '--n', '10', '--norm', 'inf', '--save-delta', join(dir, 'x.safetensors')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--save-delta saves the gradient-based corruption of one setting/);
});

test('train --from --params fine-tunes one layer only, and --delta records exactly that change', async () => {
  const out = join(dir, 'tuned.onnx');
  const delta = join(dir, 'tuned.safetensors');
  const t = await cli([
    'train',
    '--from',
    LENET,
    '--params',
    'layer:fc3',
    '--epochs',
    '1',
    '--validation',
    '0',
    '--lr',
    '0.01',
    '-o',
    out,
    '--delta',
    delta,
    '--json',
  ]);
  assert.equal(t.code, 0, t.stderr);
  const d = await cli(['diff', LENET, out, '--json']);
  const report = JSON.parse(d.stdout) as DiffReport;
  assert.deepEqual(
    report.byLayer.filter((l) => l.changed > 0).map((l) => l.group),
    ['fc3'],
  );
  assert.equal(changedCount(await readDelta(delta)), report.changed);
  const noFrom = await cli(['train', '--model', 'mlp', '-o', join(dir, 'm.onnx'), '--delta', join(dir, 'm.safetensors')]);
  assert.equal(noFrom.code, 2);
});
