// scalpel probe end to end: the sweep and maps on small models and data, JSON and HTML files, and bad input.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, type CliResult } from './helpers/cli.js';
import type { ProbeReport } from '../src/corruption/probe.js';
import { buildModel } from '../src/models/index.js';
import { writeModel } from '../src/onnx/model-io.js';

type Result = CliResult;

let dir: string;
let lenet: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-probe-'));
  lenet = join(dir, 'lenet5.onnx');
  writeModel(buildModel('lenet5', { seed: 2 }), lenet);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('probe prints the ε × n × p sweep and writes JSON and HTML', async () => {
  const json = join(dir, 'sweep.json');
  const html = join(dir, 'sweep.html');
  const r = await cli(['probe', lenet, '--eps', '1e-2,0.1', '--n', '10,all', '--norm', 'inf,2', '--trials', '2', '--json', json, '--html', html]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /61,706 parameters in 10 tensors probed \(all\)/);
  assert.match(r.stdout, /gradient for the gradient-based corruption: .*\(train\), first 1,000 examples/);
  assert.match(r.stdout, /p = ∞, n = 10\n/);
  assert.match(r.stdout, /p = 2, n = 61,706/);
  assert.match(r.stdout, /random acc \(2 trials\)/);
  const report = JSON.parse(readFileSync(json, 'utf8')) as ProbeReport;
  assert.equal(report.records.length, 2 * 2 * 2 * 2);
  assert.equal(report.examples, 1000);
  assert.deepEqual(report.settings.norms, ['inf', 2]);
  assert.match(report.settings.command!, /^scalpel probe /);
  const g = report.records.find((x) => x.method === 'gradient' && x.norm === 'inf' && x.n === 61706 && x.eps === 0.1)!;
  const rnd = report.records.find((x) => x.method === 'random' && x.norm === 'inf' && x.n === 61706 && x.eps === 0.1)!;
  assert.ok(g.lossChange > rnd.lossChange, `gradient ΔL ${g.lossChange} vs random ${rnd.lossChange}`);
  assert.ok(readFileSync(html, 'utf8').trimStart().toLowerCase().startsWith('<!doctype html'));
});

test('probe --by kind maps vulnerability per group; --json alone prints JSON', async () => {
  const r = await cli(['probe', lenet, '--by', 'kind', '--eps', '0.05', '--n', '10,all', '--norm', 'inf']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Vulnerability by kind/);
  assert.match(r.stdout, /n = all \(of each group\)/);
  assert.match(r.stdout, /\n {2}conv +2,550 /);
  const j = await cli(['probe', lenet, '--by', 'layer', '--params', 'kind:conv', '--eps', '0.05', '--n', '10', '--norm', 'inf', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const report = JSON.parse(j.stdout) as ProbeReport;
  assert.deepEqual(
    report.groups!.map((x) => x.group),
    ['conv1', 'conv2'],
  );
  assert.deepEqual(
    report.records.map((x) => [x.group, x.method]),
    [
      ['conv1', 'gradient'],
      ['conv2', 'gradient'],
    ],
  );
});

test('probe runs on a PyTorch export with its own tensor file', async () => {
  const r = await cli([
    'probe',
    'test/fixtures/torch/lenet.onnx',
    '--data',
    'test/fixtures/torch/lenet.safetensors',
    '--eps',
    '0.1',
    '--n',
    '5',
    '--norm',
    'inf',
    '--trials',
    '2',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as ProbeReport;
  assert.equal(report.examples, 4);
  assert.equal(report.settings.split, 'file');
  assert.equal(report.settings.gradient.examples, 4);
});

const BAD: [string, string[], number, RegExp][] = [
  ['ε = 0', ['--eps', '0'], 2, /argument '0' is invalid. expected a number > 0, got '0'/],
  ['negative ε', ['--eps', '1e-3,-1e-3'], 2, /argument '1e-3,-1e-3' is invalid. expected a number > 0, got '-1e-3'/],
  ['ε not a number', ['--eps', 'big'], 2, /expected a number > 0/],
  ['n too large', ['--n', '61707'], 1, /n 61707 is more than the 61706 selected parameters/],
  ['n = 0', ['--n', '0'], 2, /argument '0' is invalid\. count '0' is not a count/],
  ['n above 100%', ['--n', '150%'], 2, /a percentage in \(0%, 100%\]/],
  ['n not a count', ['--n', 'many'], 2, /count 'many' is not a count/],
  ['p < 1', ['--norm', '0.5'], 2, /expected a norm p ≥ 1/],
  ['p not a number', ['--norm', 'two'], 2, /expected a norm/],
  ['unknown method', ['--method', 'gradient,guess'], 2, /expected one of gradient, random, got 'guess'/],
  ['selector matching nothing', ['--params', 'kind:embedding'], 1, /selector 'kind:embedding' matches no parameter; the model has: conv1\.weight/],
  ['bad grouping', ['--by', 'weather'], 2, /unknown grouping 'weather'/],
  ['empty group', ['--by', 'a=conv*;b=nothing*'], 1, /group 'b' matches no selected parameter/],
  ['data that does not fit', ['--data', 'test/fixtures/torch/resnet.safetensors'], 1, /do not fit the model input 'x'/],
  ['missing data', ['--data', 'no/such/dir'], 1, /data not found/],
  ['zero trials', ['--trials', '0'], 2, /at least 1/],
];
for (const [name, args, code, message] of BAD) {
  test(`probe refuses ${name} before any work, writing nothing`, async () => {
    const json = join(dir, `bad-${name.replace(/\W+/g, '-')}.json`);
    const html = json.replace(/\.json$/, '.html');
    const r = await cli(['probe', lenet, ...args, '--json', json, '--html', html]);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
    assert.equal(existsSync(json) || existsSync(html), false);
  });
}

test('probe refuses to overwrite its inputs and a missing model', async () => {
  const r = await cli(['probe', lenet, '--json', lenet]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refusing to overwrite the input model .*\(--json /);
  const h = await cli(['probe', lenet, '--html', lenet]);
  assert.match(h.stderr, /refusing to overwrite the input model .*\(--html /);
  const m = await cli(['probe', join(dir, 'absent.onnx')]);
  assert.equal(m.code, 1);
});
