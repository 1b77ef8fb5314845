// Turn initializers into graph inputs, so that changed parameter values need no new session.
import type { HostTensor } from '../tensor/host-tensor.js';
import { tensorValueInfo } from './builder.js';
import { cloneGraph, type Model } from './ir.js';

export interface PromotedModel {
  model: Model;
  /** The current values of the promoted initializers, keyed by their (now input) names. */
  values: Map<string, HostTensor>;
}

/**
 * Move the named initializers to graph inputs; their values are returned to be fed at run time.
 *
 * @example const { model, values } = promoteToInputs(m, ['fc.weight']);
 */
export function promoteToInputs(input: Model, names: readonly string[]): PromotedModel {
  const graph = cloneGraph(input.graph);
  const values = new Map<string, HostTensor>();
  for (const name of names) {
    const init = graph.initializers.get(name);
    if (!init?.tensor) throw new Error(`'${name}' is not an initializer with numeric data`);
    graph.initializers.delete(name);
    // An initializer may also be listed as an input (IR < 4 style); keep a single input entry.
    graph.inputs = graph.inputs.filter((v) => v.name !== name);
    graph.inputs.push(tensorValueInfo(name, init.tensor.dtype, init.tensor.dims));
    values.set(name, init.tensor);
  }
  return { model: { ...input, graph }, values };
}
