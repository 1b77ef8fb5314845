// Models exported with a fixed batch size (PyTorch's default): free the batch dimension when the graph allows it.
import { attrInt, attrTensor } from './attributes.js';
import type { Dim } from './builder.js';
import { cloneModel, type Model, type ValueInfo } from './ir.js';
import type { TypeProto } from './proto.js';
import { toNumber } from './proto.js';
import { inferTypes } from './shapes.js';

export interface BatchDimResult {
  /** The model, with a symbolic batch dimension when it could be freed (else the input model itself). */
  model: Model;
  /** The batch size the file declares on every data input, when it declares one. */
  declaredBatch?: number;
  /** True when the batch dimension was made symbolic. */
  freed: boolean;
  /** Why a declared batch could not be freed (the graph hard-codes it). */
  reason?: string;
  /** Reshape nodes whose literal batch size was replaced by 0 (copy the input's batch dim). */
  reshapes?: string[];
}

function dims(v: ValueInfo): Dim[] | undefined {
  const s = v.type?.tensorType?.shape;
  if (!s) return undefined;
  return (s.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : d.dimParam ? d.dimParam : null));
}

function withFirstDim(v: ValueInfo, name: string): ValueInfo {
  const tt = v.type!.tensorType!;
  const [, ...rest] = tt.shape!.dim!;
  const type: TypeProto = { ...v.type, tensorType: { ...tt, shape: { ...tt.shape, dim: [{ dimParam: name }, ...rest] } } };
  return { ...v, type };
}

function withoutShape(v: ValueInfo): ValueInfo {
  const tt = v.type?.tensorType;
  return tt ? { ...v, type: { ...v.type, tensorType: { elemType: tt.elemType } } } : v;
}

/**
 * When every data input of `model` declares the same fixed leading (batch) dimension, try to make it symbolic:
 * rename it to `name` on the inputs, drop the stale intermediate shapes, and keep the change only if shape inference
 * carries the symbol through to the leading dimension of every output. A Reshape to a literal shape that starts with
 * the batch size, of a value whose first dim is the batch, gets 0 there ("copy the input's dim", the same thing); a
 * graph that hard-codes the batch otherwise (say, a Reshape that merges batch and channels) keeps its fixed batch.
 * The file's own intermediate shapes are never trusted for that check.
 *
 * @example const { model, freed, declaredBatch } = freeBatchDim(readModel('cnn-batch32.onnx')); // freed: true, declaredBatch: 32
 */
export function freeBatchDim(model: Model, name = 'batch'): BatchDimResult {
  const g = model.graph;
  const feeds = g.inputs.filter((v) => !g.initializers.has(v.name));
  const firsts = feeds.map((v) => dims(v)?.[0]);
  if (feeds.length === 0 || !firsts.every((d) => typeof d === 'number' && d > 0 && d === firsts[0])) return { model, freed: false };
  const declaredBatch = firsts[0] as number;
  const used = new Set<string>();
  for (const v of [...g.inputs, ...g.outputs]) for (const d of dims(v) ?? []) if (typeof d === 'string') used.add(d);
  let sym = name;
  for (let i = 2; used.has(sym); i++) sym = `${name}${i}`;

  const probe = cloneModel(model);
  probe.graph.inputs = probe.graph.inputs.map((v) => (g.initializers.has(v.name) ? v : withFirstDim(v, sym)));
  probe.graph.outputs = probe.graph.outputs.map(withoutShape);
  probe.graph.valueInfo = [];
  let env: ReturnType<typeof inferTypes>;
  const patched: string[] = [];
  try {
    env = inferTypes(probe);
    // A Reshape to a literal shape whose first entry is the batch size, applied to a value whose first dim is the
    // batch (PyTorch folds x.view(x.size(0), -1) into such a constant): 0 ("copy the input's dim") says the same.
    for (let round = 0; round < 8; round++) {
      const fixes = probe.graph.nodes.filter((n) => {
        if (n.opType !== 'Reshape' || attrInt(n, 'allowzero', 0) !== 0) return false;
        const shape = literalShape(probe, n.inputs[1]);
        return shape !== undefined && shape[0] === declaredBatch && env.get(n.inputs[0])?.shape?.[0] === sym;
      });
      if (fixes.length === 0) break;
      for (const n of fixes) {
        const shape = literalShape(probe, n.inputs[1])!;
        const name = `${n.inputs[1]}_free_batch`;
        probe.graph.initializers.set(name, {
          name,
          tensor: { dtype: 'int64', dims: [shape.length], data: BigInt64Array.from([0, ...shape.slice(1)].map(BigInt)) },
        });
        n.inputs = [n.inputs[0], name, ...n.inputs.slice(2)];
        patched.push(n.name || n.outputs[0]);
      }
      env = inferTypes(probe);
    }
  } catch (e) {
    return { model, declaredBatch, freed: false, reason: `shape inference failed (${(e as Error).message})` };
  }
  for (const o of g.outputs) {
    const shape = env.get(o.name)?.shape;
    if (!shape || shape.length === 0 || typeof shape[0] !== 'string') {
      const got = shape ? `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : 'an unknown shape';
      return {
        model,
        declaredBatch,
        freed: false,
        reason: `with a free batch dimension, output '${o.name}' gets ${got}: the graph hard-codes batch ${declaredBatch}`,
      };
    }
  }
  const out = probe;
  out.graph.outputs = model.graph.outputs.map((v) => {
    const d = dims(v);
    return d && d.length > 0 && d[0] === declaredBatch ? withFirstDim(v, sym) : v;
  });
  // Drop the literal shapes that only the patched Reshapes read.
  const readNow = new Set(out.graph.nodes.flatMap((n) => n.inputs));
  const readBefore = new Set(g.nodes.flatMap((n) => n.inputs));
  for (const name of [...out.graph.initializers.keys()]) if (readBefore.has(name) && !readNow.has(name)) out.graph.initializers.delete(name);
  return { model: out, declaredBatch, freed: true, reshapes: patched.length ? patched : undefined };
}

/**
 * The fixed batch size a model's data input still declares (none when the batch dimension is symbolic).
 *
 * @example fixedBatch(model) // 32 for a graph that hard-codes its batch size
 */
export function fixedBatch(model: Model): number | undefined {
  const v = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name));
  const d = v && dims(v)?.[0];
  return typeof d === 'number' ? d : undefined;
}

/** The values of a literal int64 shape: an initializer or a Constant node's output. */
function literalShape(model: Model, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const init = model.graph.initializers.get(name)?.tensor;
  const t =
    init ??
    (() => {
      const c = model.graph.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === name);
      return c ? attrTensor(c, 'value') : undefined;
    })();
  if (!t || t.dtype !== 'int64' || t.dims.length !== 1) return undefined;
  return Array.from(t.data as BigInt64Array, Number);
}
