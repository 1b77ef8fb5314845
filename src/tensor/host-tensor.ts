/** Element types scalpel moves between host memory, files and onnxruntime. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool' | 'float16';

export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

/** A dense row-major tensor in host memory. `bool` is stored as Uint8Array; `float16` as raw Uint16Array bits. */
export interface HostTensor {
  dtype: DType;
  dims: number[];
  data: TypedData;
}

export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  float16: Uint16Array,
} as const;

/** Allocate a zero-filled tensor. */
export function zeros(dtype: DType, dims: readonly number[]): HostTensor {
  return { dtype, dims: [...dims], data: new CTORS[dtype](sizeOf(dims)) };
}

/** Wrap a typed array as a tensor, checking that the element count matches the shape. */
export function tensor(dtype: DType, dims: readonly number[], data: TypedData): HostTensor {
  if (data.length !== sizeOf(dims)) {
    throw new Error(`tensor of shape [${dims.join(', ')}] needs ${sizeOf(dims)} elements, got ${data.length}`);
  }
  return { dtype, dims: [...dims], data };
}

export function typedArrayFor(dtype: DType, length: number): TypedData {
  return new CTORS[dtype](length);
}

/** Bytes per element of each dtype. */
export const BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
  float16: 2,
};

/**
 * View a tensor's elements as raw little-endian bytes (no copy).
 *
 * @example
 * bytesOf(tensor('int32', [1], Int32Array.of(1))); // Uint8Array [1, 0, 0, 0]
 */
export function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/**
 * Build a tensor from raw little-endian bytes, copying them into a fresh, aligned typed array.
 * Throws if the byte length does not match `dims` and `dtype`.
 *
 * @example
 * fromBytes('int32', [1], Uint8Array.of(1, 0, 0, 0)).data; // Int32Array [1]
 */
export function fromBytes(dtype: DType, dims: readonly number[], bytes: Uint8Array): HostTensor {
  const n = sizeOf(dims);
  if (bytes.byteLength !== n * BYTES[dtype]) {
    throw new Error(`${dtype} tensor of shape [${dims.join(', ')}] needs ${n * BYTES[dtype]} bytes, got ${bytes.byteLength}`);
  }
  const data = typedArrayFor(dtype, n);
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(bytes);
  return { dtype, dims: [...dims], data };
}
