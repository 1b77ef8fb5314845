// `scalpel demo`: the README's main command, end to end on the shipped LeNet-5 and the embedded data.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../src/cli/main.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {} });
  return { code, stdout, stderr };
}

describe('scalpel demo', () => {
  let dir: string;
  let out: string;
  let r: Result;
  let html: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scalpel-demo-'));
    out = join(dir, 'report.html');
    r = await cli(['demo', '-o', out]);
    html = existsSync(out) ? readFileSync(out, 'utf8') : '';
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('exits 0 and writes the report where -o says', () => {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `wrote ${out}\n`);
    assert.ok(html.length > 100_000, 'the page, with Chart.js inlined');
  });

  test('prints the baseline, gradient against random at each ε, the most vulnerable kind, Theorem 1 and the path', () => {
    const lines = r.stdout.split('\n');
    assert.match(r.stdout, /^LeNet-5 \(models\/lenet5-fashion\.onnx, 61,706 parameters\) on 1,000 Fashion-MNIST test images$/m);
    const base = Number(r.stdout.match(/^baseline: accuracy (\d+\.\d+)%, loss \d/m)?.[1]);
    assert.ok(base > 85 && base < 95, `baseline accuracy ${base}%`);
    const row = (eps: string) => {
      const m = lines.find((l) => new RegExp(`^\\s+${eps.replace('.', '\\.')}\\s+\\d`).test(l))?.match(/(\d+\.\d+)%\s+(\d+\.\d+)%/);
      assert.ok(m, `no row for ε = ${eps} in\n${r.stdout}`);
      return { gradient: Number(m[1]), random: Number(m[2]) };
    };
    for (const eps of ['0.01', '0.03', '0.1', '0.3', '1']) row(eps);
    // The point of the demo: at the largest ε the worst case wrecks the model while random corruption barely moves it.
    const big = row('1');
    assert.ok(big.gradient < 50 && big.random > 70, `gradient ${big.gradient}% vs random ${big.random}% at ε = 1`);
    assert.ok(row('0.01').gradient > base - 5, 'small ε changes little');
    assert.match(
      r.stdout,
      /^most vulnerable kind of parameter \(100 of them, ε = 1\): (conv|fc|bias), accuracy \d+\.\d+% \((conv|fc|bias) \d+\.\d+%, (conv|fc|bias) \d+\.\d+%\)$/m,
    );
    assert.match(r.stdout, /^Theorem 1 \(all 61,706 parameters, p = 2, ε = 0\.1, 100 random trials\):$/m);
    assert.match(r.stdout, /random \|ΔL\| at the 99\.5% quantile .* \(theory .*\); gradient-based ΔL .*, \d+x more$/m);
  });

  test('the report holds the data: header, curves, the map by kind, Theorem 1, every record', () => {
    assert.ok(html.includes('models/lenet5-fashion.onnx'));
    assert.ok(html.includes('the embedded Fashion-MNIST subset, test split'));
    assert.ok(html.includes('Accuracy after corruption (p=∞, n=100)'));
    for (const kind of ['conv', 'fc', 'bias']) assert.ok(html.includes(`<th scope="row">${kind}</th>`), kind);
    assert.ok(html.includes('Theorem 1: random against worst-case corruption'));
    // 5 ε × (gradient + random) on all parameters, and 5 ε × 3 kinds.
    assert.ok(html.includes('All records (25)'));
    const charts = JSON.parse(html.match(/<script type="application\/json" id="probe-charts">(.*?)<\/script>/s)![1]) as {
      config: { data: { datasets: { label: string; data: { x: number; y: number }[] }[] } };
    }[];
    const grad = charts[0].config.data.datasets.find((d) => d.label === 'gradient-based')!;
    assert.deepEqual(
      grad.data.map((p) => p.x),
      [0.01, 0.03, 0.1, 0.3, 1],
    );
  });

  test('is listed in the help, and a missing output directory is an error', async () => {
    const help = await cli(['--help']);
    assert.match(help.stdout, /^\s+demo (\[options\])?\s+probe the shipped LeNet-5/m);
    const bad = await cli(['demo', '-o', join(dir, 'no', 'such', 'dir', 'x.html')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^scalpel: error: cannot write .* directory .* does not exist/);
  });
});
