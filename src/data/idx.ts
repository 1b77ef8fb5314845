/**
 * The IDX format used by MNIST and Fashion-MNIST: big-endian magic `00 00 <type> <ndim>`, `ndim` big-endian
 * uint32 dimensions, then the row-major data. Files may be gzipped (detected by the `1f 8b` magic).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type DType, type HostTensor, sizeOf, typedArrayFor } from '../tensor/host-tensor.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

/** IDX type code → [dtype it decodes to, bytes per element in the file]. int16 widens to int32. */
const IDX_TYPES: Record<number, [DType, number]> = {
  0x08: ['uint8', 1],
  0x09: ['int8', 1],
  0x0b: ['int32', 2],
  0x0c: ['int32', 4],
  0x0d: ['float32', 4],
  0x0e: ['float64', 8],
};

/** True when the bytes start with the gzip magic `1f 8b`. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.byteLength >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Decode IDX bytes (raw or gzipped) into a tensor: images `[N, 28, 28]` uint8, labels `[N]` uint8, etc.
 *
 * @param input file contents
 * @param source name used in error messages (usually the file path)
 *
 * @example
 * const labels = decodeIdx(readFileSync('train-labels-idx1-ubyte.gz'), 'train-labels');
 */
export function decodeIdx(input: Uint8Array, source = '<buffer>'): HostTensor {
  const fail = (msg: string): never => {
    throw new Error(`idx ${source}: ${msg}`);
  };
  let buf = input;
  if (isGzip(buf)) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      fail(`gzip stream is corrupt or truncated (${(e as Error).message}); compressed size ${input.byteLength} bytes`);
    }
  }
  if (buf.byteLength === 0) fail('file is empty: expected at least 4 header bytes, got 0');
  if (buf.byteLength < 4) fail(`truncated header: expected at least 4 bytes, got ${buf.byteLength}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const spec = IDX_TYPES[buf[2]];
  const ndim = buf[3];
  if (buf[0] !== 0 || buf[1] !== 0 || !spec || ndim === 0) {
    fail(`bad magic ${magic}: expected 00 00 <type 08|09|0b|0c|0d|0e> <ndim ≥ 1>`);
  }
  const [dtype, width] = spec;
  const headerBytes = 4 + 4 * ndim;
  if (buf.byteLength < headerBytes) {
    fail(`truncated header: ${ndim}-d IDX needs ${headerBytes} header bytes, got ${buf.byteLength}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const n = sizeOf(dims);
  const expected = headerBytes + n * width;
  if (buf.byteLength !== expected) {
    const what = buf.byteLength < expected ? 'truncated data' : 'trailing bytes';
    fail(`${what}: shape [${dims.join(', ')}] expects ${expected} bytes (${headerBytes} header + ${n * width} data), got ${buf.byteLength}`);
  }
  const data = typedArrayFor(dtype, n);
  if (width === 1) {
    new Uint8Array(data.buffer).set(buf.subarray(headerBytes, expected));
  } else {
    const out = data as Int32Array | Float32Array | Float64Array;
    for (let i = 0, o = headerBytes; i < n; i++, o += width) {
      out[i] =
        buf[2] === 0x0b ? view.getInt16(o, false)
        : buf[2] === 0x0c ? view.getInt32(o, false)
        : buf[2] === 0x0d ? view.getFloat32(o, false)
        : view.getFloat64(o, false);
    }
  }
  return { dtype, dims, data };
}

/**
 * Read an IDX file (raw or gzipped).
 *
 * @param path file to read
 *
 * @example
 * const images = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'); // uint8 [10000, 28, 28]
 */
export function readIdx(path: string): HostTensor {
  return decodeIdx(readFileSync(path), path);
}

/**
 * Encode a uint8/int8/int32/float32/float64 tensor as IDX bytes.
 *
 * @param t tensor to encode (at least 1-d, at most 255 dims)
 * @param options.gzip gzip the result (default false)
 *
 * @example
 * const bytes = encodeIdx(tensor('uint8', [2], Uint8Array.of(3, 7)), { gzip: true });
 */
export function encodeIdx(t: HostTensor, options: { gzip?: boolean } = {}): Uint8Array {
  const codes: Partial<Record<DType, [number, number]>> = {
    uint8: [0x08, 1], int8: [0x09, 1], int32: [0x0c, 4], float32: [0x0d, 4], float64: [0x0e, 8],
  };
  const spec = codes[t.dtype];
  if (!spec) throw new Error(`idx: cannot encode dtype ${t.dtype} (supported: ${Object.keys(codes).join(', ')})`);
  if (t.dims.length < 1 || t.dims.length > 255) throw new Error(`idx: cannot encode ${t.dims.length}-d tensor`);
  const [code, width] = spec;
  const n = sizeOf(t.dims);
  const header = 4 + 4 * t.dims.length;
  const out = new Uint8Array(header + n * width);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = t.dims.length;
  t.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  if (width === 1) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, n), header);
  } else {
    const src = t.data as Int32Array | Float32Array | Float64Array;
    for (let i = 0, o = header; i < n; i++, o += width) {
      if (code === 0x0c) view.setInt32(o, src[i], false);
      else if (code === 0x0d) view.setFloat32(o, src[i], false);
      else view.setFloat64(o, src[i], false);
    }
  }
  return options.gzip ? gzipSync(out, { level: 9 }) : out;
}

/**
 * Write a tensor as an IDX file atomically; gzipped when `path` ends in `.gz`.
 *
 * @param path destination file
 * @param t tensor to write
 *
 * @example
 * await writeIdx('labels-idx1-ubyte.gz', tensor('uint8', [2], Uint8Array.of(3, 7)));
 */
export async function writeIdx(path: string, t: HostTensor): Promise<void> {
  await writeFileAtomic(path, [encodeIdx(t, { gzip: path.endsWith('.gz') })]);
}
