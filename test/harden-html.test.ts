// The harden command's HTML report: self-contained, escaped, its content, its charts really drawn in headless Chromium
// (when installed), and `scalpel harden --html` writing it (and refusing a path it must not write) end to end.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertChartsDrawn, needsChromium } from './helpers/chromium.js';
import { assertSelfContained } from './helpers/html-page.js';
import { cli } from './helpers/cli.js';
import type { HardenComparisonRow, HardenReport, HardenSide } from '../src/corruption/harden.js';
import type { ProbeRecord } from '../src/corruption/probe.js';
import { hardenHtml } from '../src/report/harden-html.js';

const EVIL = '<script>alert("x")</script>&<b>';
const N = 61706;
const EPS2 = [0.25, 0.5, 1, 2];
const EPS_INF = [0.001, 0.002, 0.005, 0.01];

/** Accuracies at EPS2 then EPS_INF. */
const BASE_ACC = [0.7, 0.55, 0.35, 0.2, 0.72, 0.6, 0.3, 0.15];
const HARD_ACC = [0.74, 0.7, 0.6, 0.4, 0.75, 0.7, 0.55, 0.38];
const lossOf = (acc: number) => 0.4 + 4 * (0.8 - acc);

function side(clean: number, accs: number[]): HardenSide {
  const records: ProbeRecord[] = [...EPS2.map((eps) => [2, eps] as const), ...EPS_INF.map((eps) => ['inf', eps] as const)].map(([norm, eps], i) => ({
    method: 'gradient',
    norm,
    n: N,
    eps,
    firstOrder: eps * 3,
    loss: lossOf(accs[i]),
    lossChange: lossOf(accs[i]) - lossOf(clean),
    accuracy: accs[i],
    changed: N,
  }));
  return { clean: { accuracy: clean, loss: lossOf(clean) }, records, gradient: { examples: 1000, loss: lossOf(clean) }, params: { count: N, tensors: 10 } };
}

/** A fine-tuned LeNet-5 against its input under p = 2 and p = ∞ sweeps, every name carrying markup. */
function fixture(): HardenReport {
  const baseline = side(0.8, BASE_ACC);
  const hardened = side(0.79, HARD_ACC);
  const rows: HardenComparisonRow[] = baseline.records.map((b, i) => {
    const h = hardened.records[i];
    return {
      norm: b.norm,
      eps: b.eps,
      n: b.n,
      baseline: { accuracy: b.accuracy, loss: b.loss },
      hardened: { accuracy: h.accuracy, loss: h.loss },
      gain: h.accuracy - b.accuracy,
    };
  });
  return {
    out: `hard${EVIL}.onnx`,
    completed: true,
    steps: 168,
    trainExamples: 3600,
    history: [
      { epoch: 0, trainLoss: 0.9, trainObjective: 1.1, validationAccuracy: 0.75, validationLoss: 0.7 },
      { epoch: 1, trainLoss: 0.6, trainObjective: 0.8, validationAccuracy: 0.78, validationLoss: 0.6 },
      { epoch: 2, trainLoss: 0.5, trainObjective: 0.7, validationAccuracy: 0.7925, validationLoss: 0.55 },
    ],
    test: { examples: 1000, accuracy: 0.79, loss: lossOf(0.79), perClassAccuracy: [], confusion: [] },
    method: {
      kind: 'corruption',
      alpha: 0.5,
      eps: 0.2,
      p: 2,
      n: N,
      params: `all${EVIL}`,
      k: N,
      description: `L* = (1−α)L(w) + αL(w+â) with α = 0.5, ε = 0.2, p = 2, n = ${N} (all)`,
    },
    start: 'fine-tuned',
    comparison: {
      data: `data/${EVIL}/`,
      examples: 1000,
      baselineName: `base${EVIL}.onnx`,
      clean: { baseline: baseline.clean, hardened: hardened.clean, gain: hardened.clean.accuracy - baseline.clean.accuracy },
      rows,
      baseline,
      hardened,
      settings: { eps2: EPS2, epsInf: EPS_INF, n: 'all', split: 'test', method: 'gradient' },
    },
  };
}

interface Spec {
  id: string;
  xTicks?: number[];
  config: { data: { datasets: { label: string; data: { x: number; y: number }[] }[] }; options: { scales: { x: { type: string } } } };
}

