// The probe's HTML report: self-contained, escaped, and (in headless Chromium, when installed) its charts really drawn.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertChartsDrawn, needsChromium } from './helpers/chromium.js';
import { assertSelfContained } from './helpers/html-page.js';
import type { ProbeRecord, ProbeReport } from '../src/corruption/probe.js';
import { probeHtml } from '../src/report/probe-html.js';
import { probeText } from '../src/report/probe.js';

const EVIL = '<script>alert("x")</script>&<b>';
const BASE = { loss: 0.35, accuracy: 0.88 };
const EPS = [1e-3, 1e-2, 1e-1, 1];

function rec(method: ProbeRecord['method'], eps: number, accuracy: number, extra: Partial<ProbeRecord> = {}): ProbeRecord {
  const loss = BASE.loss + (BASE.accuracy - accuracy) * 4;
  return { method, norm: 'inf', n: 100, eps, firstOrder: eps * 50, loss, lossChange: loss - BASE.loss, accuracy, changed: 100, ...extra };
}

/** Gradient-based and random corruption at four ε for (∞, 100) and (2, 1000), a vulnerability map by kind, and a Theorem 1 block. */
function fixture(): ProbeReport {
  const records: ProbeRecord[] = [];
  for (const [norm, n] of [
    ['inf', 100],
    [2, 1000],
  ] as const) {
    EPS.forEach((eps, i) => {
      records.push(rec('gradient', eps, [0.86, 0.7, 0.25, 0.1][i], { norm, n, changed: n }));
      const acc = [0.88, 0.879, 0.87, 0.8][i];
      records.push(
        rec('random', eps, acc, {
          norm,
          n,
          changed: n,
          trials: 20,
          firstOrder: eps * 0.5,
          quantiles: {
            loss: { q05: 0.35, q50: 0.351, q95: 0.36, max: 0.4 },
            accuracy: { q05: acc - 0.02, q50: acc, q95: Math.min(1, acc + 0.01), min: acc - 0.05 },
          },
        }),
      );
    });
  }
  // The bias group is smaller than n = 100: the probe clamps n to its 84 parameters.
  const groups: [string, number, number[]][] = [
    ['conv', 2550, [0.85, 0.6, 0.2, 0.1]],
    ['fc', 58920, [0.87, 0.8, 0.5, 0.2]],
    ['bias', 84, [0.88, 0.87, 0.8, 0.6]],
    [EVIL, 152, [0.88, 0.88, 0.88, 0.85]],
  ];
  for (const [group, size, accs] of groups)
    EPS.forEach((eps, i) => records.push(rec('gradient', eps, accs[i], { group, n: Math.min(100, size), nSpec: 100, changed: Math.min(100, size) })));
  return {
    model: `lenet${EVIL}.onnx`,
    data: 'embedded (test)',
    examples: 1000,
    baseline: BASE,
    params: { count: 61706, tensors: 10 },
    groups: groups.map(([group, count]) => ({ group, count, tensors: 2 })),
    records,
    theorem1: {
      k: 61706,
      eps: 1e-3,
      trials: 1000,
      G: 2.5,
      epsG: 2.5e-3,
      empirical: { q90: 1.6e-5, q95: 2e-5, q995: 3.1e-5 },
      theoretical: { q90: 1.66e-5, q95: 1.97e-5, q995: 2.8e-5 },
      firstOrder: { q90: 1.58e-5, q95: 1.99e-5, q995: 3e-5 },
      gradient: { lossChange: 2.6e-3 },
      examples: 1000,
    },
    settings: {
      eps: EPS,
      n: [100, 1000],
      norms: ['inf', 2],
      methods: ['gradient', 'random'],
      trials: 20,
      params: EVIL,
      by: 'kind',
      split: 'test',
      gradient: { data: 'embedded', split: 'train', examples: 1000, loss: 0.3 },
      trialExamples: 1000,
      batch: 1000,
      seed: 0,
    },
  };
}

describe('probeHtml', () => {
  const html = probeHtml(fixture());

  test('is one self-contained page: Chart.js inlined, nothing fetched', () => assertSelfContained(html));

  test('escapes every string from the report', () => {
    assert.ok(!html.includes(EVIL), 'raw markup from the report must not reach the page');
    assert.ok(html.includes('lenet&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;b&gt;.onnx'));
    // Only our three script elements open, and only they close.
    assert.equal(html.match(/<script/gi)?.length, 3);
    assert.equal(html.match(/<\/script/gi)?.length, 3);
  });

  test('has the header, the vulnerability map, the Theorem 1 table and every record', () => {
    assert.ok(html.includes('88.00%') && html.includes('61,706 in 10 tensors'));
    assert.match(html, /<table class="heat">/);
    for (const g of ['conv', 'fc', 'bias']) assert.ok(html.includes(`<th scope="row">${g}</th>`), g);
    assert.ok(html.includes('Theorem 1') && html.includes('99.5%'));
    assert.ok(html.includes(`All records (${fixture().records.length})`));
    // Heat cells coloured by accuracy lost: the conv group at ε=1 lost most of it (dark), bias at 1e-3 none (white).
    assert.match(html, /background:rgb\(255,245,240\);color:#111" title="bias, ε=0\.001, n=84:/);
    assert.ok(html.includes('the group has fewer parameters than n'), 'the clamped bias group is marked');
  });
});

describe('probeHtml in headless Chromium', needsChromium, () => {
  test('draws every chart with painted pixels', async () => {
    // Two (norm, n) settings, each an accuracy chart and a loss chart.
    await assertChartsDrawn(probeHtml(fixture()), 4);
  });
});

test("probeText: the Theorem 1 block sets the gradient-based ΔL against the trials' measured 99.5% quantile", () => {
  const m = probeText(fixture()).match(/measured ΔL = [^;]+; ([\d.]+)x the random trials' measured 99\.5% quantile/);
  assert.ok(m, 'the ratio line is printed');
  assert.ok(Math.abs(Number(m[1]) - 2.6e-3 / 3.1e-5) < 0.1, `ratio ${m[1]}`);
});

test('probeHtml: the ε axes are ticked at the swept ε (0.003, 0.01, 0.03 each get a label)', () => {
  const m = probeHtml(fixture()).match(/<script type="application\/json" id="[^"]*">(.*?)<\/script>/s);
  assert.ok(m, 'the chart specs are embedded');
  const specs = JSON.parse(m[1]) as { xTicks?: number[] }[];
  assert.ok(specs.length > 0);
  for (const s of specs) assert.deepStrictEqual(s.xTicks, EPS);
});

test('probeText: a group smaller than n is marked, and a note names the groups the larger-n tables leave out', () => {
  const text = probeText(fixture());
  assert.match(text, /^ {2}bias .*%\*/m);
  assert.match(text, /\* the group has fewer parameters than n, so all of them were corrupted; .* leave out bias/);
});
