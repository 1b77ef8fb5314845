/**
 * NumPy `.npy` arrays (format versions 1, 2 and 3, little-endian, C order) and `.npz` archives
 * (zip files of `.npy` members, stored or deflated; the zip directory is parsed by hand).
 */
import { readFileSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { BYTES, type DType, type HostTensor, bytesOf, fromBytes, sizeOf } from '../tensor/host-tensor.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { TensorDict } from './safetensors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '<f2': 'float16',
  '|u1': 'uint8', '|i1': 'int8', '|b1': 'bool', '<u1': 'uint8', '<i1': 'int8', '<b1': 'bool',
};
const DTYPE_TO_DESCR: Record<DType, string> = {
  float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', float16: '<f2', uint8: '|u1', int8: '|i1', bool: '|b1',
};

/**
 * Decode one `.npy` array.
 *
 * @param buf file contents
 * @param source name used in error messages
 *
 * @example
 * const t = decodeNpy(encodeNpy(tensor('float32', [2], Float32Array.of(1, 2))));
 */
export function decodeNpy(buf: Uint8Array, source = '<buffer>'): HostTensor {
  const fail = (msg: string): never => {
    throw new Error(`npy ${source}: ${msg}`);
  };
  if (buf.byteLength < 10 || !MAGIC.every((b, i) => buf[i] === b)) fail('bad magic: not a .npy file (expected \\x93NUMPY)');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.byteLength < 12) fail('truncated header');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    return fail(`unsupported format version ${major}.${buf[7]} (supported: 1, 2, 3)`);
  }
  if (start + headerLen > buf.byteLength) fail(`truncated header: needs ${start + headerLen} bytes, file has ${buf.byteLength}`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(start, start + headerLen));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`malformed header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') fail('fortran_order=True arrays are not supported; save a C-ordered array (np.ascontiguousarray) instead');
  const dtype = DESCR_TO_DTYPE[descr as string];
  if (!dtype) {
    fail(`unsupported dtype '${descr}' (supported: ${Object.keys(DESCR_TO_DTYPE).join(' ')}; big-endian is not supported)`);
  }
  const dims = (shapeText as string)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const d = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(d) || d < 0) fail(`bad shape (${shapeText})`);
      return d;
    });
  const dataStart = start + headerLen;
  const want = sizeOf(dims) * BYTES[dtype as DType];
  const have = buf.byteLength - dataStart;
  if (have !== want) {
    fail(`shape (${dims.join(', ')}) ${descr} needs ${want} data bytes, file has ${have}`);
  }
  return fromBytes(dtype, dims, buf.subarray(dataStart));
}

/**
 * Encode a tensor as `.npy` bytes (format 1.0, or 2.0 if the header is too long), C order.
 *
 * @param t tensor of any supported dtype (float32, float64, int64, int32, int8, uint8, bool, float16)
 *
 * @example
 * writeFileSync('a.npy', encodeNpy(tensor('int64', [2], BigInt64Array.of(1n, 2n))));
 */
export function encodeNpy(t: HostTensor): Uint8Array {
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (!descr) throw new Error(`npy: unsupported dtype ${t.dtype}`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const v1 = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10 <= 0xffff;
  const prefix = v1 ? 10 : 12;
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  dict = dict + ' '.repeat(total - prefix - dict.length - 1) + '\n';
  const data = bytesOf(t);
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = v1 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (v1) view.setUint16(8, dict.length, true);
  else view.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  out.set(data, total);
  return out;
}

/**
 * Read a `.npy` file.
 *
 * @param path file to read
 *
 * @example
 * const t = readNpy('weights.npy');
 */
export function readNpy(path: string): HostTensor {
  return decodeNpy(readFileSync(path), path);
}

/**
 * Write a tensor as a `.npy` file atomically (float32 and int64 are the usual cases; every HostTensor dtype works).
 *
 * @param path destination file
 * @param t tensor to write
 *
 * @example
 * await writeNpy('x.npy', tensor('float32', [2, 2], new Float32Array(4)));
 */
export async function writeNpy(path: string, t: HostTensor): Promise<void> {
  await writeFileAtomic(path, [encodeNpy(t)]);
}

// ---- zip (npz) ----

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (zip/gzip polynomial) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Decode an `.npz` archive into arrays keyed by member name (the `.npy` suffix is dropped).
 * Handles stored and deflated members and zip64 records as numpy writes them.
 *
 * @param buf archive contents
 * @param source name used in error messages
 *
 * @example
 * const arrays = decodeNpz(readFileSync('arrays.npz')); // Map { 'x' => HostTensor, ... }
 */
export function decodeNpz(buf: Uint8Array, source = '<buffer>'): Map<string, HostTensor> {
  const fail = (msg: string): never => {
    throw new Error(`npz ${source}: ${msg}`);
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  const u64 = (o: number) => Number(view.getBigUint64(o, true));
  let eocd = -1;
  for (let i = buf.byteLength - 22; i >= Math.max(0, buf.byteLength - 22 - 0xffff); i--) {
    if (u32(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('not a zip archive (no end-of-central-directory record; file empty or truncated?)');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && eocd >= 20 && u32(eocd - 20) === 0x07064b50) {
    const z64 = u64(eocd - 20 + 8);
    if (z64 + 56 > buf.byteLength || u32(z64) !== 0x06064b50) fail('zip64 end-of-central-directory record is missing or out of range');
    count = u64(z64 + 32);
    cdSize = u64(z64 + 40);
    cdOffset = u64(z64 + 48);
  }
  if (cdOffset + cdSize > buf.byteLength) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) out of range (file is ${buf.byteLength} bytes)`);
  const out = new Map<string, HostTensor>();
  let p = cdOffset;
  for (let e = 0; e < count; e++) {
    if (p + 46 > buf.byteLength || u32(p) !== 0x02014b50) fail(`central directory entry ${e} is corrupt`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let csize = u32(p + 20);
    let usize = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let local = u32(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > buf.byteLength) fail(`central directory entry ${e} runs past the end of the file`);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended info: present fields appear in the order usize, csize, local offset.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = u16(x);
      const len = u16(x + 2);
      if (id === 0x0001) {
        let q = x + 4;
        if (usize === 0xffffffff) (usize = u64(q)), (q += 8);
        if (csize === 0xffffffff) (csize = u64(q)), (q += 8);
        if (local === 0xffffffff) local = u64(q);
      }
      x += 4 + len;
    }
    p += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) fail(`member "${name}" is encrypted`);
    if (name.endsWith('/')) continue;
    if (local + 30 > buf.byteLength || u32(local) !== 0x04034b50) fail(`member "${name}": local header at ${local} is missing or out of range`);
    const dataStart = local + 30 + u16(local + 26) + u16(local + 28);
    if (dataStart + csize > buf.byteLength) fail(`member "${name}": data [${dataStart}, ${dataStart + csize}) out of range (file is ${buf.byteLength} bytes)`);
    const raw = buf.subarray(dataStart, dataStart + csize);
    let bytes: Uint8Array;
    if (method === 0) bytes = raw;
    else if (method === 8) {
      try {
        bytes = inflateRawSync(raw);
      } catch (err) {
        return fail(`member "${name}": deflate stream is corrupt (${(err as Error).message})`);
      }
    } else return fail(`member "${name}": unsupported compression method ${method} (only stored=0 and deflate=8)`);
    if (bytes.byteLength !== usize) fail(`member "${name}": expected ${usize} uncompressed bytes, got ${bytes.byteLength}`);
    if (crc32(bytes) !== crc) fail(`member "${name}": CRC mismatch`);
    const key = name.endsWith('.npy') ? name.slice(0, -4) : name;
    out.set(key, decodeNpy(bytes, `${source}:${name}`));
  }
  return out;
}