/** The chart specs the page embeds. */
function specsOf(html: string): Spec[] {
  const m = html.match(/<script type="application\/json" id="harden-charts">(.*?)<\/script>/s);
  assert.ok(m, 'the chart specs are embedded');
  return JSON.parse(m[1]) as Spec[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

describe('hardenHtml', () => {
  const html = hardenHtml(fixture());

  test('is one self-contained page: Chart.js inlined, nothing fetched', () => assertSelfContained(html));

  test('escapes every string from the report', () => {
    assert.ok(!html.includes(EVIL), 'raw markup from the report must not reach the page');
    for (const s of [`hard${EVIL}.onnx`, `base${EVIL}.onnx`, `data/${EVIL}/`, `all${EVIL}`]) assert.ok(html.includes(esc(s)), s);
    // Only our three script elements open, and only they close.
    assert.equal(html.match(/<script/gi)?.length, 3);
    assert.equal(html.match(/<\/script/gi)?.length, 3);
  });

  test('names both models and the method, and gives both clean accuracies', () => {
    const title = `Hardened ${esc(`hard${EVIL}.onnx`)} against the baseline ${esc(`base${EVIL}.onnx`)}`;
    assert.ok(html.includes(`<h1>${title}</h1>`), 'the heading names both models');
    assert.ok(html.includes(`<title>scalpel harden: ${esc(`hard${EVIL}.onnx`)} against ${esc(`base${EVIL}.onnx`)}</title>`));
    assert.ok(html.includes('L* = (1−α)L(w) + αL(w+â) with α = 0.5, ε = 0.2, p = 2, n = 61706 (all)'), 'the method line');
    assert.ok(html.includes('baseline 80.00%, hardened 79.00% (−1.00 points)'), 'clean accuracy of both');
    assert.ok(html.includes('the input model fine-tuned'));
  });

  test('one accuracy-against-ε chart per norm, baseline and hardened, on a log ε axis ticked at the sweep', () => {
    const specs = specsOf(html);
    assert.equal(specs.length, 2);
    for (const [s, eps, accs] of [
      [specs[0], EPS2, [BASE_ACC.slice(0, 4), HARD_ACC.slice(0, 4)]],
      [specs[1], EPS_INF, [BASE_ACC.slice(4), HARD_ACC.slice(4)]],
    ] as const) {
      assert.equal(s.config.options.scales.x.type, 'logarithmic');
      assert.deepStrictEqual(s.xTicks, eps);
      const ds = s.config.data.datasets;
      assert.deepStrictEqual(
        ds.map((d) => d.label),
        [`baseline (base${EVIL}.onnx)`, `hardened (hard${EVIL}.onnx)`],
      );
      ds.forEach((d, i) =>
        assert.deepStrictEqual(
          d.data,
          eps.map((x, j) => ({ x, y: accs[i][j] })),
        ),
      );
      assert.ok(html.includes(`<canvas id="${s.id}">`));
    }
    assert.match(html, /p = 2, n = 61,706/);
    assert.match(html, /p = ∞, n = 61,706/);
  });

  test('the comparison table: clean, then each ε of each norm with the gain in points and the loss before and after', () => {
    const table = html.match(/<section id="comparison">.*?<\/section>/s)?.[0] ?? '';
    assert.ok(table.includes('<th>corruption</th><th>ε</th><th>baseline</th><th>hardened</th><th>gain (points)</th><th>loss before</th><th>loss after</th>'));
    const rows = [...table.matchAll(/<tr(?: class="(\w+)")?>(.*?)<\/tr>/g)]
      .slice(1)
      .map((m) => [m[1], ...[...m[2].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1])]);
    assert.equal(rows.length, 9);
    assert.deepStrictEqual(rows[0], ['clean', 'clean', '–', '80.00%', '79.00%', '−1.00', '0.4000', '0.4400']);
    // p = 2, ε = 1: 35% → 60%, loss 2.2 → 1.2.
    assert.deepStrictEqual(rows[3], ['up', 'p = 2', '1', '35.00%', '60.00%', '+25.00', '2.200', '1.200']);
    assert.deepStrictEqual(rows[8], ['up', 'p = ∞', '0.01', '15.00%', '38.00%', '+23.00', '3.000', '2.080']);
    const mean = HARD_ACC.reduce((a, h, i) => a + h - BASE_ACC[i], 0) / HARD_ACC.length;
    assert.ok(table.includes(`Mean accuracy gain under corruption +${(100 * mean).toFixed(2)} points`));
  });

  test('the training summary: epochs, steps, examples, validation accuracy', () => {
    const s = html.match(/<section id="training">.*?<\/section>/s)?.[0] ?? '';
    for (const fact of [
      '<dt>epochs</dt><dd>3</dd>',
      '<dt>steps</dt><dd>168</dd>',
      '<dt>training examples</dt><dd>3,600</dd>',
      '<dt>validation accuracy</dt><dd>79.25% (last epoch)</dd>',
    ]) {
      assert.ok(s.includes(fact), fact);
    }
    assert.equal(s.match(/<tr>/g)?.length, 4, 'a header row and one row per epoch');
  });

  test('without a baseline: the hardened model alone; without history or sweep: no empty sections', () => {
    const r = fixture();
    const hardened = r.comparison!.hardened;
    const alone = hardenHtml({ ...r, comparison: undefined, sweep: hardened, start: 'lenet5' });
    const specs = specsOf(alone);
    assert.equal(specs.length, 2);
    for (const s of specs)
      assert.deepStrictEqual(
        s.config.data.datasets.map((d) => d.label),
        [`hardened (hard${EVIL}.onnx)`],
      );
    assert.ok(alone.includes('give --baseline MODEL'));
    assert.ok(alone.includes('lenet5 trained from scratch'));
    assert.ok(!alone.includes(EVIL));
    const bare = hardenHtml({ ...r, comparison: undefined, history: [] });
    assert.deepStrictEqual(specsOf(bare), []);
    assert.ok(!bare.includes('id="training"') && !bare.includes('id="curves"') && !bare.includes('id="comparison"'));
    assert.ok(bare.includes('79.00%'), 'the test accuracy still shows');
  });
});

describe('hardenHtml in headless Chromium', needsChromium, () => {
  test('draws both charts with painted pixels', async () => {
    // One accuracy-against-ε chart per norm.
    await assertChartsDrawn(hardenHtml(fixture()), 2);
  });
});

describe('scalpel harden --html', () => {
  let dir: string;
  let base: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scalpel-harden-html-cli-'));
    base = join(dir, 'base.onnx');
    const b = await cli(['train', '--model', 'mlp', '--epochs', '1', '-o', base, '--json']);
    assert.equal(b.code, 0, b.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // A fast run: a small MLP fine-tuned for one epoch on the embedded subset, two ε per norm.
  const fast = ['--eps', '0.1', '--epochs', '1', '--sweep-eps2', '0.5,1', '--sweep-eps-inf', '0.005,0.01'];

  test('writes the page beside the model, with the numbers of the report', async () => {
    const d = join(dir, 'ok');
    mkdirSync(d);
    const out = join(d, 'hard.onnx');
    const page = join(d, 'report.html');
    const r = await cli(['harden', base, ...fast, '-o', out, '--html', page, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as HardenReport;
    const html = readFileSync(page, 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.ok(html.includes(`<h1>Hardened ${out} against the baseline ${base}</h1>`));
    const c = rep.comparison!;
    assert.ok(html.includes(`baseline ${(100 * c.clean.baseline.accuracy).toFixed(2)}%, hardened ${(100 * c.clean.hardened.accuracy).toFixed(2)}%`));
    assert.equal(specsOf(html).length, 2);
    assert.equal(c.rows.length, 4);
    for (const x of c.rows)
      assert.ok(
        html.includes(
          `<td>p = ${x.norm === 'inf' ? '∞' : x.norm}</td><td class="num">${x.eps}</td><td class="num">${(100 * x.baseline.accuracy).toFixed(2)}%</td><td class="num">${(100 * x.hardened.accuracy).toFixed(2)}%</td>`,
        ),
        JSON.stringify(x),
      );
    assert.ok(html.includes('<dt>epochs</dt><dd>1</dd>'));
    assert.deepStrictEqual(readdirSync(d).sort(), ['hard.onnx', 'report.html'], 'no temporary file left behind');

    // The text report, and a line on stderr saying where the page went.
    const page2 = join(d, 'again.html');
    const t = await cli(['harden', base, ...fast, '-o', join(d, 'hard2.onnx'), '--html', page2]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /mean accuracy gain under corruption/);
    assert.match(t.stderr, new RegExp(`^wrote .*${page2.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.ok(existsSync(page2));
  });

  test('refuses an --html path it must not write, with one clear error before any work', async () => {
    const d = join(dir, 'bad');
    mkdirSync(d);
    const out = join(d, 'hard.onnx');
    const before = readFileSync(base);
    const link = join(d, 'link.onnx');
    symlinkSync(base, link);
    const cases: [string[], number, RegExp][] = [
      [['--html', base], 1, /refusing to overwrite the input model file .*base\.onnx with the output \(--html .*base\.onnx\)/],
      [['--html', link], 1, /refusing to overwrite the input model file .*base\.onnx with the output \(--html/],
      [['--html', out], 2, /--html and -o name the same file/],
      [['--html', base, '--baseline', base], 1, /refusing to overwrite the input model file/],
      [['--html', join(d, 'base2.onnx'), '--baseline', join(d, 'base2.onnx')], 1, /refusing to overwrite the input baseline file .*base2\.onnx/],
      [['--html', join(d, 'nowhere', 'r.html')], 1, /cannot write .*r\.html: directory .*nowhere does not exist/],
      [['--html', d], 1, /cannot write .*: it is a directory/],
      [['--html', join(d, 'r.html'), '--no-sweep'], 2, /--html draws the comparison sweep/],
      [['--html', ''], 2, /--html needs a file name/],
    ];
    for (const [flags, code, re] of cases) {
      const r = await cli(['harden', base, ...fast, '-o', out, ...flags]);
      assert.equal(r.code, code, `${flags.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re, flags.join(' '));
      assert.doesNotMatch(r.stderr, /internal error|epoch/);
      assert.ok(!existsSync(out), 'no model written');
      assert.deepStrictEqual(readdirSync(d).sort(), ['link.onnx'], 'nothing written');
    }
    assert.ok(readFileSync(base).equals(before), 'the input model is untouched');
  });
});
