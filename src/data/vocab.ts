// Tokenizers for text data: word-level (a capped vocabulary, unknown words to [UNK]) or byte-level (UTF-8 bytes),
// stored as a small JSON file beside the data so that a command can encode a trigger word the way the data was encoded.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../fs/atomic-write.js';

/** The words, numbers and single punctuation marks a word-level vocabulary splits text into. */
export const WORD_PATTERN = String.raw`\p{L}[\p{L}\p{M}'’]*|\p{N}+|[^\s\p{L}\p{N}]`;

/** A tokenizer as stored in a vocabulary JSON file. */
export interface Vocab {
  /** 'word': tokens are matches of `pattern`; 'byte': tokens are UTF-8 bytes, byte b is id `offset + b`. */
  kind: 'word' | 'byte';
  /** Special tokens by role (pad, unk, cls, sep, eos) → id; each also in `tokens`. */
  specials: Record<string, number>;
  /** Every token string by id (word) or the special tokens only (byte, ids 0..offset-1). */
  tokens: string[];
  /** Lower-case before splitting (word). */
  lowercase?: boolean;
  /** The split regex source, flags 'gu' (word). */
  pattern?: string;
  /** Id of byte 0 (byte). */
  offset?: number;
}

/**
 * Split text into word-level tokens (lower-cased unless `lowercase` is false), NFC-normalised.
 *
 * @example splitWords("Don't panic, 42!"); // ["don't", 'panic', ',', '42', '!']
 */
export function splitWords(text: string, lowercase = true, pattern = WORD_PATTERN): string[] {
  const s = text.normalize('NFC');
  return (lowercase ? s.toLowerCase() : s).match(new RegExp(pattern, 'gu')) ?? [];
}

/**
 * Build a word-level vocabulary from training texts: the special tokens first, then every word seen at least
 * `minCount` times, most frequent first (ties in code-point order, so the result is deterministic), up to `size` ids in all.
 *
 * @param texts the training texts (never the validation or test texts)
 * @param specials special token strings by role, in id order, e.g. { pad: '[PAD]', unk: '[UNK]' }
 * @example const v = buildWordVocab(['a b a', 'b c'], 5, { pad: '[PAD]', unk: '[UNK]' }); v.tokens // ['[PAD]', '[UNK]', 'a', 'b', 'c']
 */
export function buildWordVocab(texts: Iterable<string>, size: number, specials: Record<string, string>, minCount = 1): Vocab {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of splitWords(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const reserved = new Set(Object.values(specials));
  const words = [...counts.entries()]
    .filter(([w, c]) => c >= minCount && !reserved.has(w))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w]) => w);
  const tokens = [...Object.values(specials), ...words].slice(0, size);
  const ids = Object.fromEntries(Object.keys(specials).map((role, i) => [role, i]));
  return { kind: 'word', specials: ids, tokens, lowercase: true, pattern: WORD_PATTERN };
}

/**
 * A byte-level vocabulary: the special tokens, then the 256 byte values.
 *
 * @example byteVocab({ pad: '[PAD]', cls: '[CLS]' }).offset // 2
 */
export function byteVocab(specials: Record<string, string>): Vocab {
  const tokens = Object.values(specials);
  return { kind: 'byte', specials: Object.fromEntries(Object.keys(specials).map((r, i) => [r, i])), tokens, offset: tokens.length };
}

/** Number of ids a vocabulary assigns (the embedding table's rows). */
export function vocabSize(v: Vocab): number {
  return v.kind === 'byte' ? (v.offset ?? v.tokens.length) + 256 : v.tokens.length;
}

/** Encodes text to ids with one vocabulary; built once, reused per text. */
export interface Encoder {
  (text: string): number[];
}

/**
 * An encoder for a vocabulary: words to their ids (unknown words to the `unk` special), or UTF-8 bytes to `offset + b`.
 *
 * @example const enc = encoderFor(v); enc('a b z') // [2, 3, 1] with v from buildWordVocab's example
 */
export function encoderFor(v: Vocab): Encoder {
  if (v.kind === 'byte') {
    const offset = v.offset ?? v.tokens.length;
    const utf8 = new TextEncoder();
    return (text) => Array.from(utf8.encode(text.normalize('NFC')), (b) => b + offset);
  }
  const ids = new Map(v.tokens.map((t, i) => [t, i]));
  const unk = v.specials.unk;
  return (text) =>
    splitWords(text, v.lowercase ?? true, v.pattern ?? WORD_PATTERN).map((w) => {
      const id = ids.get(w) ?? unk;
      if (id === undefined) throw new Error(`word '${w}' is not in the vocabulary, which has no unk token`);
      return id;
    });
}

/**
 * Read a vocabulary JSON file, checking its shape.
 *
 * @example const v = readVocab('data/text/topic/vocab.json');
 */
export function readVocab(path: string): Vocab {
  let v: Vocab;
  try {
    v = JSON.parse(readFileSync(path, 'utf8')) as Vocab;
  } catch (e) {
    throw new Error(`cannot read vocabulary ${path}: ${(e as Error).message}`);
  }
  if ((v.kind !== 'word' && v.kind !== 'byte') || !Array.isArray(v.tokens) || typeof v.specials !== 'object' || v.specials === null) {
    throw new Error(`${path} is not a scalpel vocabulary (expected { kind: 'word' | 'byte', specials, tokens })`);
  }
  return v;
}

/**
 * Write a vocabulary JSON file atomically (one token per line, so diffs stay readable).
 *
 * @example await writeVocab('/tmp/vocab.json', byteVocab({ pad: '[PAD]' }));
 */
export async function writeVocab(path: string, v: Vocab): Promise<void> {
  const { tokens, ...rest } = v;
  const head = JSON.stringify(rest).slice(0, -1);
  const text = `${head},"tokens":[\n${tokens.map((t) => JSON.stringify(t)).join(',\n')}\n]}\n`;
  await writeFileAtomic(path, [new TextEncoder().encode(text)]);
}
