// Text report for `grad`.
import type { GradientReport } from '../analysis/gradients.js';
import { int, num, shape, table } from './format.js';

/**
 * Render a gradient report as text: the loss, then one line per parameter tensor.
 *
 * @example process.stdout.write(gradientsText(result.report, 'grads.safetensors'));
 */
export function gradientsText(r: GradientReport, out: string): string {
  const lines: string[] = [];
  lines.push(`loss (${r.lossKind}, mean over ${r.batch ?? '?'} examples, labels '${r.labels}'): ${num(r.loss, 6)}`);
  lines.push(`gradients of ${int(r.parameters)} parameters in ${r.tensors.length} tensors, total norm ${num(r.totalNorm)}\n`);
  lines.push(
    table(
      [
        { header: 'tensor' },
        { header: 'shape' },
        { header: 'norm', right: true },
        { header: 'max |g|', right: true },
        { header: 'mean |g|', right: true },
        { header: '|g|/|w|', right: true },
      ],
      r.tensors.map((t) => [t.name, shape(t.shape), num(t.norm), num(t.maxAbs), num(t.meanAbs), t.paramNorm > 0 ? num(t.norm / t.paramNorm) : '-']),
    ),
  );
  const bad = r.tensors.filter((t) => t.nonFinite > 0);
  if (bad.length) lines.push(`warning: non-finite gradient values in ${bad.map((t) => `${t.name} (${t.nonFinite})`).join(', ')}\n`);
  return lines.join('\n');
}
