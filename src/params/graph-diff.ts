// Where two models' graphs differ: nodes, inputs and outputs, initializers, opsets and metadata.
import type { Graph, Model, Node, ValueInfo } from '../onnx/ir.js';

/** The differences between two models other than float parameter values, each one precise sentence. */
export interface GraphDifferences {
  /** Nodes, graph inputs/outputs, initializer names, types and shapes, non-float initializer values, opsets. */
  graph: string[];
  /** Model metadata (metadata_props, producer, doc strings). */
  metadata: string[];
}

/** JSON of a value with typed arrays, bigints and Longs made comparable. */
function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number | bigint>, (e) => (typeof e === 'bigint' ? `${e}n` : e));
    if (x && typeof x === 'object' && 'low' in x && 'high' in x && 'unsigned' in x) return `${(x as { high: number }).high}:${(x as { low: number }).low}`;
    return x;
  });
}

function typeText(v: ValueInfo | undefined): string {
  const t = v?.type?.tensorType;
  if (!t) return stable(v?.type ?? null);
  const dims = (t.shape?.dim ?? []).map((d) => d.dimParam || String(d.dimValue ?? '?'));
  return `${t.elemType}[${dims.join(',')}]`;
}

function nodeText(n: Node): string {
  return `${n.domain ? `${n.domain}.` : ''}${n.opType}(${n.inputs.join(', ')}) -> ${n.outputs.join(', ')}`;
}

function compareValues(kind: string, a: ValueInfo[], b: ValueInfo[], out: string[]): void {
  const bm = new Map(b.map((v) => [v.name, v]));
  const am = new Map(a.map((v) => [v.name, v]));
  for (const v of a) {
    if (!bm.has(v.name)) out.push(`${kind} '${v.name}' is only in the first model`);
    else if (typeText(v) !== typeText(bm.get(v.name)))
      out.push(`${kind} '${v.name}' is ${typeText(v)} in the first model, ${typeText(bm.get(v.name))} in the second`);
  }
  for (const v of b) if (!am.has(v.name)) out.push(`${kind} '${v.name}' is only in the second model`);
}

function compareNodes(a: Graph, b: Graph, out: string[]): void {
  const n = Math.max(a.nodes.length, b.nodes.length);
  let shown = 0;
  for (let i = 0; i < n && shown < 20; i++) {
    const x = a.nodes[i];
    const y = b.nodes[i];
    if (!x) out.push(`node ${i} ${nodeText(y)} is added in the second model`);
    else if (!y) out.push(`node ${i} ${nodeText(x)} is only in the first model`);
    else if (nodeText(x) !== nodeText(y)) out.push(`node ${i} is ${nodeText(x)} in the first model, ${nodeText(y)} in the second`);
    else if (stable(x.attributes) !== stable(y.attributes)) out.push(`node ${i} (${x.opType} '${x.name}') has other attributes in the second model`);
    else continue;
    shown++;
  }
  if (a.nodes.length !== b.nodes.length) out.push(`the first model has ${a.nodes.length} nodes, the second ${b.nodes.length}`);
}

function compareInitializers(a: Graph, b: Graph, out: string[]): void {
  const FLOAT = new Set(['float32', 'float64', 'float16']);
  for (const [name, x] of a.initializers) {
    const y = b.initializers.get(name);
    if (!y) {
      out.push(`initializer '${name}' is only in the first model`);
      continue;
    }
    const tx = x.tensor;
    const ty = y.tensor;
    if (!tx || !ty) {
      if (stable(x.opaque ?? tx) !== stable(y.opaque ?? ty)) out.push(`initializer '${name}' (a type scalpel does not compute with) differs`);
      continue;
    }
    if (tx.dtype !== ty.dtype) out.push(`initializer '${name}' is ${tx.dtype} in the first model, ${ty.dtype} in the second`);
    else if (tx.dims.join(',') !== ty.dims.join(',')) out.push(`initializer '${name}' is reshaped from [${tx.dims.join(',')}] to [${ty.dims.join(',')}]`);
    else if (!FLOAT.has(tx.dtype) && stable(tx.data) !== stable(ty.data))
      out.push(`initializer '${name}' (${tx.dtype}, not a float parameter) has other values`);
  }
  for (const name of b.initializers.keys()) if (!a.initializers.has(name)) out.push(`initializer '${name}' is added in the second model`);
}

/**
 * Everything that differs between two models except the values of their float parameters: what `scalpel diff`
 * reports before it compares parameters, so that a graph change is never silently ignored.
 *
 * @example graphDifferences(a, b).graph; // ["node 3 is Relu(h) -> r in the first model, Sigmoid(h) -> r in the second"]
 */
export function graphDifferences(a: Model, b: Model): GraphDifferences {
  const graph: string[] = [];
  const metadata: string[] = [];
  const opsets = (m: Model) =>
    m.opsetImports
      .map((o) => `${o.domain || 'ai.onnx'}:${o.version}`)
      .sort()
      .join(', ');
  if (opsets(a) !== opsets(b)) graph.push(`opsets are ${opsets(a)} in the first model, ${opsets(b)} in the second`);
  compareValues('input', a.graph.inputs, b.graph.inputs, graph);
  compareValues('output', a.graph.outputs, b.graph.outputs, graph);
  compareNodes(a.graph, b.graph, graph);
  compareInitializers(a.graph, b.graph, graph);
  const props = (m: Model) => new Map(((m.passthrough.metadataProps as { key: string; value: string }[] | undefined) ?? []).map((p) => [p.key, p.value]));
  const pa = props(a);
  const pb = props(b);
  for (const [k, v] of pa) {
    if (!pb.has(k)) metadata.push(`metadata '${k}' is only in the first model`);
    else if (pb.get(k) !== v) metadata.push(`metadata '${k}' changed`);
  }
  for (const k of pb.keys()) if (!pa.has(k)) metadata.push(`metadata '${k}' is added in the second model`);
  for (const f of ['producerName', 'producerVersion', 'docString', 'domain', 'modelVersion'] as const) {
    if (stable(a.passthrough[f] ?? null) !== stable(b.passthrough[f] ?? null)) metadata.push(`model ${f} changed`);
  }
  return { graph, metadata };
}
