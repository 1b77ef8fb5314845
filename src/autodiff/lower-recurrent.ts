// Lower GRU and LSTM nodes to an unrolled graph of primitive ops, so the differentiator needs no recurrent rules.
import { attrInt, attrString, attrTensor, hasAttr } from '../onnx/attributes.js';
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
 * Gemm/MatMul/Add/Sub/Mul/Sigmoid/Tanh/Relu/Split/Concat/Reshape/Squeeze/Unsqueeze/Transpose nodes with the same
 * output names. Per step: one Gemm for the recurrent product of all gates (two for GRU without linear_before_reset;
 * the step's input projection rides along as C), Splits, the activations and the state update; all-zero initial states and unread outputs cost nothing.
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
  const original = g.nodes;
  const producers = new Map<string, Node>();
  for (const n of original) for (const o of n.outputs) if (o) producers.set(o, n);
  // Outputs nothing reads (typically Y when only Y_h is used) are not built at all; with subgraphs (which may
  // read outer values implicitly) every output is kept.
  const read = new Set([...original.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  const subgraphs = original.some((n) => n.attributes.some((a) => a.g || (a.graphs?.length ?? 0) > 0));
  const lowerer = new Lowerer(b, env, onnxOpset(model), producers, new Set(g.inputs.map((v) => v.name)));
  g.nodes = [];
  original.forEach((n, k) => {
    if (!chosen.has(k)) {
      g.nodes.push(n);
      return;
    }
    const start = g.nodes.length;
    const live: Node = { ...n, outputs: n.outputs.map((o) => (o && (subgraphs || read.has(o)) ? o : '')) };
    const outs = n.opType === 'GRU' ? lowerer.gru(live) : lowerer.lstm(live);
    // Give the values that stand for the node's outputs the node's own output names.
    const created = g.nodes.slice(start);
    const renames = new Map<string, string>();
    live.outputs.forEach((name, i) => {
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

  constructor(
    private readonly b: GraphBuilder,
    private readonly env: TypeEnv,
    private readonly opset: number,
    private readonly producers: Map<string, Node>,
    private readonly graphInputs: Set<string>,
  ) {}

  /** Whether `v` is known to be all zeros (a zero constant, or ConstantOfShape of zero), so it can be left out. */
  private isZero(v: string): boolean {
    if (this.graphInputs.has(v)) return false; // an initializer that is also an input can be fed other values
    const c = this.env.constants.get(v);
    if (c) {
      for (let i = 0; i < c.data.length; i++) if (Number(c.data[i]) !== 0) return false;
      return true;
    }
    const p = this.producers.get(v);
    if (!p || p.opType !== 'ConstantOfShape' || !(p.domain === '' || p.domain === 'ai.onnx')) return false;
    const value = attrTensor(p, 'value');
    if (!value) return true;
    for (let i = 0; i < value.data.length; i++) if (Number(value.data[i]) !== 0) return false;
    return true;
  }

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
    const actTypes: string[][] = Array.from({ length: dirs }, (_, d) =>
      actNames.slice(d * perDir, (d + 1) * perDir).map((a) => {
        const type = ACT[a];
        if (!type) fail(`activation '${a}' is not supported (Sigmoid, Tanh and Relu are)`);
        return type;
      }),
    );
    const acts: Act[][] = actTypes.map((types) => types.map((type) => (x: string) => this.op(type, [x])));

    const tAxis = layout === 0 ? 0 : 1;
    const G = gates * H!;
    // The input projection is computed batch-major, [batch, S, G], so that its per-step pieces come out 2-D.
    const Xb = layout === 0 ? this.op('Transpose', [X], { perm: [1, 0, 2] }) : X;
    const Ws = dirs === 1 ? [this.squeeze(W, [0])] : this.perDirection(W, 2);
    const Rs = dirs === 1 ? [this.squeeze(R, [0])] : this.perDirection(R, 2);
    const Bs = B ? (dirs === 1 ? [this.squeeze(B, [0])] : this.perDirection(B, 2)) : undefined;
    // Recurrent products are Gemm(h, R, C, transB=1): no Transpose, and the per-step addend rides along as C.
    const biases = Bs?.map((bd) => this.split(bd, 0, [G, G]));
    // Initial states per direction, shaped [batch, H] like every state below; an all-zero state is left out.
    const states = (v: string) => (v && !this.isZero(v) ? this.split(v, tAxis, Array(dirs).fill(1)).map((s) => this.squeeze(s, [tAxis])) : undefined);
    const h0 = states(initH);
    const inSize = [xs![2], ws?.[2]].find((v): v is number => typeof v === 'number');
    const dtype = this.env.get(W)?.dtype;
    const I = dtype === 'float32' || dtype === 'float64' ? inSize : undefined;
    const proj = { X: I === undefined ? Xb : this.op('Reshape', [Xb, this.ints([-1, I])]), S, flat: I !== undefined };
    return { X: Xb, proj, S, H: H!, G, dirs, direction, tAxis, acts, actTypes, dtype, Ws, Rs, biases, h0, states };
  }

  /**
   * X @ Wᵀ + bias for every time step at once, as [batch, S·G]. With I static (p.flat), X comes as [batch·S, I]
   * and this is one 2-D Gemm, whose gradient is one Gemm (not a batched MatMul plus ReduceSum); else X is [batch, S, I].
   */
  private project(p: { X: string; S: number; flat: boolean }, w: string, bias: string | undefined, G: number): string {
    const y = p.flat
      ? this.op('Gemm', bias ? [p.X, w, bias] : [p.X, w], { transB: 1 })
      : this.add(this.op('MatMul', [p.X, this.op('Transpose', [w], { perm: [1, 0] })]), bias);
    return this.op('Reshape', [y, this.ints([-1, p.S * G])]);
  }

  /** h @ Rᵀ + c (c: [batch, G] or absent). */
  private recur(h: string, r: string, c: string | undefined): string {
    return this.op('Gemm', c ? [h, r, c] : [h, r], { transB: 1 });
  }

  /** The time steps of direction d, in the order it visits them. */
  private order(S: number, direction: string, d: number): number[] {
    const fwd = Array.from({ length: S }, (_, t) => t);
    return direction === 'reverse' || d === 1 ? fwd.reverse() : fwd;
  }

  /**
   * The per-step pieces [batch, size] of a projection [batch, S·G] (G = Σ sizes): one Split, rather than a
   * Split along time plus a Squeeze per step (whose gradient would be a Shape-based Reshape per step).
   */
  private steps(flat: string, S: number, sizes: number[]): string[][] {
    const parts = this.split(flat, 1, Array.from({ length: S }, () => sizes).flat());
    return Array.from({ length: S }, (_, t) => parts.slice(t * sizes.length, (t + 1) * sizes.length));
  }

  /** Y from the per-direction, per-step hidden states [batch, H]: one Concat and one Reshape per direction. */
  private outputs(ys: string[][], tAxis: number, H: number): string {
    const S = ys[0].length;
    // Layout 0: [S·batch, H] -> [S, 1, batch, H];  layout 1: [batch, S·H] -> [batch, S, 1, H].
    const shape = tAxis === 0 ? [S, 1, -1, H] : [-1, S, 1, H];
    return this.concat(
      ys.map((steps) => this.op('Reshape', [this.concat(steps, tAxis), this.ints(shape)])),
      tAxis + 1,
    );
  }

  /** Y_h / Y_c from the per-direction last states [batch, H]. */
  private lastStates(xs: string[], tAxis: number): string {
    return this.concat(
      xs.map((x) => this.unsqueeze(x, [tAxis])),
      tAxis,
    );
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
      const steps: string[] = Array(S);
      let h = c.h0?.[d];
      if (lbr) {
        // The projection gets an extra block of H columns holding Rbh (zero weights), so that per step
        // Gemm(h, R, [Xt Wzrᵀ + Wbzr + Rbzr, Rbh]) yields the z/r pre-activations and Ht-1 Rhᵀ + Rbh in one node.
        const [wzr, wh] = this.split(c.Ws[d], 0, [2 * H, H]);
        const w = this.op('Concat', [wzr, this.op('Sub', [wh, wh]), wh], { axis: 0 });
        let bias: string | undefined;
        if (c.biases) {
          const [wb, rb] = c.biases[d];
          const [wbzr, wbh] = this.split(wb, 0, [2 * H, H]);
          const [rbzr, rbh] = this.split(rb, 0, [2 * H, H]);
          bias = this.op('Concat', [this.op('Add', [wbzr, rbzr]), rbh, wbh], { axis: 0 });
        }
        const xs = this.steps(this.project(c.proj, w, bias, 4 * H), S, [3 * H, H]);
        for (const t of this.order(S, c.direction, d)) {
          const [cz, xh] = xs[t];
          const [zrPre, hh] = this.split(h ? this.recur(h, c.Rs[d], cz) : cz, 1, [2 * H, H]);
          const [z, r] = this.split(f(zrPre), 1, [H, H]);
          h = this.update(z, gAct(this.op('Add', [xh, this.mul(r, hh)])), h);
          steps[t] = h;
        }
      } else {
        const bias = c.biases ? this.op('Add', c.biases[d]) : undefined;
        const xs = this.steps(this.project(c.proj, c.Ws[d], bias, 3 * H), S, [2 * H, H]);
        const [rzr, rh] = this.split(c.Rs[d], 0, [2 * H, H]);
        for (const t of this.order(S, c.direction, d)) {
          const [xzr, xh] = xs[t];
          const [z, r] = this.split(f(h ? this.recur(h, rzr, xzr) : xzr), 1, [H, H]);
          h = this.update(z, gAct(h ? this.recur(this.mul(r, h), rh, xh) : xh), h);
          steps[t] = h;
        }
      }
      ys.push(steps);
      last.push(h!);
    }
    return [n.outputs[0] ? this.outputs(ys, tAxis, H) : '', n.outputs[1] ? this.lastStates(last, tAxis) : ''];
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
    const { H, G, S, tAxis } = c;
    const [initC, P] = [n.inputs[6] ?? '', n.inputs[7] ?? ''];
    const c0 = c.states(initC);
    const Ps = P ? (c.dirs === 1 ? [this.squeeze(P, [0])] : this.perDirection(P, 2)) : undefined;
    const ys: string[][] = [];
    const lastH: string[] = [];
    const lastC: string[] = [];
    for (let d = 0; d < c.dirs; d++) {
      const [f, gAct, hAct] = c.acts[d];
      let biasX = c.biases ? this.op('Add', c.biases[d]) : undefined;
      let w = c.Ws[d];
      let rw = c.Rs[d];
      // With the default activations and no peepholes, tanh(x) = 2σ(2x) - 1 lets one Sigmoid cover all four gates:
      // the c rows of W, R and the biases are doubled once, and each step takes c = 2σ - 1.
      const dt = c.dtype;
      const fused = !Ps && c.actTypes[d][0] === 'Sigmoid' && c.actTypes[d][1] === 'Tanh' && (dt === 'float32' || dt === 'float64');
      let two = '';
      let one = '';
      if (fused) {
        const vals = Array.from({ length: G }, (_, k) => (k < 3 * H ? 1 : 2));
        const data = dt === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals);
        const col = this.b.constant({ dtype: dt, dims: [G, 1], data }, dt, 'rnn_scale');
        w = this.mul(w, col);
        rw = this.mul(rw, col);
        if (biasX) biasX = this.mul(biasX, this.b.constant({ dtype: dt, dims: [G], data }, dt, 'rnn_scale'));
        two = this.b.constant(2, dt, 'rnn_two');
        one = this.b.constant(1, dt, 'rnn_one');
      }
      const xs = this.steps(this.project(c.proj, w, biasX, G), S, [G]).map((p) => p[0]);
      const [pi, po, pf] = Ps ? this.split(Ps[d], 0, [H, H, H]) : [];
      let h = c.h0?.[d];
      let cell = c0?.[d];
      const steps: string[] = Array(S);
      for (const t of this.order(S, c.direction, d)) {
        const pre = h ? this.recur(h, rw, xs[t]) : xs[t];
        let i: string, fg: string, o: string, cp: string;
        let cand = '';
        if (fused) {
          const [si, so, sf, sc] = this.split(f(pre), 1, [H, H, H, H]);
          [i, o, fg, cp] = [si, so, sf, ''];
          cand = this.op('Sub', [this.mul(sc, two), one]); // tanh(c) = 2σ(2c) - 1
        } else if (!Ps) {
          // Gates i, o, f are contiguous and share the activation f: apply it once to all three.
          const [iof, cpre] = this.split(pre, 1, [3 * H, H]);
          [i, o, fg] = this.split(f(iof), 1, [H, H, H]);
          cp = cpre;
        } else {
          const [ip, op, fp, cpre] = this.split(pre, 1, [H, H, H, H]);
          const peep = (x: string, p: string, state: string | undefined) => (state ? this.op('Add', [x, this.mul(p, state)]) : x);
          i = f(peep(ip, pi, cell));
          fg = cell ? f(peep(fp, pf, cell)) : '';
          // o peeks at the new cell state, computed below.
          o = op;
          cp = cpre;
        }
        if (!fused) cand = gAct(cp);
        cell = cell ? this.op('Add', [this.mul(fg, cell), this.mul(i, cand)]) : this.mul(i, cand);
        if (Ps) o = f(this.op('Add', [o, this.mul(po, cell)]));
        h = this.mul(o, hAct(cell));
        steps[t] = h;
      }
      ys.push(steps);
      lastH.push(h!);
      lastC.push(cell!);
    }
    return [
      n.outputs[0] ? this.outputs(ys, tAxis, H) : '',
      n.outputs[1] ? this.lastStates(lastH, tAxis) : '',
      n.outputs[2] ? this.lastStates(lastC, tAxis) : '',
    ];
  }
}
