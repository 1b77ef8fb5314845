/**
 * Reading and writing the safetensors format: an 8-byte little-endian header length,
 * a JSON header `{name: {dtype, shape, data_offsets}, __metadata__?}`, then the raw tensor bytes.
 */
import { promises as fs } from 'node:fs';
import { BYTES, type DType, type HostTensor, bytesOf, fromBytes, sizeOf } from '../tensor/host-tensor.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

const TO_ST: Record<DType, string> = {
  float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', int8: 'I8', uint8: 'U8', bool: 'BOOL', float16: 'F16',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(
  Object.entries(TO_ST).map(([k, v]) => [v, k as DType]),
);

/** Tensors keyed by name, either as a Map or a plain object; iteration order is file order. */
export type TensorDict = Map<string, HostTensor> | Record<string, HostTensor>;

/** Decoded file contents plus the optional string-to-string `__metadata__` block. */
export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

function entriesOf(tensors: TensorDict): [string, HostTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/**
 * Decode a safetensors buffer, returning tensors and metadata.
 *
 * @param buf whole file contents
 * @param source name used in error messages (usually the file path)
 *
 * @example
 * const { tensors, metadata } = decodeSafetensorsFile(encodeSafetensors({ w: zeros('float32', [2]) }, { step: '1' }));
 */
export function decodeSafetensorsFile(buf: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new Error(`safetensors ${source}: ${msg}`);
  };
  if (buf.byteLength < 8) fail(`truncated header: file is ${buf.byteLength} bytes, need at least 8 for the header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(buf.byteLength - 8)) {
    fail(`truncated header: header claims ${headerLen64} bytes but only ${buf.byteLength - 8} follow the length prefix`);
  }
  const headerLen = Number(headerLen64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const data = buf.subarray(8 + headerLen);
  const tensors = new Map<string, HostTensor>();
  const metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ value for "${k}" is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) fail(`tensor "${name}": entry is not an object`);
    const dtype = typeof info.dtype === 'string' ? FROM_ST[info.dtype] : undefined;
    if (!dtype) fail(`tensor "${name}": unknown dtype ${JSON.stringify(info.dtype)} (supported: ${Object.keys(FROM_ST).join(' ')})`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor "${name}": data_offsets ${JSON.stringify(offs)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > data.byteLength) {
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] out of range (data section is ${data.byteLength} bytes)`);
    }
    const dims = shape as number[];
    const want = sizeOf(dims) * BYTES[dtype as DType];
    if (end - begin !== want) {
      fail(`tensor "${name}": shape [${dims.join(', ')}] ${info.dtype} needs ${want} bytes but data_offsets span ${end - begin}`);
    }
    tensors.set(name, fromBytes(dtype as DType, dims, data.subarray(begin, end)));
  }
  return { tensors, metadata };
}

/**
 * Decode a safetensors buffer into tensors (metadata is dropped; see `decodeSafetensorsFile`).
 *
 * @param buf whole file contents
 * @param source name used in error messages
 *
 * @example
 * const t = decodeSafetensors(readFileSync('model.safetensors')).get('weight');
 */
export function decodeSafetensors(buf: Uint8Array, source = '<buffer>'): Map<string, HostTensor> {
  return decodeSafetensorsFile(buf, source).tensors;
}

/**
 * Read a `.safetensors` file into tensors keyed by name, in file header order.
 *
 * @param path file to read
 *
 * @example
 * const tensors = await readSafetensors('weights.safetensors');
 */
export async function readSafetensors(path: string): Promise<Map<string, HostTensor>> {
  return decodeSafetensors(await fs.readFile(path), path);
}

/**
 * Read a `.safetensors` file, keeping its `__metadata__` block.
 *
 * @param path file to read
 *
 * @example
 * const { tensors, metadata } = await readSafetensorsFile('weights.safetensors');
 */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  return decodeSafetensorsFile(await fs.readFile(path), path);
}

function encodeParts(tensors: TensorDict, metadata?: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entriesOf(tensors)) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    const st = TO_ST[t.dtype];
    if (!st) throw new Error(`safetensors: tensor "${name}" has unsupported dtype ${t.dtype}`);
    const bytes = bytesOf(t);
    const want = sizeOf(t.dims) * BYTES[t.dtype];
    if (bytes.byteLength !== want) {
      throw new Error(`safetensors: tensor "${name}" shape [${t.dims.join(', ')}] ${t.dtype} needs ${want} bytes, data has ${bytes.byteLength}`);
    }
    header[name] = { dtype: st, shape: [...t.dims], data_offsets: [offset, offset + want] };
    blobs.push(bytes);
    offset += want;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - ((8 + headerBytes.byteLength) % 8)) % 8;
  if (pad) headerBytes = enc.encode((json += ' '.repeat(pad)));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  return [prefix, headerBytes, ...blobs];
}

/**
 * Encode tensors (and optional string metadata) as safetensors bytes. Header keys follow the given order.
 *
 * @param tensors tensors by name (Map or object)
 * @param metadata optional `__metadata__` string map
 *
 * @example
 * const bytes = encodeSafetensors({ w: tensor('float32', [2], Float32Array.of(1, 2)) }, { format: 'pt' });
 */
export function encodeSafetensors(tensors: TensorDict, metadata?: Record<string, string>): Uint8Array {
  const parts = encodeParts(tensors, metadata);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/**
 * Write tensors to a `.safetensors` file atomically (temp file `path.<pid>.tmp`, then rename).
 *
 * @param path destination file
 * @param tensors tensors by name (Map or object), written in iteration order
 * @param metadata optional `__metadata__` string map
 *
 * @example
 * await writeSafetensors('out.safetensors', { w: zeros('float32', [3, 3]) }, { epoch: '2' });
 */
export async function writeSafetensors(path: string, tensors: TensorDict, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, encodeParts(tensors, metadata));
}
