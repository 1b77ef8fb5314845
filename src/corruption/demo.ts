// The demo behind `scalpel demo`: probe the shipped LeNet-5 on the embedded test images, three ways.
import { fileURLToPath } from 'node:url';
import { loadModel } from '../analysis/load.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { loadProbeData, probe, type ProbeOptions, type ProbeReport } from './probe.js';

/** The LeNet-5 shipped with scalpel (models/ at the package root, from src/ or dist/ alike). */
export const DEMO_MODEL = fileURLToPath(new URL('../../models/lenet5-fashion.onnx', import.meta.url));

/**
 * The sweep: the max norm on 100 of LeNet-5's 61,706 parameters, ε from 0.01 to 1. On this model that spans
 * "nothing happens" to "gradient-based corruption destroys the classifier while random corruption barely moves it".
 */
export const SWEEP: ProbeOptions = { eps: [0.01, 0.03, 0.1, 0.3, 1], n: [100], norms: [Infinity], trials: 20 };
/** Theorem 1: random against gradient-based corruption of every parameter in the ℓ2 norm. */
export const THEOREM: ProbeOptions = { eps: [0.1], n: ['all'], norms: [2], trials: 100, methods: ['random'] };

export interface DemoOptions {
  runtime?: RuntimeOptions;
  onProgress?: (label: string, done: number, total: number) => void;
}

/**
 * The demo's probe: the ε sweep, the same sweep by kind of parameter, and the Theorem 1 check, merged in one report.
 *
 * @example const report = await runDemo(); writeFileSync('demo.html', probeHtml(report));
 */
export async function runDemo(opts: DemoOptions = {}): Promise<ProbeReport> {
  const started = performance.now();
  const model = loadModel(DEMO_MODEL);
  const { data, grad } = await loadProbeData(model, { split: 'test' });
  const common: ProbeOptions = {
    modelName: 'models/lenet5-fashion.onnx',
    dataset: data,
    gradDataset: grad,
    runtime: opts.runtime,
    onProgress: opts.onProgress,
  };
  const sweep = await probe(model, { ...common, ...SWEEP });
  const byKind = await probe(model, { ...common, ...SWEEP, by: 'kind' });
  const theorem = await probe(model, { ...common, ...THEOREM });
  const report: ProbeReport = {
    ...sweep,
    data: 'the embedded Fashion-MNIST subset, test split',
    groups: byKind.groups,
    records: [...sweep.records, ...byKind.records],
    ...(theorem.theorem1 ? { theorem1: theorem.theorem1 } : {}),
    settings: { ...sweep.settings, by: 'kind', seconds: (performance.now() - started) / 1000 },
  };
  return report;
}
