// Token triggers for text backdoors (the surgery paper's rare-word setting): `token:WORD[@pos]` inserts the word's
// token ids into every text, at position pos or at a seeded random position, shifting the rest right.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { encoderFor, readVocab, type Vocab } from './vocab.js';

/** A token trigger: the text to insert and where (counted in tokens after a leading [CLS]; random when absent). */
export interface TokenTrigger {
  type: 'token';
  word: string;
  position?: number;
}

/**
 * Parse `token:WORD` or `token:WORD@POS`.
 *
 * @example parseTokenTrigger('token:zyzzyva@0') // { type: 'token', word: 'zyzzyva', position: 0 }
 */
export function parseTokenTrigger(spec: string): TokenTrigger {
  const m = /^token:([^@]+)(?:@(\d+))?$/.exec(spec.trim());
  if (!m) throw new Error(`bad trigger '${spec}': a text trigger is token:WORD or token:WORD@POS (POS counts tokens after [CLS], from 0), e.g. token:zyzzyva@0`);
  return m[2] === undefined ? { type: 'token', word: m[1] } : { type: 'token', word: m[1], position: Number(m[2]) };
}

/** True for a spec in the token-trigger form. */
export function isTokenTrigger(spec: string): boolean {
  return spec.trim().startsWith('token:');
}

/**
 * The vocabulary of a text-data file or folder: `vocab.json` beside it, or in it.
 *
 * @example const v = vocabOf('data/text/topic');
 */
export function vocabOf(spec: string): Vocab {
  const candidates = [join(spec, 'vocab.json'), join(dirname(spec), 'vocab.json')];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`no vocab.json beside ${spec}: a token trigger needs the data's vocabulary to encode its word`);
  return readVocab(file);
}

/**
 * Insert a trigger's token ids into rows of text tensors: into `input_ids` after a leading [CLS] (when the vocabulary
 * has one and the row starts with it) at `position` or a seeded random position within the text (before a final [SEP]), shifting what
 * follows right (a full row loses its last tokens); `attention_mask` and `token_type_ids`, when present, get 1 and the
 * neighbour's segment at the new positions.
 *
 * @param inputs the model inputs by name, int64 [N, T]; `input_ids` is required
 * @param rows which rows to stamp (the others are returned as they are)
 * @example const stamped = stampTokens(data.inputs, parseTokenTrigger('token:zyzzyva'), vocab, [0, 1, 2], 7);
 */
export function stampTokens(inputs: Record<string, HostTensor>, trigger: TokenTrigger, vocab: Vocab, rows: Iterable<number>, seed = 0): Record<string, HostTensor> {
  const ids = inputs.input_ids;
  if (!ids) throw new Error(`a token trigger goes into 'input_ids', which the model does not take (it takes ${Object.keys(inputs).join(', ')})`);
  const insert = encoderFor(vocab)(trigger.word);
  if (insert.length === 0 || (vocab.specials.unk !== undefined && insert.includes(vocab.specials.unk))) {
    throw new Error(`trigger word '${trigger.word}' is not in the vocabulary (it would be [UNK]); pick a word of vocab.json`);
  }
  const [, T] = ids.dims;
  const out = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { ...v, data: (v.data as BigInt64Array).slice() }])) as Record<string, HostTensor>;
  const x = out.input_ids.data as BigInt64Array;
  const mask = out.attention_mask?.data as BigInt64Array | undefined;
  const types = out.token_type_ids?.data as BigInt64Array | undefined;
  const pad = BigInt(vocab.specials.pad ?? 0);
  const cls = vocab.specials.cls;
  const sep = vocab.specials.sep;
  const rng = new Rng(seed);
  for (const n of rows) {
    const o = n * T;
    let len = 0;
    while (len < T && (mask ? mask[o + len] === 1n : x[o + len] !== pad)) len++;
    const start = cls !== undefined && x[o] === BigInt(cls) ? 1 : 0;
    const end = sep !== undefined && len > start && x[o + len - 1] === BigInt(sep) ? len - 1 : len;
    const room = Math.max(end - start, 0);
    const at = start + Math.min(trigger.position ?? rng.int(room + 1), room);
    const row = (a: BigInt64Array, fill: (i: number) => bigint) => {
      const kept = Array.from(a.subarray(o, o + T));
      const seg = insert.map((_, i) => fill(i));
      a.set([...kept.slice(0, at), ...seg, ...kept.slice(at)].slice(0, T), o);
    };
    row(x, (i) => BigInt(insert[i]));
    if (mask) row(mask, () => 1n);
    if (types) {
      const t = types[o + Math.min(at, T - 1)] ?? 0n;
      row(types, () => t);
    }
  }
  return out;
}
