// The Graph IR: plain objects that are easy to read and transform; ONNX protos only at the edges.
import type { HostTensor } from '../tensor/host-tensor.js';
import type { AttributeProto, StringStringEntryProto, TensorProto, TypeProto } from './proto.js';

/** A node of the graph. Attributes stay ONNX AttributeProtos so that nothing is lost on a round trip. */
export interface Node {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: AttributeProto[];
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

/** A named graph input, output or intermediate with its (possibly partial) type. */
export interface ValueInfo {
  name: string;
  type?: TypeProto;
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

/**
 * An initializer: a host tensor, or, for element types scalpel does not compute with (strings,
 * bfloat16, uint16, …), the original TensorProto kept opaque.
 */
export interface Initializer {
  name: string;
  tensor?: HostTensor;
  opaque?: TensorProto;
  docString?: string;
  metadataProps?: StringStringEntryProto[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Initializer>;
  valueInfo: ValueInfo[];
  docString?: string;
  /** Graph fields scalpel carries through untouched (sparse initializers, quantization annotations, metadata). */
  passthrough: Record<string, unknown>;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  graph: Graph;
  /** Model fields carried through untouched (producer, doc string, metadata, functions, training info). */
  passthrough: Record<string, unknown>;
}

/** The default-domain ONNX opset a model imports. */
export function onnxOpset(model: Model): number {
  const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!imp) throw new Error('model imports no default-domain (ai.onnx) opset');
  return imp.version;
}

/** Deep-enough copy: new node/value arrays and maps, shared tensor data. */
export function cloneGraph(g: Graph): Graph {
  return {
    ...g,
    nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: [...n.attributes] })),
    inputs: [...g.inputs],
    outputs: [...g.outputs],
    initializers: new Map(g.initializers),
    valueInfo: [...g.valueInfo],
  };
}

export function cloneModel(m: Model): Model {
  return { ...m, opsetImports: m.opsetImports.map((o) => ({ ...o })), graph: cloneGraph(m.graph) };
}

/** Map from value name to the node producing it. */
export function producers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

/** Floating-point initializers: the parameters scalpel differentiates, trains and corrupts. */
export function floatInitializers(g: Graph): Initializer[] {
  return [...g.initializers.values()].filter((i) => i.tensor && (i.tensor.dtype === 'float32' || i.tensor.dtype === 'float64'));
}
