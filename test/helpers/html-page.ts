// Checks every self-contained HTML report must pass.
import assert from 'node:assert/strict';

/** One page with Chart.js inlined and nothing fetched from anywhere. */
export function assertSelfContained(html: string): void {
  assert.match(html, /^<!DOCTYPE html>/);
  assert.ok(html.includes('Chart.js v4'), 'the Chart.js UMD build is inlined');
  assert.doesNotMatch(html, /<script[^>]+src=/i);
  assert.doesNotMatch(html, /<link[^>]+href=/i);
  assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i);
}
