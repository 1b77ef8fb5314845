// What a model is: inputs, outputs, parameters by tensor, op type and layer, opsets, gradient coverage.
import { unsupportedOps } from '../autodiff/differentiate.js';
import { NOT_DIFFERENTIABLE, RULES } from '../autodiff/rules/index.js';
import type { Dim } from '../onnx/builder.js';
import type { Initializer, Model, Node } from '../onnx/ir.js';
import { toNumber } from '../onnx/proto.js';
import { inferTypes } from '../onnx/shapes.js';
import { dtypeFromOnnx } from '../onnx/tensor-proto.js';
import { describeParams, layerOf, type ParamKind } from '../params/describe.js';
import { BYTES, sizeOf } from '../tensor/host-tensor.js';
import { declaredType, feedInputs } from '../onnx/declared-type.js';

export interface ValueSummary {
  name: string;
  /** Element type ('float32', …; 'onnx:N' for types scalpel does not compute with; '?' when undeclared). */
  dtype: string;
  /** Dims: sizes, symbolic names such as 'batch', or null when unknown; null when even the rank is unknown. */
  shape: Dim[] | null;
}

export interface ParameterTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Number of elements. */
  count: number;
  bytes: number;
  /** Floating-point and read by a node as a differentiable input (not a BatchNorm running statistic, not unused). */
  trainable: boolean;
  /** What the parameter is, from the op and input slot that use it (conv, fc, bias, batch-norm, …); 'constant' for non-float tensors. */
  kind: ParamKind | 'constant';
  /**
   * Name prefix before the last '.' ('layer1.conv1' for 'layer1.conv1.weight'); for generated names such as
   * 'onnx::MatMul_12', the scope of the node reading it ('/layer1/fc/MatMul' -> 'layer1.fc'); else the name itself.
   */
  layer: string;
  /** Op type of the first node reading it ('(unused)' when none does). */
  opType: string;
}

export interface ParameterGroup {
  name: string;
  /** Elements in the group's tensors. */
  count: number;
  /** Elements in the group's trainable tensors. */
  trainable: number;
  tensors: number;
}

export interface OpSummary {
  opType: string;
  /** Nodes of this type. */
  nodes: number;
  /** 'rule': has a gradient rule; 'not-differentiable': gradients stop there by definition; 'missing': no rule. */
  gradient: 'rule' | 'not-differentiable' | 'missing';
}

export interface InspectReport {
  irVersion: number;
  producer?: string;
  graphName: string;
  opsets: { domain: string; version: number }[];
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  /** Number of top-level nodes. */
  nodes: number;
  ops: OpSummary[];
  parameters: {
    /** Elements in all initializers. */
    total: number;
    /** Elements in trainable initializers. */
    trainable: number;
    tensors: number;
    bytes: number;
  };
  byTensor: ParameterTensor[];
  byOpType: ParameterGroup[];
  byLayer: ParameterGroup[];
  /** True when every op type has a gradient rule or is marked not differentiable. */
  differentiable: boolean;
  /** Op types without a gradient rule, with the nodes that use them. */
  unsupportedOps: { opType: string; nodes: string[] }[];
  /** What loading changes (opset conversion, fixed batch) and what the export did (folded BatchNorm), one sentence each. */
  notes?: string[];
  /** The opset conversion on load and its check against onnxruntime, for opsets 11–12. */
  conversion?: { from: number; to: number; changes: string[]; ok: boolean; maxError: number; reason?: string };
}

/** Inputs of ops that hold state or settings rather than parameters (gradients are not taken for them). */
const BUFFER_INPUTS: Record<string, readonly number[]> = {
  BatchNormalization: [3, 4],
  Resize: [1, 2, 3],
  Upsample: [1],
};

const FLOAT_DTYPES = new Set(['float32', 'float64', 'float16']);

function ruleKey(n: Node): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;
}

function initInfo(init: Initializer): { dtype: string; shape: number[]; bytes: number } {
  if (init.tensor) return { dtype: init.tensor.dtype, shape: [...init.tensor.dims], bytes: init.tensor.data.byteLength };
  const p = init.opaque!;
  const dt = dtypeFromOnnx(p.dataType ?? 0);
  const shape = (p.dims ?? []).map(toNumber);
  return { dtype: dt ?? `onnx:${p.dataType ?? 0}`, shape, bytes: dt ? sizeOf(shape) * BYTES[dt] : (p.rawData?.length ?? 0) };
}

