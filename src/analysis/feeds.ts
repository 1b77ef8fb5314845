// Match a data file's tensors to a model's inputs (and a loss target) before anything runs.
import type { Dim } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shapes.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { LossKind } from '../train/losses.js';
import { declaredType, feedInputs, formatShape } from '../onnx/declared-type.js';

export interface TargetSpec {
  /** Name of the label (cross-entropy) or target (mse, kl) tensor in the data. */
  name: string;
  /** The loss the target is for; decides its expected dtype and shape. */
  kind: LossKind;
  /** Fail when the data lacks it (default true); otherwise a missing target is simply absent. */
  required?: boolean;
  /** The model output the loss is taken of (default: the first). */
  output?: string;
}

export interface CheckFeedsOptions {
  /** Name of the data file, for messages. */
  source?: string;
  /** A loss target to find and check too. */
  target?: TargetSpec;
}

export interface CheckedFeeds {
  /** One tensor per model input, by input name. */
  feeds: Record<string, HostTensor>;
  /** The target tensor (int64 labels or float32 targets), when asked for and present. */
  target?: HostTensor;
  /** Size bound to each symbolic dim, e.g. `{ batch: 4 }`. */
  dims: Record<string, number>;
  /** Leading dim of the first input (the batch size, for the usual layouts). */
  batch?: number;
  /** Data tensors that are neither model inputs nor the target. */
  ignored: string[];
}

const FLOATS = new Set(['float32', 'float64', 'float16']);

function toInt64(t: HostTensor): HostTensor {
  const data = new BigInt64Array(t.data.length);
  for (let i = 0; i < data.length; i++) data[i] = BigInt(t.data[i] as number);
  return { dtype: 'int64', dims: [...t.dims], data };
}

function toFloat32(t: HostTensor): HostTensor {
  return { dtype: 'float32', dims: [...t.dims], data: Float32Array.from(t.data as Float64Array) };
}

/**
 * Check a data file's tensors against a model's inputs: every input present, same element type, same rank,
 * static dims equal, symbolic dims (`batch`) consistent across tensors; optionally find and check a loss target.
 * Throws an Error naming the tensor, the expected and the actual shape.
 *
 * @example
 * const { feeds, target } = checkFeeds(model, await loadData('mlp.safetensors'), { target: { name: 'y', kind: 'cross-entropy' } });
 */
export function checkFeeds(model: Model, data: ReadonlyMap<string, HostTensor>, opts: CheckFeedsOptions = {}): CheckedFeeds {
  const source = opts.source ?? 'data';
  const holds = () => (data.size ? [...data.keys()].join(', ') : 'no tensors');
  const dims: Record<string, number> = {};
  const boundBy: Record<string, string> = {};
  const matchShape = (tensorName: string, actual: readonly number[], expected: readonly Dim[] | undefined, what: string) => {
    if (!expected) return;
    const mismatch = () =>
      new Error(`data tensor '${tensorName}' has shape ${formatShape(actual)}, but ${what} expects ${formatShape(expected)}${boundNote(expected)}`);
    if (actual.length !== expected.length) throw mismatch();
    expected.forEach((d, i) => {
      if (typeof d === 'number' && d !== actual[i]) throw mismatch();
      if (typeof d === 'string') {
        if (d in dims && dims[d] !== actual[i]) throw mismatch();
        if (!(d in dims)) {
          dims[d] = actual[i];
          boundBy[d] = tensorName;
        }
      }
    });
  };
  const boundNote = (expected: readonly Dim[]) => {
    const syms = expected.filter((d): d is string => typeof d === 'string' && d in dims);
    return syms.length ? ` (${[...new Set(syms)].map((s) => `${s} = ${dims[s]} from '${boundBy[s]}'`).join(', ')})` : '';
  };

  const feeds: Record<string, HostTensor> = {};
  const inputs = feedInputs(model);
  const targetName = opts.target?.name;
  if (targetName !== undefined && inputs.some((v) => v.name === targetName)) {
    throw new Error(`the label/target tensor name '${targetName}' is also a model input; pick another with --labels`);
  }
  for (const v of inputs) {
    const want = declaredType(v);
    const t = data.get(v.name);
    if (!t) {
      throw new Error(
        `${source} has no tensor '${v.name}' for model input '${v.name}' (${want.dtype ?? '?'} ${formatShape(want.shape)}); it holds: ${holds()}`,
      );
    }
    if (want.dtype && want.dtype !== t.dtype) {
      throw new Error(
        `data tensor '${v.name}' is ${t.dtype} ${formatShape(t.dims)}, but model input '${v.name}' expects ${want.dtype} ${formatShape(want.shape)}`,
      );
    }
    matchShape(v.name, t.dims, want.shape, `model input '${v.name}'`);
    feeds[v.name] = t;
  }

  let target: HostTensor | undefined;
  const spec = opts.target;
  if (spec) {
    const raw = data.get(spec.name);
    if (!raw && spec.required !== false) {
      const what = spec.kind === 'cross-entropy' ? 'label tensor' : 'target tensor';
      throw new Error(`${source} has no ${what} '${spec.name}' for the ${spec.kind} loss (pick another with --labels); it holds: ${holds()}`);
    }
    if (raw) target = checkTarget(model, spec, raw, matchShape);
  }

  const first = inputs[0] && feeds[inputs[0].name];
  const ignored = [...data.keys()].filter((k) => !(k in feeds) && k !== spec?.name);
  return { feeds, target, dims, batch: first && first.dims.length > 0 ? first.dims[0] : undefined, ignored };
}

