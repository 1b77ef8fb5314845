// Structural checks of a decoded graph, which turn damaged files into clear errors.
import type { Model } from './ir.js';

/**
 * Check that every value a top-level node or graph output reads is defined (a graph input, an initializer
 * or an earlier node's output). A file cut short at a protobuf field boundary still decodes, but loses
 * nodes or initializers; this catches it.
 */
export function checkGraphComplete(model: Model, source: string): void {
  const g = model.graph;
  const defined = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      if (i && !defined.has(i)) {
        throw new Error(
          `${source} is damaged or incomplete: node '${n.name || n.opType}' (${n.opType}) reads '${i}', which no input, initializer or earlier node defines`,
        );
      }
    }
    for (const o of n.outputs) if (o) defined.add(o);
  }
  for (const o of g.outputs) {
    if (!defined.has(o.name)) throw new Error(`${source} is damaged or incomplete: graph output '${o.name}' is never computed`);
  }
  if (g.outputs.length === 0) throw new Error(`${source} is not a usable ONNX model: its graph has no outputs`);
}
