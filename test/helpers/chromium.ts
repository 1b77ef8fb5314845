// Render a self-contained HTML report in headless Chromium (Debian's `chromium`) and read what its charts drew.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

/** A `describe` option: skip (with the reason) where Chromium is not installed. */
export const needsChromium = { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (apt-get install chromium); browser check skipped` };

export interface RenderedPage {
  /** The DOM after the page's scripts ran. */
  dom: string;
  /** The opening <body> tag, where the drawing script records data-charts-drawn / -inked / data-chart-error. */
  body: string;
  /** Painted pixels of each chart canvas (data-painted). */
  painted: number[];
}

/** Write `html` to a temporary file, load it in headless Chromium, and return the DOM its scripts left. */
export async function renderInChromium(html: string): Promise<RenderedPage> {
  const dir = mkdtempSync(join(tmpdir(), 'scalpel-chromium-'));
  try {
    const file = join(dir, 'page.html');
    writeFileSync(file, html);
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--no-first-run',
      '--no-default-browser-check',
      '--mute-audio',
      `--user-data-dir=${join(dir, 'profile')}`,
      '--window-size=1280,2400',
      '--virtual-time-budget=10000',
    ];
    const dom = await new Promise<string>((resolve, reject) => {
      execFile(CHROMIUM, [...flags, '--dump-dom', pathToFileURL(file).href], { timeout: 90_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`chromium failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const body = dom.match(/<body[^>]*>/)?.[0] ?? '';
    const painted = [...dom.matchAll(/data-painted="(\d+)"/g)].map((m) => Number(m[1]));
    return { dom, body, painted };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Render `html` and assert that its `charts` charts all drew, each with painted pixels, and that `<script>alert` markup stayed text. */
export async function assertChartsDrawn(html: string, charts: number): Promise<void> {
  const { dom, body, painted } = await renderInChromium(html);
  assert.doesNotMatch(body, /data-chart-error/, body);
  assert.match(body, new RegExp(`data-charts-drawn="${charts}"`), body);
  assert.match(body, new RegExp(`data-charts-inked="${charts}"`), body);
  assert.equal(painted.length, charts);
  for (const p of painted) assert.ok(p > 5000, `a chart canvas has only ${p} painted pixels`);
  assert.ok(!dom.includes('<script>alert'), 'the injected markup stayed text');
}
