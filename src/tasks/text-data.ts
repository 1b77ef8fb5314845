// Text data for a text model: one tensor per model input, matched by name, and the labels, from a .safetensors/.npz
// file or from a folder of train/valid/test files (as scripts/build-text-data.ts writes), checked to fit.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadData, TENSOR_FILE_KINDS } from '../data/load-data.js';
import { readSafetensorsFile } from '../data/safetensors.js';
import { IGNORE_INDEX } from '../data/text-tensors.js';
import { formatShape } from '../onnx/declared-type.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { TextIO } from './text.js';

/** The splits a text-data folder holds. */
export type TextSplit = 'train' | 'valid' | 'test';

/** Labelled text examples for one model: its inputs by name, the labels, where they came from. */
export interface TextData {
  /** One int64 [N, T] tensor per model input, by input name. */
  inputs: Record<string, HostTensor>;
  /** Labels: int64 [N] (classes) or [N, T] (next tokens, IGNORE_INDEX where nothing is predicted). */
  y: HostTensor;
  examples: number;
  /** Class names, when the file records them (its metadata's `classes`). */
  classNames?: string[];
  source: string;
}

function toInt64(t: HostTensor, what: string): HostTensor {
  if (t.dtype === 'int64') return t;
  if (t.dtype !== 'int32' && t.dtype !== 'uint8' && t.dtype !== 'int8') throw new Error(`${what} is ${t.dtype}; token ids and labels are integers`);
  return { dtype: 'int64', dims: t.dims, data: BigInt64Array.from(Array.from(t.data as Int32Array, (v) => BigInt(v))) };
}

/** The file a text `--data` names for a split: the file itself, or `<split>.safetensors` in a folder. */
export function textDataFile(spec: string, split: TextSplit): string {
  if (!existsSync(spec)) throw new Error(`data not found: ${spec}`);
  if (!statSync(spec).isDirectory()) return spec;
  const file = join(spec, `${split}.safetensors`);
  if (!existsSync(file))
    throw new Error(
      `${spec} has no ${split}.safetensors: a text-data folder holds train/valid/test .safetensors files (scripts/build-text-data.ts writes them)`,
    );
  return file;
}

/**
 * Load a split of text data for a model and check it fits: every model input present by name as integers [N, T] with
 * one N and one T, labels `y` [N] within the classes, or [N, T] within the vocabulary or IGNORE_INDEX for a language model.
 *
 * @param spec a .safetensors/.npz file, or a folder of train/valid/test.safetensors
 * @example const test = await loadTextData(textIO(model), 'data/text/topic', 'test');
 */
export async function loadTextData(io: TextIO, spec: string | undefined, split: TextSplit): Promise<TextData> {
  if (spec === undefined)
    throw new Error(
      `a ${io.kind} model needs --data: a folder of train/valid/test .safetensors (e.g. data/text/${io.kind === 'language-modelling' ? 'lm' : 'topic'}) or ${TENSOR_FILE_KINDS} holding ${[...io.inputs, 'y'].join(', ')}`,
    );
  const file = textDataFile(spec, split);
  const tensors = await loadData(file);
  const metadata = file.toLowerCase().endsWith('.npz') ? {} : (await readSafetensorsFile(file)).metadata;
  const holds = [...tensors.keys()].join(', ') || 'nothing';
  const inputs: Record<string, HostTensor> = {};
  let shape: number[] | undefined;
  for (const name of io.inputs) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file} has no tensor '${name}' for model input '${name}'; it holds ${holds}`);
    if (t.dims.length !== 2 || (shape && (t.dims[0] !== shape[0] || t.dims[1] !== shape[1]))) {
      throw new Error(
        `${file}: tensor '${name}' is ${formatShape(t.dims)}; the model's inputs take [N, T]${shape ? ` with N = ${shape[0]} and T = ${shape[1]} as '${io.inputs[0]}'` : ''}`,
      );
    }
    shape ??= t.dims;
    inputs[name] = toInt64(t, `${file}: tensor '${name}'`);
  }
  const raw = tensors.get('y');
  if (!raw) throw new Error(`${file} has no labels 'y'; it holds ${holds}`);
  const y = toInt64(raw, `${file}: labels 'y'`);
  const [N, T] = shape!;
  const lm = io.kind === 'language-modelling';
  const want = lm ? [N, T] : [N];
  if (y.dims.length !== want.length || y.dims.some((d, i) => d !== want[i])) {
    throw new Error(`${file}: labels 'y' are ${formatShape(y.dims)}, but a ${io.kind} model over [${N}, ${T}] inputs takes ${formatShape(want)}`);
  }
  const labels = y.data as BigInt64Array;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if ((l < 0n || l >= BigInt(io.classes)) && !(lm && l === BigInt(IGNORE_INDEX))) {
      throw new Error(
        `${file}: label ${l} at ${lm ? `row ${Math.floor(i / T)}, position ${i % T}` : `example ${i}`} is outside the model's ${io.classes} ${lm ? 'tokens' : 'classes'}${lm ? ` (${IGNORE_INDEX} marks padding)` : ''}`,
      );
    }
  }
  let classNames: string[] | undefined;
  try {
    const c = metadata.classes ? (JSON.parse(metadata.classes) as unknown) : undefined;
    if (Array.isArray(c) && c.every((s) => typeof s === 'string')) classNames = c as string[];
  } catch {
    // names are a nicety: a file without readable ones shows class numbers
  }
  return { inputs, y, examples: N, classNames, source: file };
}
