// Reverse-mode differentiation of an ONNX graph into a forward+backward ONNX graph of standard ops.
import { GraphBuilder, tensorValueInfo } from '../onnx/builder.js';
import { cloneModel, type Model, type Node, onnxOpset } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shapes.js';
import { GradContext } from './grad-context.js';
import { lowerRecurrent } from './lower-recurrent.js';
import { NOT_DIFFERENTIABLE, RULES } from './rules/index.js';

export interface DifferentiateOptions {
  /** The value to differentiate; a scalar loss, or any tensor (then its sum, unless `seed` is given). Default: the first graph output. */
  of?: string;
  /** Initializers, graph inputs or intermediate values to differentiate with respect to. */
  wrt: readonly string[];
  /** Name of a new graph input carrying d(result)/d(of), for vector-Jacobian products. */
  seed?: string;
  /** Keep the graph's existing outputs (default true); otherwise only `of` and the gradients are outputs. */
  keepOutputs?: boolean;
}

export interface Differentiated {
  model: Model;
  /** Graph output holding the gradient of each `wrt` value. */
  gradients: Map<string, string>;
}

/** Thrown before anything runs when the graph holds ops scalpel has no gradient rule for. */
export class UnsupportedOpError extends Error {
  constructor(
    readonly ops: { opType: string; node: string }[],
    readonly allUnsupported: string[],
  ) {
    const first = ops[0];
    super(`no gradient rule for op '${first.opType}' (node '${first.node}')` + `; ops without a rule in this model: ${allUnsupported.join(', ')}`);
  }
}

function ruleKey(n: Node): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;
}

/** Op types in the graph that have no gradient rule (and are not marked non-differentiable). */
export function unsupportedOps(model: Model): string[] {
  return [...new Set(model.graph.nodes.filter((n) => !(ruleKey(n) in RULES)).map(ruleKey))].sort();
}

/**
 * Differentiate `of` with respect to `wrt`, returning a new model whose outputs include the gradients.
 * The result is an ordinary ONNX model, so it can be differentiated again (gradients of gradients).
 *
 * @example
 * const { model, gradients } = differentiate(withLoss, { of: 'loss', wrt: ['fc.weight'] });
 */
export function differentiate(input: Model, opts: DifferentiateOptions): Differentiated {
  // GRU/LSTM on the differentiated path are unrolled into primitive ops first.
  const model = cloneModel(lowerRecurrent(input, opts));
  const g = model.graph;
  const of = opts.of ?? g.outputs[0]?.name;
  if (!of) throw new Error('graph has no outputs to differentiate');
  const opset = onnxOpset(model);
  if (opset < 13) throw new Error(`model imports ONNX opset ${opset}; scalpel differentiates opset 13 and later`);

  const known = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  for (const n of g.nodes) for (const o of n.outputs) known.add(o);
  for (const w of opts.wrt) if (!known.has(w)) throw new Error(`cannot differentiate with respect to '${w}': no such value in the graph`);
  if (!known.has(of)) throw new Error(`cannot differentiate '${of}': no such value in the graph`);

  // Forward: which values depend on a wrt value through differentiable ops.
  const env = inferTypes(model);
  const depends = new Set(opts.wrt);
  const isFloat = (name: string) => {
    const dt = env.get(name)?.dtype;
    return dt === undefined || dt === 'float32' || dt === 'float64' || dt === 'float16';
  };
  for (const n of g.nodes) {
    if (!n.inputs.some((i) => i && depends.has(i))) continue;
    if (RULES[ruleKey(n)] === NOT_DIFFERENTIABLE) continue;
    for (const o of n.outputs) if (o && isFloat(o)) depends.add(o);
  }
  // Backward reachability: nodes whose outputs reach `of`.
  const reaches = new Set<string>([of]);
  const active: Node[] = [];
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (!n.outputs.some((o) => reaches.has(o))) continue;
    if (!n.inputs.some((i) => i && depends.has(i) && isFloat(i))) continue;
    active.push(n);
    for (const i of n.inputs) if (i) reaches.add(i);
  }
  const missing = active.filter((n) => !(ruleKey(n) in RULES));
  if (missing.length > 0) {
    throw new UnsupportedOpError(missing.map((n) => ({ opType: ruleKey(n), node: n.name })).reverse(), unsupportedOps(model));
  }

  // Backward: visit active nodes in reverse order, accumulating gradient contributions.
  const b = new GraphBuilder(g);
  const parts = new Map<string, string[]>();
  const add = (name: string, grad: string) => {
    const list = parts.get(name);
    if (list) list.push(grad);
    else parts.set(name, [grad]);
  };
  const emitter = new GradContext(b, env, { opType: 'Seed', domain: '', name: 'seed', inputs: [], outputs: [], attributes: [] }, [], [], []);
  const total = (name: string): string | undefined => {
    const list = parts.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) parts.set(name, [emitter.op('Sum', ...list)]);
    return parts.get(name)![0];
  };

  if (opts.seed) {
    const t = env.get(of);
    b.input(opts.seed, t?.dtype ?? 'float32', t?.shape);
    env.set(opts.seed, { dtype: t?.dtype ?? 'float32', shape: t?.shape });
    add(of, opts.seed);
  } else {
    add(of, emitter.onesLike(of));
  }

  for (const n of active) {
    const rule = RULES[ruleKey(n)];
    if (rule === NOT_DIFFERENTIABLE) continue;
    const outGrads = n.outputs.map((o) => (o ? total(o) : undefined));
    if (outGrads.every((x) => x === undefined)) continue;
    const needed = n.inputs.map((i) => !!i && depends.has(i) && isFloat(i));
    const inGrads: (string | undefined)[] = n.inputs.map(() => undefined);
    rule(new GradContext(b, env, n, outGrads, needed, inGrads));
    n.inputs.forEach((name, i) => {
      const gi = inGrads[i];
      if (gi && needed[i]) add(name, gi);
    });
  }

  const gradients = new Map<string, string>();
  // NOTE: onnxruntime 1.30 computes wrong, run-to-run varying results for a training-mode BatchNormalization whose
  // running-statistics outputs are not graph outputs (optimisation level basic and up); keep those outputs.
  const bnStats = new Set(g.nodes.filter((n) => n.opType === 'BatchNormalization').flatMap((n) => n.outputs.slice(1)));
  if (opts.keepOutputs === false) g.outputs = g.outputs.filter((o) => o.name === of || bnStats.has(o.name));
  const typed = (name: string) => {
    const t = env.get(name);
    return t?.dtype ? tensorValueInfo(name, t.dtype, t.shape) : { name };
  };
  if (!g.outputs.some((o) => o.name === of)) g.outputs.push(typed(of));
  for (const w of opts.wrt) {
    let grad = total(w);
    if (!grad) grad = emitter.zerosLike(w);
    const out = b.fresh(`grad.${w}`);
    b.graph.nodes.push({ opType: 'Identity', domain: '', name: b.fresh(`${out}_node`), inputs: [grad], outputs: [out], attributes: [] });
    env.set(out, env.get(w) ?? {});
    g.outputs.push(typed(out));
    gradients.set(w, out);
  }
  return { model, gradients };
}
