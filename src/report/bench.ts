// Text report for `bench`.
import type { BenchReport, Timing } from '../analysis/bench.js';
import { int, ms, table } from './format.js';

/**
 * Render a bench report as text.
 *
 * @example process.stdout.write(benchText(await benchModel(model, data), 'mlp.onnx'));
 */
export function benchText(r: BenchReport, source: string): string {
  const lines: string[] = [];
  lines.push(
    `${source}: batch ${r.batch ?? '?'}, ${r.iters} timed runs after ${r.warmup} warm-up, ` +
      `threads ${r.threads ?? 'default'}, provider ${r.provider ?? 'default'}`,
  );
  lines.push(`backward: d ${r.objective} / d ${int(r.parameters)} parameters in ${r.parameterTensors} tensors\n`);
  const row = (name: string, t: Timing) => [name, ms(t.medianMs), ms(t.meanMs), ms(t.minMs), ms(t.maxMs)];
  lines.push(
    table(
      [{ header: 'pass' }, { header: 'median', right: true }, { header: 'mean', right: true }, { header: 'min', right: true }, { header: 'max', right: true }],
      [row('forward', r.forward), row('forward+backward', r.forwardBackward)],
    ),
  );
  lines.push(`forward+backward / forward: ${r.ratio.toFixed(2)}x\n`);
  return lines.join('\n');
}
