// Token ids as the int64 tensors a text model takes: padded [N, T] batches with attention masks and segment ids,
// and language-modelling rows whose labels are the next token (-100 where nothing is to be predicted).
import type { HostTensor } from '../tensor/host-tensor.js';

/** The label PyTorch's cross-entropy ignores by default; language-modelling labels use it for padding. */
export const IGNORE_INDEX = -100;

/** One example of sequence classification: the token ids of segment A and, optionally, of segment B. */
export interface TextPair {
  a: readonly number[];
  b?: readonly number[];
}

/** Ids of the special tokens `packPairs` inserts. */
export interface PackIds {
  pad: number;
  cls: number;
  sep: number;
}

function int64(dims: number[], values: ArrayLike<number>): HostTensor {
  return { dtype: 'int64', dims, data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))) };
}

/**
 * Pack examples BERT's way into `input_ids`, `attention_mask` and `token_type_ids`, int64 [N, T]:
 * `[CLS] a [SEP]` (segment 0) then `b [SEP]` (segment 1) when there is a b, then padding (mask 0).
 * Too-long examples lose the end of a (b is kept, cut to at most `maxB` ids) so that every row fits T.
 *
 * @example const t = packPairs([{ a: [7, 8], b: [9] }], 6, { pad: 0, cls: 2, sep: 3 }); // input_ids [[2, 7, 8, 3, 9, 3]]
 */
export function packPairs(examples: readonly TextPair[], T: number, ids: PackIds, maxB = 12): Record<'input_ids' | 'attention_mask' | 'token_type_ids', HostTensor> {
  if (T < 3) throw new Error(`packPairs: sequence length ${T} leaves no room for [CLS] and [SEP]`);
  const N = examples.length;
  const inputIds = new Array<number>(N * T).fill(ids.pad);
  const mask = new Array<number>(N * T).fill(0);
  const types = new Array<number>(N * T).fill(0);
  examples.forEach((ex, n) => {
    const b = ex.b && ex.b.length > 0 ? ex.b.slice(0, Math.min(maxB, T - 4)) : undefined;
    const room = T - 2 - (b ? b.length + 1 : 0);
    const row = [ids.cls, ...ex.a.slice(0, room), ids.sep];
    const seg = row.map(() => 0);
    if (b) {
      row.push(...b, ids.sep);
      seg.push(...b.map(() => 1), 1);
    }
    for (let t = 0; t < row.length; t++) {
      inputIds[n * T + t] = row[t];
      mask[n * T + t] = 1;
      types[n * T + t] = seg[t];
    }
  });
  return { input_ids: int64([N, T], inputIds), attention_mask: int64([N, T], mask), token_type_ids: int64([N, T], types) };
}

/**
 * Pack single sequences into `input_ids` and `attention_mask`, int64 [N, T]: `prefix` ids (e.g. [CLS]), then the
 * sequence cut to fit, then `pad` (mask 0).
 *
 * @example padSequences([[5, 6, 7]], 3, 0, [1]).input_ids.data // [1n, 5n, 6n]
 */
export function padSequences(seqs: readonly (readonly number[])[], T: number, pad: number, prefix: readonly number[] = []): Record<'input_ids' | 'attention_mask', HostTensor> {
  const N = seqs.length;
  const inputIds = new Array<number>(N * T).fill(pad);
  const mask = new Array<number>(N * T).fill(0);
  seqs.forEach((s, n) => {
    const row = [...prefix, ...s].slice(0, T);
    for (let t = 0; t < row.length; t++) {
      inputIds[n * T + t] = row[t];
      mask[n * T + t] = 1;
    }
  });
  return { input_ids: int64([N, T], inputIds), attention_mask: int64([N, T], mask) };
}

/**
 * Cut a token stream into language-modelling rows: `input_ids` [N, T] are consecutive windows of the stream and
 * `y` [N, T] the token after each position; the last row is padded with `pad` inputs and IGNORE_INDEX labels.
 *
 * @example lmRows([1, 2, 3, 4, 5], 2, 0) // input_ids [[1, 2], [3, 4]], y [[2, 3], [4, 5]]
 */
export function lmRows(stream: readonly number[], T: number, pad: number): Record<'input_ids' | 'y', HostTensor> {
  const predicted = stream.length - 1;
  const N = Math.max(1, Math.ceil(predicted / T));
  const x = new Array<number>(N * T).fill(pad);
  const y = new Array<number>(N * T).fill(IGNORE_INDEX);
  for (let i = 0; i < predicted; i++) {
    x[i] = stream[i];
    y[i] = stream[i + 1];
  }
  return { input_ids: int64([N, T], x), y: int64([N, T], y) };
}

/**
 * Class labels as int64 [N].
 *
 * @example labelTensor([0, 2, 1]).dims // [3]
 */
export function labelTensor(labels: readonly number[]): HostTensor {
  return int64([labels.length], labels);
}
