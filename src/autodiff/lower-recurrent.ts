// Lower GRU and LSTM nodes to an unrolled graph of primitive ops, so the differentiator needs no recurrent rules.
import { attrInt, attrString, hasAttr } from '../onnx/attributes.js';
import type { AttrValue } from '../onnx/attributes.js';
import { type Dim, GraphBuilder } from '../onnx/builder.js';
import { cloneModel, type Model, type Node, onnxOpset } from '../onnx/ir.js';
import { inferTypes, type TypeEnv } from '../onnx/shapes.js';

export interface LowerRecurrentOptions {
  /** With `wrt`: lower only the recurrent nodes on a path from a `wrt` value to `of` (default: the first graph output). */
  of?: string;
  /** Values being differentiated; when absent every GRU/LSTM node is lowered. */
  wrt?: readonly string[];
}

const isRecurrent = (n: Node) => (n.domain === '' || n.domain === 'ai.onnx') && (n.opType === 'GRU' || n.opType === 'LSTM');

/** Indices of the nodes with an input depending on `wrt` and an output reaching `of`. */
function onPath(model: Model, of: string | undefined, wrt: readonly string[]): Set<number> {
  const nodes = model.graph.nodes;
  const depends = new Set(wrt);
  for (const n of nodes) if (n.inputs.some((i) => i && depends.has(i))) for (const o of n.outputs) if (o) depends.add(o);
  const reaches = new Set<string>([of ?? model.graph.outputs[0]?.name ?? '']);
  const path = new Set<number>();
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n.outputs.some((o) => o && reaches.has(o))) continue;
    for (const i of n.inputs) if (i) reaches.add(i);
    if (n.inputs.some((i) => i && depends.has(i))) path.add(k);
  }
  return path;
}

/**
 * Replace GRU and LSTM nodes (ONNX semantics, static sequence length) by the equivalent unrolled graph of
 * MatMul/Add/Sub/Mul/Sigmoid/Tanh/Relu/Split/Concat/Squeeze/Unsqueeze/Transpose nodes with the same output names.
 * Returns the model itself when there is nothing to lower.
 *
 * @example
 * const lowered = lowerRecurrent(readModel('gru.onnx'));
 */
export function lowerRecurrent(input: Model, opts: LowerRecurrentOptions = {}): Model {
  const path = opts.wrt ? onPath(input, opts.of, opts.wrt) : undefined;
  const chosen = new Set<number>();
  input.graph.nodes.forEach((n, k) => {
    if (isRecurrent(n) && (!path || path.has(k))) chosen.add(k);
  });
  if (chosen.size === 0) return input;

  const model = cloneModel(input);
  const g = model.graph;
  const env = inferTypes(model);
  const b = new GraphBuilder(g);
  const lowerer = new Lowerer(b, env, onnxOpset(model));
  const original = g.nodes;
  g.nodes = [];
  original.forEach((n, k) => {
    if (!chosen.has(k)) {
      g.nodes.push(n);
      return;
    }
    const start = g.nodes.length;
    const outs = n.opType === 'GRU' ? lowerer.gru(n) : lowerer.lstm(n);
    // Give the values that stand for the node's outputs the node's own output names.
    const created = g.nodes.slice(start);
    const renames = new Map<string, string>();
    n.outputs.forEach((name, i) => {
      if (name) renames.set(outs[i], name);
    });
    for (const m of created) {
      m.inputs = m.inputs.map((v) => renames.get(v) ?? v);
      m.outputs = m.outputs.map((v) => renames.get(v) ?? v);
    }
  });
  // A constant sequence_lens that nothing reads any more would make onnxruntime warn.
  const used = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  for (const k of chosen) {
    const lens = original[k].inputs[4];
    if (!lens || used.has(lens)) continue;
    if (!g.inputs.some((v) => v.name === lens)) g.initializers.delete(lens);
    g.nodes = g.nodes.filter((n) => !(n.opType === 'Constant' && n.outputs[0] === lens));
  }
  return model;
}

type Act = (x: string) => string;

class Lowerer {
  private readonly intsCache = new Map<string, string>();

  constructor(private readonly b: GraphBuilder, private readonly env: TypeEnv, private readonly opset: number) {}

  private op(type: string, inputs: string[], attrs?: Record<string, AttrValue | undefined>): string {
    return this.b.op(type, inputs, attrs, `rnn_${type.toLowerCase()}`);
  }