/**
 * Read an `.npz` archive.
 *
 * @param path file to read
 *
 * @example
 * const arrays = readNpz('arrays.npz');
 */
export function readNpz(path: string): Map<string, HostTensor> {
  return decodeNpz(readFileSync(path), path);
}

/**
 * Encode arrays as an `.npz` archive (members `<name>.npy`).
 *
 * @param arrays tensors by name (Map or object)
 * @param options.compress deflate members like `np.savez_compressed` (default false: stored like `np.savez`)
 *
 * @example
 * const bytes = encodeNpz({ x: tensor('float32', [1], Float32Array.of(1)) }, { compress: true });
 */
export function encodeNpz(arrays: TensorDict, options: { compress?: boolean } = {}): Uint8Array {
  const entries = arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays);
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of entries) {
    const name = new TextEncoder().encode(`${key}.npy`);
    const body = encodeNpy(t);
    const data = options.compress ? deflateRawSync(body) : body;
    const crc = crc32(body);
    if (offset > 0xfffffffe || data.byteLength > 0xfffffffe || body.byteLength > 0xfffffffe) {
      throw new Error('npz: archives over 4 GiB are not supported by encodeNpz');
    }
    const lh = new Uint8Array(30 + name.byteLength);
    const lv = new DataView(lh.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, options.compress ? 8 : 0, true);
    lv.setUint16(12, 0x21, true); // DOS date 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.byteLength, true);
    lv.setUint32(22, body.byteLength, true);
    lv.setUint16(26, name.byteLength, true);
    lh.set(name, 30);
    const ch = new Uint8Array(46 + name.byteLength);
    const cv = new DataView(ch.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, options.compress ? 8 : 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.byteLength, true);
    cv.setUint32(24, body.byteLength, true);
    cv.setUint16(28, name.byteLength, true);
    cv.setUint32(42, offset, true);
    ch.set(name, 46);
    locals.push(lh, data);
    central.push(ch);
    offset += lh.byteLength + data.byteLength;
  }
  const cdSize = central.reduce((a, c) => a + c.byteLength, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const parts = [...locals, ...central, end];
  const out = new Uint8Array(offset + cdSize + 22);
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.byteLength;
  }
  return out;
}

/**
 * Write arrays as an `.npz` archive atomically.
 *
 * @param path destination file
 * @param arrays tensors by name (Map or object)
 * @param options.compress deflate members (default false)
 *
 * @example
 * await writeNpz('arrays.npz', { x: zeros('float32', [3]) });
 */
export async function writeNpz(path: string, arrays: TensorDict, options: { compress?: boolean } = {}): Promise<void> {
  await writeFileAtomic(path, [encodeNpz(arrays, options)]);
}
