// Author and extend ONNX graphs in TypeScript.
import { type DType, type HostTensor, tensor } from '../tensor/host-tensor.js';
import { type AttrValue, makeAttributes } from './attributes.js';
import type { Graph, Model, Node, ValueInfo } from './ir.js';
import type { TypeProto } from './proto.js';
import { onnxFromDtype } from './tensor-proto.js';

/** A dimension: a size, a symbolic name (`'batch'`), or unknown (`null`). */
export type Dim = number | string | null;

/** A tensor ValueInfo with element type and shape. */
export function tensorValueInfo(name: string, dtype: DType, shape?: readonly Dim[]): ValueInfo {
  const type: TypeProto = {
    tensorType: {
      elemType: onnxFromDtype(dtype),
      shape: shape ? { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) } : undefined,
    },
  };
  return { name, type };
}

export function emptyGraph(name = 'graph'): Graph {
  return { name, nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: [], passthrough: {} };
}

/** A model around a graph, importing the default ONNX opset `opset` (17 unless told). */
export function makeModel(graph: Graph, opset = 17, producer = 'scalpel'): Model {
  return { irVersion: 8, opsetImports: [{ domain: '', version: opset }], graph, passthrough: { producerName: producer } };
}

/**
 * Appends nodes, inputs and parameters to a graph, inventing fresh value names.
 *
 * @example
 * const b = new GraphBuilder();
 * const x = b.input('x', 'float32', ['batch', 4]);
 * const w = b.param('fc.weight', tensor('float32', [4, 2], new Float32Array(8)));
 * b.output(b.op('MatMul', [x, w]));
 */
export class GraphBuilder {
  readonly graph: Graph;
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(graph: Graph = emptyGraph()) {
    this.graph = graph;
    for (const v of graph.inputs) this.used.add(v.name);
    for (const k of graph.initializers.keys()) this.used.add(k);
    for (const n of graph.nodes) {
      for (const o of n.outputs) this.used.add(o);
      if (n.name) this.used.add(n.name);
    }
  }

  /** A value name not yet used in the graph, derived from `hint`. */
  fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape?: readonly Dim[]): string {
    this.used.add(name);
    this.graph.inputs.push(tensorValueInfo(name, dtype, shape));
    return name;
  }

  output(name: string, dtype?: DType, shape?: readonly Dim[]): string {
    this.graph.outputs.push(dtype ? tensorValueInfo(name, dtype, shape) : { name });
    return name;
  }

  /** Add an initializer (a parameter or a fixed tensor). */
  param(name: string, t: HostTensor): string {
    this.used.add(name);
    this.graph.initializers.set(name, { name, tensor: t });
    return name;
  }

  /** A Constant node holding `value`; numbers become float32 unless `dtype` says otherwise. */
  constant(value: HostTensor | number | readonly number[], dtype: DType = 'float32', hint = 'const'): string {
    let t: HostTensor;
    if (typeof value === 'number' || Array.isArray(value)) {
      const vals = typeof value === 'number' ? [value] : (value as number[]);
      const dims = typeof value === 'number' ? [] : [vals.length];
      const data = dtype === 'int64' ? BigInt64Array.from(vals.map((v) => BigInt(v))) : dtype === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals);
      t = tensor(dtype === 'int64' || dtype === 'float64' ? dtype : 'float32', dims, data);
    } else {
      t = value as HostTensor;
    }
    return this.op('Constant', [], { value: t }, hint);
  }

  /** A 1-D int64 constant, as Reshape/Slice/ReduceSum/Unsqueeze take for shapes and axes. */
  ints(values: readonly number[], hint = 'ints'): string {
    return this.constant(values, 'int64', hint);
  }

  /** Append one node with one output; returns the output's name. */
  op(opType: string, inputs: readonly string[], attrs?: Record<string, AttrValue | undefined>, hint?: string): string {
    return this.opN(opType, inputs, 1, attrs, hint)[0];
  }

  /** Append one node with `n` outputs. */
  opN(opType: string, inputs: readonly string[], n: number, attrs?: Record<string, AttrValue | undefined>, hint?: string, domain = ''): string[] {
    const base = hint ?? opType.toLowerCase();
    const outputs = Array.from({ length: n }, () => this.fresh(base));
    const node: Node = { opType, domain, name: this.fresh(`${base}_node`), inputs: [...inputs], outputs, attributes: makeAttributes(attrs) };
    this.graph.nodes.push(node);
    return outputs;
  }
}
