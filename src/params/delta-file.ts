// The delta file: a safetensors file that Python's `safetensors` and numpy read without scalpel.
import { readFile } from 'node:fs/promises';
import { decodeSafetensorsFile, writeSafetensors } from '../data/safetensors.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { changedCount, type FloatData, type FloatDType, type SparseDelta, type TensorDelta } from './delta.js';

/** The format name in the header's `__metadata__`. */
export const DELTA_FORMAT = 'scalpel-delta';
export const DELTA_VERSION = '1';

const PARTS = ['indices', 'before', 'after'] as const;

/**
 * Write a delta atomically as safetensors: per changed tensor T, `T.indices` (int64 flat indices), `T.before` and
 * `T.after` (the tensor's own float type); `__metadata__` holds `format`, `version`, `base_sha256`, `changed`,
 * `tensors` (JSON: each tensor's dtype and shape), `result_sha256` (the edited model's parameter hash, checked after
 * applying), `model_metadata` (JSON: the model metadata the edit changed, key → [before, after]), `command` when
 * given, and the delta's own metadata.
 *
 * @example await writeDelta('edit.safetensors', deltaBetween(a, b), { command: 'scalpel diff a.onnx b.onnx' });
 */
export async function writeDelta(path: string, delta: SparseDelta, opts: { command?: string } = {}): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(delta.baseHash)) throw new Error('a delta without the hash of its base model cannot be written (made with hash: false?)');
  const tensors = new Map<string, HostTensor>();
  const shapes: Record<string, { dtype: FloatDType; shape: number[] }> = {};
  for (const t of delta.tensors) {
    const n = t.indices.length;
    const idx = new BigInt64Array(n);
    for (let j = 0; j < n; j++) idx[j] = BigInt(t.indices[j]);
    tensors.set(`${t.name}.indices`, { dtype: 'int64', dims: [n], data: idx });
    tensors.set(`${t.name}.before`, { dtype: t.dtype, dims: [n], data: t.before });
    tensors.set(`${t.name}.after`, { dtype: t.dtype, dims: [n], data: t.after });
    shapes[t.name] = { dtype: t.dtype, shape: t.shape };
  }
  const metadata: Record<string, string> = {
    ...delta.metadata,
    format: DELTA_FORMAT,
    version: DELTA_VERSION,
    base_sha256: delta.baseHash,
    changed: String(changedCount(delta)),
    tensors: JSON.stringify(shapes),
    ...(delta.resultHash ? { result_sha256: delta.resultHash } : {}),
    ...(delta.metadataChange && Object.keys(delta.metadataChange).length ? { model_metadata: JSON.stringify(delta.metadataChange) } : {}),
    ...(opts.command !== undefined ? { command: opts.command } : delta.metadata.command !== undefined ? { command: delta.metadata.command } : {}),
  };
  await writeSafetensors(path, tensors, metadata);
}

/**
 * Read a delta file written by writeDelta, checking it whole: the format, every tensor's three parts, their types
 * and lengths, sorted unique indices. Throws `<path>: …` naming what is wrong.
 *
 * @example const d = await readDelta('edit.safetensors'); changedCount(d);
 */
export async function readDelta(path: string): Promise<SparseDelta> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read delta file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const { tensors, metadata } = decodeSafetensorsFile(bytes, path);
  const fail = (msg: string): never => {
    throw new Error(`${path}: ${msg}`);
  };
  if (metadata.format !== DELTA_FORMAT)
    fail(`not a scalpel delta file (its __metadata__ format is ${metadata.format === undefined ? 'missing' : `'${metadata.format}'`})`);
  if (metadata.version !== DELTA_VERSION) fail(`delta format version ${metadata.version} is not supported (this scalpel reads version ${DELTA_VERSION})`);
  if (!/^[0-9a-f]{64}$/.test(metadata.base_sha256 ?? '')) fail('__metadata__ base_sha256 is missing or not a sha256');
  let shapes: Record<string, { dtype: FloatDType; shape: number[] }>;
  try {
    shapes = JSON.parse(metadata.tensors ?? '');
  } catch {
    return fail('__metadata__ tensors is missing or not JSON');
  }
  const out: TensorDelta[] = [];
  const seen = new Set<string>();
  for (const key of tensors.keys()) {
    const dot = key.lastIndexOf('.');
    const part = key.slice(dot + 1);
    if (dot < 1 || !(PARTS as readonly string[]).includes(part)) fail(`unexpected tensor '${key}' (a delta holds NAME.indices, NAME.before and NAME.after)`);
    seen.add(key.slice(0, dot));
  }
  for (const name of seen) {
    const [indices, before, after] = PARTS.map((p) => tensors.get(`${name}.${p}`) ?? fail(`'${name}' has no ${p} tensor`));
    const info = shapes[name] ?? fail(`'${name}' is not described in __metadata__ tensors`);
    if (indices.dtype !== 'int64' || indices.dims.length !== 1)
      fail(`'${name}.indices' must be a 1-D int64 tensor, not ${indices.dtype}[${indices.dims.join(',')}]`);
    const n = indices.dims[0];
    for (const [p, t] of [
      ['before', before],
      ['after', after],
    ] as const) {
      if (t.dtype !== info.dtype || t.dims.length !== 1 || t.dims[0] !== n)
        fail(`'${name}.${p}' must be ${info.dtype}[${n}], not ${t.dtype}[${t.dims.join(',')}]`);
    }
    const size = info.shape.reduce((a, b) => a * b, 1);
    const src = indices.data as BigInt64Array;
    const idx = new Uint32Array(n);
    for (let j = 0; j < n; j++) {
      const v = src[j];
      if (v < 0n || v >= BigInt(size)) fail(`'${name}.indices'[${j}] = ${v} is out of range for shape [${info.shape.join(',')}]`);
      if (j > 0 && v <= src[j - 1]) fail(`'${name}.indices' are not sorted and unique (at position ${j})`);
      idx[j] = Number(v);
    }
    out.push({ name, dtype: info.dtype, shape: info.shape, indices: idx, before: before.data as FloatData, after: after.data as FloatData });
  }
  if (metadata.result_sha256 !== undefined && !/^[0-9a-f]{64}$/.test(metadata.result_sha256)) fail('__metadata__ result_sha256 is not a sha256');
  let metadataChange: SparseDelta['metadataChange'];
  if (metadata.model_metadata !== undefined) {
    try {
      metadataChange = JSON.parse(metadata.model_metadata);
    } catch {
      return fail('__metadata__ model_metadata is not JSON');
    }
    const ok = (v: unknown) => v === null || typeof v === 'string';
    if (
      typeof metadataChange !== 'object' ||
      metadataChange === null ||
      !Object.values(metadataChange).every((p) => Array.isArray(p) && p.length === 2 && ok(p[0]) && ok(p[1]))
    ) {
      fail('__metadata__ model_metadata must map keys to [before, after] strings or nulls');
    }
  }
  if (String(out.reduce((a, t) => a + t.indices.length, 0)) !== metadata.changed)
    fail(`__metadata__ changed says ${metadata.changed} entries, the tensors hold ${out.reduce((a, t) => a + t.indices.length, 0)}`);
  const { format: _f, version: _v, base_sha256, changed: _c, tensors: _t, result_sha256, model_metadata: _m, ...rest } = metadata;
  return { baseHash: base_sha256, tensors: out, metadata: rest, resultHash: result_sha256, metadataChange };
}