  private ints(values: number[]): string {
    const key = values.join(',');
    let name = this.intsCache.get(key);
    if (!name) {
      name = this.b.ints(values, 'rnn_ints');
      this.intsCache.set(key, name);
    }
    return name;
  }

  private add(a: string, c: string | undefined): string {
    return c ? this.op('Add', [a, c]) : a;
  }

  private mul(a: string, c: string): string {
    return this.op('Mul', [a, c]);
  }

  private split(x: string, axis: number, sizes: number[]): string[] {
    if (sizes.length === 1) return [x];
    if (this.opset >= 13) return this.b.opN('Split', [x, this.ints(sizes)], sizes.length, { axis }, 'rnn_split');
    return this.b.opN('Split', [x], sizes.length, { axis, split: sizes }, 'rnn_split');
  }

  private squeeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.op('Squeeze', [x, this.ints(axes)]) : this.op('Squeeze', [x], { axes });
  }

  private unsqueeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.ints(axes)]) : this.op('Unsqueeze', [x], { axes });
  }

  private concat(xs: string[], axis: number): string {
    return xs.length === 1 ? xs[0] : this.op('Concat', xs, { axis });
  }

  /** Slice `x` along axis 0 into one tensor per direction, dropping that axis. */
  private perDirection(x: string, dirs: number): string[] {
    return this.split(x, 0, Array(dirs).fill(1)).map((p) => this.squeeze(p, [0]));
  }

  /** Everything GRU and LSTM share: attribute checks, sizes, per-direction weights and the input projection. */
  private common(n: Node, gates: number) {
    const what = `${n.opType} node '${n.name}'`;
    const fail = (msg: string): never => {
      throw new Error(`${what}: ${msg}`);
    };
    if (hasAttr(n, 'clip')) fail('the clip attribute is not supported (lowering for differentiation)');
    if (n.opType === 'LSTM' && attrInt(n, 'input_forget', 0) !== 0) fail('input_forget=1 is not supported (lowering for differentiation)');
    const direction = attrString(n, 'direction', 'forward');
    if (!['forward', 'reverse', 'bidirectional'].includes(direction)) fail(`unknown direction '${direction}'`);
    const dirs = direction === 'bidirectional' ? 2 : 1;
    const layout = attrInt(n, 'layout', 0);
    if (layout !== 0 && layout !== 1) fail(`unknown layout ${layout}`);
    const [X, W, R, B, seqLens, initH] = [0, 1, 2, 3, 4, 5].map((i) => n.inputs[i] ?? '');

    const xs = this.env.get(X)?.shape;
    if (!xs || xs.length !== 3) fail(`the input X must have a known rank of 3 (got ${xs ? `rank ${xs.length}` : 'an unknown shape'})`);
    const seq: Dim = xs![layout === 0 ? 0 : 1];
    if (typeof seq !== 'number') {
      fail(`the sequence length must be static to unroll the recurrence, but X has shape [${xs!.map((d) => d ?? '?').join(', ')}]`);
    }
    const S = seq as number;
    if (S < 1) fail('the sequence length is 0');
    let H = attrInt(n, 'hidden_size');
    const rs = this.env.get(R)?.shape;
    if (H === undefined && rs && typeof rs[2] === 'number') H = rs[2];
    if (H === undefined) fail('hidden_size is neither given nor known from the shape of R');
    const ws = this.env.get(W)?.shape;
    if (ws && typeof ws[0] === 'number' && ws[0] !== dirs) fail(`W has ${ws[0]} directions but direction is '${direction}'`);

    if (seqLens) {
      const c = this.env.constants.get(seqLens);
      if (!c) fail('sequence_lens must be a constant (every entry equal to the sequence length) to lower the recurrence');
      for (let i = 0; i < c!.data.length; i++) {
        if (Number(c!.data[i]) !== S) fail(`sequence_lens holds ${Number(c!.data[i])}, but only full sequences (${S}) are supported`);
      }
    }

    const names = n.attributes.find((a) => a.name === 'activations')?.strings?.map((s) => new TextDecoder().decode(s).toLowerCase());
    const perDir = gates === 4 ? 3 : 2;
    const defaults = gates === 4 ? ['sigmoid', 'tanh', 'tanh'] : ['sigmoid', 'tanh'];
    const actNames = names && names.length > 0 ? names : Array.from({ length: dirs }, () => defaults).flat();
    if (actNames.length !== perDir * dirs) fail(`expected ${perDir * dirs} activations, got ${actNames.length}`);
    const ACT: Record<string, string> = { sigmoid: 'Sigmoid', tanh: 'Tanh', relu: 'Relu' };
    const acts: Act[][] = Array.from({ length: dirs }, (_, d) =>
      actNames.slice(d * perDir, (d + 1) * perDir).map((a) => {
        const type = ACT[a];
        if (!type) fail(`activation '${a}' is not supported (Sigmoid, Tanh and Relu are)`);
        return (x: string) => this.op(type, [x]);
      }),
    );

    const tAxis = layout === 0 ? 0 : 1;
    const G = gates * H!;
    const Ws = dirs === 1 ? [this.squeeze(W, [0])] : this.perDirection(W, 2);
    const Rs = dirs === 1 ? [this.squeeze(R, [0])] : this.perDirection(R, 2);
    const Bs = B ? (dirs === 1 ? [this.squeeze(B, [0])] : this.perDirection(B, 2)) : undefined;
    const WT = Ws.map((w) => this.op('Transpose', [w], { perm: [1, 0] }));
    const RT = Rs.map((r) => this.op('Transpose', [r], { perm: [1, 0] }));
    const biases = Bs?.map((bd) => this.split(bd, 0, [G, G]));
    // Initial states per direction, shaped [1, batch, H] (layout 0) or [batch, 1, H] (layout 1), like every state below.
    const states = (v: string) => (v ? this.split(v, tAxis, Array(dirs).fill(1)) : undefined);
    const h0 = states(initH);
    return { X, S, H: H!, G, dirs, direction, tAxis, acts, WT, RT, biases, h0, states };
  }

  /** X @ Wᵀ + bias for every time step at once: [S, batch, G] (layout 0) or [batch, S, G] (layout 1). */
  private project(X: string, wT: string, bias: string | undefined): string {
    return this.add(this.op('MatMul', [X, wT]), bias);
  }

  /** The time steps of direction d, in the order it visits them. */
  private order(S: number, direction: string, d: number): number[] {
    const fwd = Array.from({ length: S }, (_, t) => t);
    return direction === 'reverse' || d === 1 ? fwd.reverse() : fwd;
  }

  /** Y from the per-direction, per-step hidden states. */
  private outputs(ys: string[][], tAxis: number): string {
    return this.concat(ys.map((steps) => this.unsqueeze(this.concat(steps, tAxis), [tAxis + 1])), tAxis + 1);
  }

  // z = f(Xt Wzᵀ + Ht-1 Rzᵀ + Wbz + Rbz),  r = f(Xt Wrᵀ + Ht-1 Rrᵀ + Wbr + Rbr)
  // h = g(Xt Whᵀ + (r ⊙ Ht-1) Rhᵀ + Rbh + Wbh)   or, with linear_before_reset,   g(Xt Whᵀ + r ⊙ (Ht-1 Rhᵀ + Rbh) + Wbh)
  // Ht = (1 - z) ⊙ h + z ⊙ Ht-1
  /** Lower one GRU node; returns the values standing for [Y, Y_h]. */
  gru(n: Node): string[] {
    const c = this.common(n, 3);
    const { H, S, tAxis } = c;
    const lbr = attrInt(n, 'linear_before_reset', 0) !== 0;
    const ys: string[][] = [];
    const last: string[] = [];
    for (let d = 0; d < c.dirs; d++) {
      const [f, gAct] = c.acts[d];
      let biasX: string | undefined;
      let rbh: string | undefined;
      if (c.biases) {
        const [wb, rb] = c.biases[d];
        if (lbr) {
          const [wbzr, wbh] = this.split(wb, 0, [2 * H, H]);
          const [rbzr, rbhh] = this.split(rb, 0, [2 * H, H]);
          biasX = this.concat([this.op('Add', [wbzr, rbzr]), wbh], 0);
          rbh = rbhh;
        } else {
          biasX = this.op('Add', [wb, rb]);
        }
      }
      const [xzrAll, xhAll] = this.split(this.project(c.X, c.WT[d], biasX), 2, [2 * H, H]);
      const ones = Array(S).fill(1);
      const xzr = this.split(xzrAll, tAxis, ones);
      const xh = this.split(xhAll, tAxis, ones);
      const [rzrT, rhT] = lbr ? [c.RT[d], c.RT[d]] : this.split(c.RT[d], 1, [2 * H, H]);
      let h = c.h0?.[d];
      const steps: string[] = Array(S);
      for (const t of this.order(S, c.direction, d)) {
        let zrPre = xzr[t];
        let hPre = xh[t];
        if (lbr) {
          let hz: string | undefined;
          let hh = rbh;
          if (h) {
            const [hzr, hhh] = this.split(this.op('MatMul', [h, rzrT]), 2, [2 * H, H]);
            hz = hzr;
            hh = this.add(hhh, rbh);
          }
          zrPre = this.add(zrPre, hz);
          const [z, r] = this.split(f(zrPre), 2, [H, H]);
          hPre = hh ? this.op('Add', [hPre, this.mul(r, hh)]) : hPre;
          h = this.update(z, gAct(hPre), h);
        } else {
          if (h) zrPre = this.op('Add', [zrPre, this.op('MatMul', [h, rzrT])]);
          const [z, r] = this.split(f(zrPre), 2, [H, H]);
          if (h) hPre = this.op('Add', [hPre, this.op('MatMul', [this.mul(r, h), rhT])]);
          h = this.update(z, gAct(hPre), h);
        }
        steps[t] = h;
      }
      ys.push(steps);
      last.push(h!);
    }
    return [n.outputs[0] ? this.outputs(ys, tAxis) : '', n.outputs[1] ? this.concat(last, tAxis) : ''];
  }

  /** Ht = (1 - z) ⊙ h + z ⊙ Ht-1, written as h + z ⊙ (Ht-1 - h); Ht-1 absent means zeros. */
  private update(z: string, h: string, prev: string | undefined): string {
    return prev ? this.op('Add', [h, this.mul(z, this.op('Sub', [prev, h]))]) : this.op('Sub', [h, this.mul(z, h)]);
  }

  // i = f(Xt Wiᵀ + Ht-1 Riᵀ + Pi ⊙ Ct-1 + Wbi + Rbi),  f = f(Xt Wfᵀ + Ht-1 Rfᵀ + Pf ⊙ Ct-1 + Wbf + Rbf)
  // c = g(Xt Wcᵀ + Ht-1 Rcᵀ + Wbc + Rbc),  Ct = f ⊙ Ct-1 + i ⊙ c
  // o = f(Xt Woᵀ + Ht-1 Roᵀ + Po ⊙ Ct + Wbo + Rbo),  Ht = o ⊙ h(Ct)
  /** Lower one LSTM node; returns the values standing for [Y, Y_h, Y_c]. */
  lstm(n: Node): string[] {
    const c = this.common(n, 4);
    const { H, S, tAxis } = c;
    const [initC, P] = [n.inputs[6] ?? '', n.inputs[7] ?? ''];
    const c0 = c.states(initC);
    const Ps = P ? (c.dirs === 1 ? [this.squeeze(P, [0])] : this.perDirection(P, 2)) : undefined;
    const ys: string[][] = [];
    const lastH: string[] = [];
    const lastC: string[] = [];
    for (let d = 0; d < c.dirs; d++) {
      const [f, gAct, hAct] = c.acts[d];
      const biasX = c.biases ? this.op('Add', c.biases[d]) : undefined;
      const xs = this.split(this.project(c.X, c.WT[d], biasX), tAxis, Array(S).fill(1));
      const [pi, po, pf] = Ps ? this.split(Ps[d], 0, [H, H, H]) : [];
      let h = c.h0?.[d];
      let cell = c0?.[d];
      const steps: string[] = Array(S);
      for (const t of this.order(S, c.direction, d)) {
        const pre = h ? this.op('Add', [xs[t], this.op('MatMul', [h, c.RT[d]])]) : xs[t];
        const [ip, op, fp, cp] = this.split(pre, 2, [H, H, H, H]);
        const peep = (x: string, p: string | undefined, state: string | undefined) => (p && state ? this.op('Add', [x, this.mul(p, state)]) : x);
        const i = f(peep(ip, pi, cell));
        const cand = gAct(cp);
        if (cell) {
          const fg = f(peep(fp, pf, cell));
          cell = this.op('Add', [this.mul(fg, cell), this.mul(i, cand)]);
        } else {
          cell = this.mul(i, cand);
        }
        const o = f(peep(op, po, cell));
        h = this.mul(o, hAct(cell));
        steps[t] = h;
      }
      ys.push(steps);
      lastH.push(h!);
      lastC.push(cell!);
    }
    return [n.outputs[0] ? this.outputs(ys, tAxis) : '', n.outputs[1] ? this.concat(lastH, tAxis) : '', n.outputs[2] ? this.concat(lastC, tAxis) : ''];
  }
}