function group(list: ParameterTensor[], key: (t: ParameterTensor) => string): ParameterGroup[] {
  const m = new Map<string, ParameterGroup>();
  for (const t of list) {
    const k = key(t);
    const gr = m.get(k) ?? { name: k, count: 0, trainable: 0, tensors: 0 };
    gr.count += t.count;
    gr.tensors += 1;
    if (t.trainable) gr.trainable += t.count;
    m.set(k, gr);
  }
  return [...m.values()];
}

/**
 * Describe a model: inputs and outputs with shapes, parameter counts by tensor, op type and layer,
 * opsets, and which ops lack a gradient rule.
 *
 * @example
 * const r = inspectModel(loadModel('test/fixtures/torch/lenet.onnx'));
 * r.parameters.trainable; // 30646
 */
export function inspectModel(model: Model): InspectReport {
  const g = model.graph;

  // Who reads each initializer, and whether any read is differentiable.
  const firstReader = new Map<string, { node: Node; index: number }>();
  const differentiableRead = new Set<string>();
  g.nodes.forEach((n, index) => {
    const rule = RULES[ruleKey(n)];
    n.inputs.forEach((name, pos) => {
      if (!name || !g.initializers.has(name)) return;
      if (!firstReader.has(name)) firstReader.set(name, { node: n, index });
      if (rule !== NOT_DIFFERENTIABLE && !(BUFFER_INPUTS[n.opType] ?? []).includes(pos)) differentiableRead.add(name);
    });
  });

  const described = new Map(describeParams(model).map((p) => [p.name, p]));
  const byTensor: ParameterTensor[] = [...g.initializers.values()].map((init) => {
    const desc = described.get(init.name);
    const { dtype, shape, bytes } = initInfo(init);
    const reader = firstReader.get(init.name);
    const layer = desc?.layer ?? layerOf(init.name, reader);
    return {
      name: init.name,
      dtype,
      shape,
      count: sizeOf(shape),
      bytes,
      trainable: FLOAT_DTYPES.has(dtype) && differentiableRead.has(init.name) && (desc?.trainable ?? true),
      kind: desc?.kind ?? 'constant',
      layer,
      opType: reader ? reader.node.opType : '(unused)',
    };
  });

  let inferred: ReturnType<typeof inferTypes> | undefined;
  const summary = (v: { name: string; type?: unknown }, infer: boolean): ValueSummary => {
    const d = declaredType(v as Parameters<typeof declaredType>[0]);
    let { dtype, shape } = d as { dtype?: string; shape?: Dim[] };
    if (infer && (!dtype || !shape)) {
      try {
        inferred ??= inferTypes(model);
        const t = inferred.get(v.name);
        dtype ??= t?.dtype;
        shape ??= t?.shape;
      } catch {
        /* inference is best-effort */
      }
    }
    return { name: v.name, dtype: dtype ?? '?', shape: shape ?? null };
  };

  const opCounts = new Map<string, number>();
  for (const n of g.nodes) opCounts.set(ruleKey(n), (opCounts.get(ruleKey(n)) ?? 0) + 1);
  const ops: OpSummary[] = [...opCounts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([opType, nodes]) => {
      const rule = RULES[opType];
      return { opType, nodes, gradient: rule === undefined ? 'missing' : rule === NOT_DIFFERENTIABLE ? 'not-differentiable' : 'rule' };
    });

  const missing = unsupportedOps(model);
  const unsupported = missing.map((opType) => ({
    opType,
    nodes: g.nodes
      .map((n, i) => ({ n, i }))
      .filter(({ n }) => ruleKey(n) === opType)
      .map(({ n, i }) => n.name || `${n.opType}#${i}`),
  }));

  const producer = [model.passthrough.producerName, model.passthrough.producerVersion].filter((x) => typeof x === 'string' && x).join(' ');
  return {
    irVersion: model.irVersion,
    producer: producer || undefined,
    graphName: g.name,
    opsets: model.opsetImports.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version })),
    inputs: feedInputs(model).map((v) => summary(v, false)),
    outputs: g.outputs.map((v) => summary(v, true)),
    nodes: g.nodes.length,
    ops,
    parameters: {
      total: byTensor.reduce((a, t) => a + t.count, 0),
      trainable: byTensor.reduce((a, t) => a + (t.trainable ? t.count : 0), 0),
      tensors: byTensor.length,
      bytes: byTensor.reduce((a, t) => a + t.bytes, 0),
    },
    byTensor,
    byOpType: group(byTensor, (t) => t.opType).sort((a, b) => b.count - a.count),
    byLayer: group(byTensor, (t) => t.layer),
    differentiable: missing.length === 0,
    unsupportedOps: unsupported,
  };
}
