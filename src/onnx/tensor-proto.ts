// TensorProto <-> HostTensor, including raw_data, typed fields and external data.
import { readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import Long from 'long';
import { type DType, type HostTensor, sizeOf, typedArrayFor, type TypedData, BYTES } from '../tensor/host-tensor.js';
import { OnnxDataType, type TensorProto, toNumber } from './proto.js';

const FROM_ONNX: Record<number, DType> = {
  [OnnxDataType.FLOAT]: 'float32',
  [OnnxDataType.DOUBLE]: 'float64',
  [OnnxDataType.INT64]: 'int64',
  [OnnxDataType.INT32]: 'int32',
  [OnnxDataType.INT8]: 'int8',
  [OnnxDataType.UINT8]: 'uint8',
  [OnnxDataType.BOOL]: 'bool',
  [OnnxDataType.FLOAT16]: 'float16',
};

const TO_ONNX: Record<DType, number> = {
  float32: OnnxDataType.FLOAT,
  float64: OnnxDataType.DOUBLE,
  int64: OnnxDataType.INT64,
  int32: OnnxDataType.INT32,
  int8: OnnxDataType.INT8,
  uint8: OnnxDataType.UINT8,
  bool: OnnxDataType.BOOL,
  float16: OnnxDataType.FLOAT16,
};

/** The host dtype for an ONNX element type, or undefined when scalpel does not compute with it. */
export function dtypeFromOnnx(elemType: number): DType | undefined {
  return FROM_ONNX[elemType];
}

export function onnxFromDtype(dtype: DType): number {
  return TO_ONNX[dtype];
}

/** Where external tensor data is read from: the directory of the model file. */
export interface ExternalDataSource {
  baseDir: string;
}

function externalBytes(t: TensorProto, src: ExternalDataSource | undefined): Uint8Array {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new Error(`tensor '${t.name}' has external data without a location`);
  if (!src) throw new Error(`tensor '${t.name}' stores its data in '${location}', but the model was not read from a file`);
  if (isAbsolute(location) || normalize(location).startsWith('..')) {
    throw new Error(`tensor '${t.name}': external data location '${location}' must be relative to the model's directory`);
  }
  const file = join(src.baseDir, location);
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new Error(`tensor '${t.name}': cannot read external data file '${file}': ${(e as Error).message}`);
  }
  const offset = Number(kv.get('offset') ?? 0);
  const length = kv.has('length') ? Number(kv.get('length')) : buf.length - offset;
  if (offset + length > buf.length) {
    throw new Error(`tensor '${t.name}': external data '${file}' has ${buf.length} bytes, needs ${offset + length}`);
  }
  return buf.subarray(offset, offset + length);
}

/** Tensors of at least this many bytes are read without a copy when their bytes are aligned. */
const ZERO_COPY_BYTES = 1 << 20;

/** The bytes `raw` seen as `n` elements of `dtype` (raw must be aligned to the element size). */
function viewAs(dtype: DType, raw: Uint8Array, n: number): TypedData {
  const make = typedArrayFor(dtype, 0).constructor as new (b: ArrayBufferLike, o: number, n: number) => TypedData;
  return new make(raw.buffer, raw.byteOffset, n);
}

/** Decode a TensorProto into a host tensor; returns undefined for element types scalpel keeps opaque. */
export function tensorFromProto(t: TensorProto, src?: ExternalDataSource): HostTensor | undefined {
  const dtype = dtypeFromOnnx(t.dataType ?? 0);
  if (!dtype) return undefined;
  const dims = (t.dims ?? []).map(toNumber);
  const n = sizeOf(dims);
  let raw: Uint8Array | undefined = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (t.dataLocation === 1) raw = externalBytes(t, src);
  if (raw) {
    const need = n * BYTES[dtype];
    if (raw.length !== need) {
      throw new Error(`tensor '${t.name}' of shape [${dims.join(', ')}] (${dtype}) needs ${need} bytes of data, has ${raw.length}`);
    }
    // A large, aligned tensor is a view into the bytes read (no copy: a 100M-parameter model reads in half the
    // time and memory); a small one is copied, so that it does not keep a whole file's buffer alive.
    if (need >= ZERO_COPY_BYTES && raw.byteOffset % BYTES[dtype] === 0) return { dtype, dims, data: viewAs(dtype, raw, n) };
    const out = typedArrayFor(dtype, n);
    new Uint8Array(out.buffer, out.byteOffset, need).set(raw);
    return { dtype, dims, data: out };
  }
  const out = typedArrayFor(dtype, n);
  const fill = (src: ArrayLike<unknown>, conv: (v: never) => number | bigint): void => {
    if (src.length !== n) throw new Error(`tensor '${t.name}' of shape [${dims.join(', ')}] needs ${n} values, has ${src.length}`);
    for (let i = 0; i < n; i++) (out as unknown as (number | bigint)[])[i] = conv(src[i] as never);
  };
  if (n === 0) return { dtype, dims, data: out };
  switch (dtype) {
    case 'float32':
      fill(t.floatData ?? [], (v: number) => v);
      break;
    case 'float64':
      fill(t.doubleData ?? [], (v: number) => v);
      break;
    case 'int64':
      fill(t.int64Data ?? [], (v: Long | number) => BigInt(v.toString()));
      break;
    default:
      fill(t.int32Data ?? [], (v: number) => v);
      break;
  }
  return { dtype, dims, data: out };
}

/** Encode a host tensor as a TensorProto with raw_data (little-endian, as ONNX specifies). */
export function tensorToProto(name: string, t: HostTensor): TensorProto {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name, dims: t.dims.map((d) => Long.fromNumber(d)), dataType: onnxFromDtype(t.dtype), rawData: bytes };
}
