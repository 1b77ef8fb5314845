// Loading models and data files for analyses, with checks that turn damaged inputs into clear errors.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Dim } from '../onnx/builder.js';
import type { Model, ValueInfo } from '../onnx/ir.js';
import { readModel, samePath } from '../onnx/model-io.js';
import { toNumber } from '../onnx/proto.js';
import { dtypeFromOnnx } from '../onnx/tensor-proto.js';
import { readSafetensors } from '../data/safetensors.js';
import type { DType, HostTensor } from '../tensor/host-tensor.js';

/** Element type and shape declared by a value info (`shape` undefined when the rank is unknown). */
export interface DeclaredType {
  /** Element type, or the ONNX type number when scalpel does not compute with it, or undefined when not declared. */
  dtype?: DType | `onnx:${number}`;
  /** Dims: sizes, symbolic names (`'batch'`) or null for unknown. */
  shape?: Dim[];
}

/**
 * The declared element type and shape of a graph input, output or value info.
 *
 * @example declaredType(model.graph.inputs[0]) // { dtype: 'float32', shape: ['batch', 1, 28, 28] }
 */
export function declaredType(v: ValueInfo): DeclaredType {
  const tt = v.type?.tensorType;
  if (!tt) return {};
  const elem = tt.elemType ?? 0;
  const dtype = elem ? (dtypeFromOnnx(elem) ?? (`onnx:${elem}` as const)) : undefined;
  const shape = tt.shape
    ? (tt.shape.dim ?? []).map((d): Dim => (d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : d.dimParam ? d.dimParam : null))
    : undefined;
  return { dtype, shape };
}

/** A shape as text: `[batch, 1, 28, 28]`, unknown dims as `?`, unknown rank as `[...]`. */
export function formatShape(shape: readonly Dim[] | undefined): string {
  if (!shape) return '[...]';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** The graph inputs a caller must feed: inputs that are not also initializers. */
export function feedInputs(model: Model): ValueInfo[] {
  return model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
}

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

/**
 * Read an ONNX model file and check that its graph is complete.
 *
 * @example const model = loadModel('test/fixtures/torch/mlp.onnx');
 */
export function loadModel(path: string): Model {
  const model = readModel(path);
  checkGraphComplete(model, path);
  return model;
}

/**
 * Read a safetensors data file, with a clear error when it is missing or malformed.
 *
 * @example const data = await loadData('test/fixtures/torch/mlp.safetensors'); data.get('x')
 */
export async function loadData(path: string): Promise<Map<string, HostTensor>> {
  try {
    statSync(path);
  } catch {
    throw new Error(`data file not found: ${path}`);
  }
  try {
    return await readSafetensors(path);
  } catch (e) {
    const msg = (e as Error).message;
    const prefix = `safetensors ${path}: `;
    throw new Error(msg.startsWith(prefix) ? `${path} is not a valid safetensors file (${msg.slice(prefix.length)})` : msg);
  }
}

/**
 * Check that `out` may be written: it is none of `inputs` (never overwrite what was read) and its directory exists.
 *
 * @example checkOutputPath('grads.safetensors', { model: 'mlp.onnx', data: 'mlp.safetensors' });
 */
export function checkOutputPath(out: string, inputs: Record<string, string | undefined>, flag = '--out'): void {
  for (const [what, path] of Object.entries(inputs)) {
    if (path && samePath(out, path)) throw new Error(`refusing to overwrite the input ${what} file ${path} with the output (${flag} ${out})`);
  }
  const dir = dirname(resolve(out));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new Error(`cannot write ${out}: directory ${dir} does not exist`);
  try {
    if (statSync(out).isDirectory()) throw new Error(`cannot write ${out}: it is a directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