function outputShape(model: Model, output: string): Dim[] | undefined {
  const vi = model.graph.outputs.find((o) => o.name === output);
  const declared = vi ? declaredType(vi).shape : undefined;
  if (declared) return declared;
  try {
    return inferTypes(model).get(output)?.shape;
  } catch {
    return undefined;
  }
}

function checkTarget(
  model: Model,
  spec: TargetSpec,
  raw: HostTensor,
  matchShape: (name: string, actual: readonly number[], expected: readonly Dim[] | undefined, what: string) => void,
): HostTensor {
  const output = spec.output ?? model.graph.outputs[0]?.name;
  if (!output || !model.graph.outputs.some((o) => o.name === output)) {
    throw new Error(`model has no output '${spec.output ?? '(first output)'}' to put a loss on`);
  }
  const outShape = outputShape(model, output);
  if (spec.kind === 'cross-entropy') {
    let t = raw;
    if (t.dtype === 'int32') t = toInt64(t);
    if (t.dtype !== 'int64') {
      throw new Error(
        `label tensor '${spec.name}' is ${raw.dtype}, but the cross-entropy loss takes int64 class indices (use --loss mse or kl for float targets)`,
      );
    }
    const expected = outShape && outShape.length > 0 ? outShape.slice(0, -1) : undefined;
    matchShape(spec.name, t.dims, expected, `the cross-entropy loss on output '${output}' ${formatShape(outShape)}`);
    const classes = outShape?.[outShape.length - 1];
    if (typeof classes === 'number') {
      const d = t.data as BigInt64Array;
      for (let i = 0; i < d.length; i++) {
        // A loss over positions (logits [batch, sequence, vocabulary]) ignores labels of -100 (padding), as PyTorch does.
        if ((d[i] < 0n || d[i] >= BigInt(classes)) && !(outShape!.length > 2 && d[i] === -100n)) {
          throw new Error(`label tensor '${spec.name}' holds ${d[i]} at index ${i}, outside the ${classes} classes [0, ${classes}) of output '${output}'`);
        }
      }
    }
    return t;
  }
  let t = raw;
  if (t.dtype === 'float64') t = toFloat32(t);
  if (t.dtype !== 'float32') {
    throw new Error(
      `target tensor '${spec.name}' is ${raw.dtype}, but the ${spec.kind} loss takes float32 targets${FLOATS.has(raw.dtype) ? '' : ' (use --loss cross-entropy for integer labels)'}`,
    );
  }
  matchShape(spec.name, t.dims, outShape, `the ${spec.kind} loss on output '${output}'`);
  return t;
}
