// Gradient of a model's mean loss on a batch with respect to its parameters.
import { differentiate } from '../autodiff/differentiate.js';
import { writeSafetensors } from '../data/safetensors.js';
import { bindRecurrentDims } from '../onnx/bind-dims.js';
import { floatInitializers, type Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { type ParamSelector, parseSelector, selectParams } from '../params/select.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { type LossKind, withLoss } from '../train/losses.js';
import { checkFeeds } from './feeds.js';

export interface GradientOptions {
  /** Loss fused onto the model's output: 'cross-entropy' (default; int64 labels), 'mse' or 'kl' (float targets). */
  loss?: LossKind;
  /** Name of the label/target tensor in the data (default 'y'). */
  labels?: string;
  /** Differentiate only the floating-point initializers this selector (or list of names) picks (default: all of them). */
  params?: string | ParamSelector | readonly string[];
  /** The model output the loss is taken of (default: the first). */
  output?: string;
  /** Execution provider and threads for this computation. */
  runtime?: RuntimeOptions;
  /** Name of the data source, for messages. */
  source?: string;
}

export interface GradientStat {
  name: string;
  shape: number[];
  /** Number of elements. */
  count: number;
  /** L2 norm of the gradient. */
  norm: number;
  /** Largest absolute element. */
  maxAbs: number;
  /** Mean absolute element. */
  meanAbs: number;
  /** L2 norm of the parameter itself. */
  paramNorm: number;
  /** Elements that are NaN or infinite. */
  nonFinite: number;
}

export interface GradientReport {
  loss: number;
  lossKind: LossKind;
  /** The label/target tensor used. */
  labels: string;
  /** Leading dim of the first input. */
  batch?: number;
  /** Elements differentiated. */
  parameters: number;
  /** L2 norm of all gradients together. */
  totalNorm: number;
  tensors: GradientStat[];
  /** Data tensors that were neither model inputs nor the labels. */
  ignoredData: string[];
}

export interface GradientResult {
  report: GradientReport;
  /** Gradient of each selected initializer, keyed by initializer name, in model order. */
  gradients: Map<string, HostTensor>;
}

/**
 * The floating-point initializers a parameter selector picks (the selection language of `scalpel help params`:
 * `kind:conv,bias`, `layer:fc1`, globs, `/regex/`, `;`-joined clauses), running statistics included; all of them
 * when none is given.
 *
 * @example selectParameters(model, '/^fc2\\./'); // ['fc2.weight', 'fc2.bias']
 */
export function selectParameters(model: Model, params?: string | ParamSelector | readonly string[]): string[] {
  const all = floatInitializers(model.graph).map((i) => i.name);
  if (all.length === 0) throw new Error('model has no floating-point initializers to differentiate');
  if (params === undefined) return all;
  if (Array.isArray(params)) {
    const missing = params.filter((n) => !all.includes(n));
    if (missing.length) throw new Error(`not floating-point initializers of the model: ${missing.join(', ')}`);
    return [...params];
  }
  const sel = typeof params === 'string' ? parseSelector(params) : (params as ParamSelector);
  return selectParams(model, { trainableOnly: false, ...sel }).map((p) => p.name);
}

function stats(name: string, g: HostTensor, p: HostTensor): GradientStat {
  let sq = 0;
  let maxAbs = 0;
  let sumAbs = 0;
  let nonFinite = 0;
  let psq = 0;
  for (let i = 0; i < g.data.length; i++) {
    const v = Number(g.data[i]);
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    const a = Math.abs(v);
    sq += v * v;
    sumAbs += a;
    if (a > maxAbs) maxAbs = a;
  }
  for (let i = 0; i < p.data.length; i++) psq += Number(p.data[i]) ** 2;
  const count = g.data.length;
  return { name, shape: [...g.dims], count, norm: Math.sqrt(sq), maxAbs, meanAbs: count ? sumAbs / count : 0, paramNorm: Math.sqrt(psq), nonFinite };
}

/**
 * Gradient of the mean loss over a batch with respect to the model's floating-point initializers.
 * Every check (data names, dtypes and shapes against the model's inputs; the labels; gradient rules for
 * every op on the path) happens before anything runs.
 *
 * @example
 * const model = loadModel('test/fixtures/torch/mlp.onnx');
 * const { report, gradients } = await computeGradients(model, await loadData('test/fixtures/torch/mlp.safetensors'));
 * report.loss; gradients.get('fc1.weight');
 */
export async function computeGradients(model: Model, data: ReadonlyMap<string, HostTensor>, opts: GradientOptions = {}): Promise<GradientResult> {
  const kind = opts.loss ?? 'cross-entropy';
  const labels = opts.labels ?? 'y';
  const names = selectParameters(model, opts.params);
  const checked = checkFeeds(model, data, { source: opts.source, target: { name: labels, kind, output: opts.output } });
  const lossy = withLoss(bindRecurrentDims(model, checked.dims), { kind, target: labels, output: opts.output });
  const { model: promoted, values } = promoteToInputs(lossy.model, names);
  const { model: graph, gradients: outputs } = differentiate(promoted, { of: lossy.loss, wrt: names, keepOutputs: false });
  const exe = await compile(graph, opts.runtime);
  const res = await exe.run({ ...checked.feeds, [labels]: checked.target!, ...Object.fromEntries(values) }, [lossy.loss, ...outputs.values()]);

  const gradients = new Map<string, HostTensor>();
  const tensors: GradientStat[] = [];
  let total = 0;
  for (const name of names) {
    const g = res[outputs.get(name)!];
    gradients.set(name, g);
    const s = stats(name, g, values.get(name)!);
    tensors.push(s);
    total += s.norm * s.norm;
  }
  const report: GradientReport = {
    loss: Number(res[lossy.loss].data[0]),
    lossKind: kind,
    labels,
    batch: checked.batch,
    parameters: tensors.reduce((a, t) => a + t.count, 0),
    totalNorm: Math.sqrt(total),
    tensors,
    ignoredData: checked.ignored,
  };
  return { report, gradients };
}

/**
 * Write gradients as safetensors keyed by initializer name (atomically), with the loss in the metadata.
 *
 * @example await writeGradients('grads.safetensors', result);
 */
export async function writeGradients(path: string, result: GradientResult): Promise<void> {
  await writeSafetensors(path, result.gradients, {
    producer: 'scalpel grad',
    loss: String(result.report.loss),
    loss_kind: result.report.lossKind,
    ...(result.report.batch !== undefined ? { batch: String(result.report.batch) } : {}),
  });
}
