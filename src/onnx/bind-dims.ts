// Give a symbolic dimension a size: a model exported with a dynamic sequence axis, specialised to the data's length
// (the differentiator unrolls recurrences, which needs a static sequence length).
import { cloneModel, type Model, type ValueInfo } from './ir.js';

function bind(v: ValueInfo, sizes: Readonly<Record<string, number>>): ValueInfo {
  const tt = v.type?.tensorType;
  const dim = tt?.shape?.dim;
  if (!tt || !dim || !dim.some((d) => d.dimParam && d.dimParam in sizes)) return v;
  const bound = dim.map((d) => (d.dimParam && d.dimParam in sizes ? { dimValue: sizes[d.dimParam] } : d));
  return { ...v, type: { ...v.type, tensorType: { ...tt, shape: { ...tt.shape, dim: bound } } } };
}

/**
 * A copy of `model` whose graph inputs and outputs declare the given symbolic dimensions with fixed sizes; the file's
 * intermediate shapes are dropped so that shape inference recomputes them from the bound inputs.
 *
 * @example const fixed = bindDims(readModel('lstm-lm.onnx'), { sequence: 35 }); // input_ids [batch, 35]
 */
export function bindDims(model: Model, sizes: Readonly<Record<string, number>>): Model {
  for (const [name, n] of Object.entries(sizes)) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`bindDims: size of '${name}' must be a positive integer, got ${n}`);
  }
  const out = cloneModel(model);
  out.graph.inputs = out.graph.inputs.map((v) => bind(v, sizes));
  out.graph.outputs = out.graph.outputs.map((v) => bind(v, sizes));
  out.graph.valueInfo = [];
  return out;
}

/**
 * `bindDims` for a graph with recurrent ops (LSTM, GRU, RNN), whose differentiation unrolls the recurrence and so needs
 * the sequence length; any other graph is returned as it is.
 *
 * @param sizes the sizes the data bound to the symbols (checkFeeds' `dims`)
 * @example const model = bindRecurrentDims(lstmLm, { batch: 4, sequence: 35 });
 */
export function bindRecurrentDims(model: Model, sizes: Readonly<Record<string, number>>): Model {
  const recurrent = model.graph.nodes.some((n) => n.opType === 'LSTM' || n.opType === 'GRU' || n.opType === 'RNN');
  return recurrent ? bindDims(model, sizes) : model;
}
