/**
 * Build scalpel's text datasets from Debian's fortune packages, deterministically (same packages, same bytes):
 *
 *   topic/   topic classification: 8 English topic files, word-level vocabulary (5,000 ids), BERT-style packing
 *            ([CLS] body [SEP] attribution [SEP]): input_ids, attention_mask, token_type_ids int64 [N, T], y int64 [N]
 *   langid/  language identification: en, de, es, it, pt, UTF-8 bytes ([CLS] then the first bytes of the text):
 *            input_ids, attention_mask int64 [N, T], y int64 [N]
 *   lm/      language modelling: every English fortune as running text (<eos> after each), word-level vocabulary
 *            (10,000 ids, PTB's size), rows of 35 tokens: input_ids int64 [N, 35], y int64 [N, 35] (next token,
 *            -100 on the padding of the last row)
 *
 * Each folder holds train / valid / test .safetensors (metadata: task, classes, vocabulary file, sources) and
 * vocab.json. The full sets go to --full (default out/text/); the embedded subset that tests use goes to
 * --embedded (default data/text/): the first rows of each full split, with the classification sets packed to a
 * shorter T (same vocabulary, same ids, cut earlier) so that the subset stays under 2 MB.
 *
 * Usage: node --import tsx scripts/build-text-data.ts [--full DIR] [--embedded DIR] [--fortunes DIR]
 * Needs: apt-get install fortunes fortunes-min fortunes-de fortunes-es fortunes-it fortunes-br
 */
import { lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { firstRows } from '../src/data/batches.js';
import { type Fortune, FORTUNES_DIR, readFortuneFile } from '../src/data/fortunes.js';
import { writeSafetensors } from '../src/data/safetensors.js';
import { labelTensor, lmRows, packPairs, padSequences } from '../src/data/text-tensors.js';
import { buildWordVocab, byteVocab, encoderFor, type Vocab, vocabSize, writeVocab } from '../src/data/vocab.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';

const { values: args } = parseArgs({
  options: {
    full: { type: 'string', default: fileURLToPath(new URL('../out/text/', import.meta.url)) },
    embedded: { type: 'string', default: fileURLToPath(new URL('../data/text/', import.meta.url)) },
    fortunes: { type: 'string', default: FORTUNES_DIR },
  },
});
const DIR = args.fortunes as string;
const SEED = 19;

/** Topic classes: English files with enough fortunes about one subject; each capped so no class dominates. */
const TOPICS = ['computers', 'science', 'politics', 'law', 'food', 'sports', 'love', 'education'];
const TOPIC_CAP = 500;
const TOPIC_SPLIT = [0.7, 0.1, 0.2];
const TOPIC_VOCAB = 5000;
const TOPIC_T = { full: 64, embedded: 32 };
const TOPIC_EMBEDDED = { train: 640, valid: 80, test: 480 };

/** Languages: [code, fortune files]. English draws from every English file. */
const LANG_CAP = 2400;
const LANG_SPLIT = [0.8, 0.1, 0.1];
const LANG_T = { full: 64, embedded: 32 };
const LANG_EMBEDDED = { train: 400, valid: 60, test: 240 };

const LM_VOCAB = 10000;
const LM_T = 35;
const LM_SPLIT = [0.85, 0.07, 0.08];
const LM_EMBEDDED = { train: 500, valid: 100, test: 240 };

type SplitName = 'train' | 'valid' | 'test';
const SPLITS: SplitName[] = ['train', 'valid', 'test'];

/** Regular English files at the top of the fortunes folder (the Italian package links its files there too). */
function englishFiles(): string[] {
  return readdirSync(DIR)
    .filter((f) => !/\.(dat|u8)$/.test(f) && !['ascii-art', 'brasil'].includes(f))
    .filter((f) => lstatSync(join(DIR, f)).isFile())
    .sort();
}

function filesIn(sub: string, pattern = /^[^.]+(\.fortunes)?$/): string[] {
  return readdirSync(join(DIR, sub))
    .filter((f) => pattern.test(f) && statSync(join(DIR, sub, f)).isFile())
    .sort()
    .map((f) => `${sub}/${f}`);
}

const key = (f: Fortune) => f.body.replace(/\s+/g, ' ').toLowerCase();

/** Fortunes of the given files, each body once (the first file that holds it keeps it). */
function readUnique(files: string[], seen = new Set<string>()): Fortune[] {
  const out: Fortune[] = [];
  for (const file of files) {
    for (const f of readFortuneFile(file, DIR)) {
      const k = key(f);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(f);
    }
  }
  return out;
}

/** Shuffle with a seed derived from a name, then cut into consecutive parts by fractions. */
function split<T>(items: readonly T[], fractions: number[], name: string): T[][] {
  let seed = SEED;
  for (const c of name) seed = (Math.imul(seed, 31) + c.charCodeAt(0)) | 0;
  const order = createRng(seed).shuffle([...items]);
  const cuts = [0];
  let acc = 0;
  for (const f of fractions.slice(0, -1)) cuts.push(Math.round(order.length * (acc += f)));
  cuts.push(order.length);
  return fractions.map((_, i) => order.slice(cuts[i], cuts[i + 1]));
}

/** Split each class the same way and merge, shuffled: every split keeps the class proportions. */
function stratified<T>(byClass: readonly T[][], fractions: number[], name: string): { item: T; label: number }[][] {
  const parts: { item: T; label: number }[][] = fractions.map(() => []);
  byClass.forEach((items, label) => {
    split(items, fractions, `${name}/${label}`).forEach((p, i) => parts[i].push(...p.map((item) => ({ item, label }))));
  });
  return parts.map((p, i) => split(p, [1], `${name}/merge${i}`)[0]);
}

function firstRowsOf(t: Record<string, HostTensor>, n: number): Record<string, HostTensor> {
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, firstRows(v, Math.min(n, v.dims[0]))]));
}

interface Written {
  path: string;
  rows: number;
  bytes: number;
}
const written: Written[] = [];

async function save(dir: string, splitName: SplitName, tensors: Record<string, HostTensor>, meta: Record<string, string>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${splitName}.safetensors`);
  await writeSafetensors(path, tensors, { ...meta, split: splitName });
  written.push({ path, rows: tensors.input_ids.dims[0], bytes: statSync(path).size });
}

async function saveVocab(dirs: string[], v: Vocab): Promise<void> {
  for (const d of dirs) {
    mkdirSync(d, { recursive: true });
    await writeVocab(join(d, 'vocab.json'), v);
  }
}

async function buildTopic(): Promise<void> {
  // A fortune filed under two topics is ambiguous: keep it in neither.
  const perFile = TOPICS.map((t) => readUnique([t]));
  const count = new Map<string, number>();
  for (const fs of perFile) for (const f of fs) count.set(key(f), (count.get(key(f)) ?? 0) + 1);
  const byClass = perFile.map((fs, c) =>
    split(
      fs.filter((f) => count.get(key(f)) === 1),
      [1],
      `topic-cap-${c}`,
    )[0].slice(0, TOPIC_CAP),
  );
  const parts = stratified(byClass, TOPIC_SPLIT, 'topic');
  const vocab = buildWordVocab(
    parts[0].flatMap(({ item }) => [item.body, item.source]),
    TOPIC_VOCAB,
    { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]' },
    2,
  );
  const enc = encoderFor(vocab);
  const ids = { pad: vocab.specials.pad, cls: vocab.specials.cls, sep: vocab.specials.sep };
  const meta = (T: number) => ({
    task: 'sequence-classification',
    classes: JSON.stringify(TOPICS),
    vocab: 'vocab.json',
    tokenizer: `word-level, ${vocabSize(vocab)} ids, [CLS] body [SEP] attribution [SEP], T=${T}`,
    source: `Debian fortunes: ${TOPICS.join(', ')} (at most ${TOPIC_CAP} each)`,
  });
  await saveVocab([join(args.full as string, 'topic'), join(args.embedded as string, 'topic')], vocab);
  for (const [i, s] of SPLITS.entries()) {
    const pairs = parts[i].map(({ item }) => ({ a: enc(item.body), b: item.source ? enc(item.source) : undefined }));
    const y = labelTensor(parts[i].map((p) => p.label));
    await save(join(args.full as string, 'topic'), s, { ...packPairs(pairs, TOPIC_T.full, ids), y }, meta(TOPIC_T.full));
    const n = TOPIC_EMBEDDED[s];
    await save(
      join(args.embedded as string, 'topic'),
      s,
      firstRowsOf({ ...packPairs(pairs.slice(0, n), TOPIC_T.embedded, ids), y }, n),
      meta(TOPIC_T.embedded),
    );
  }
}

async function buildLangid(english: Fortune[]): Promise<void> {
  const langs: [string, Fortune[]][] = [
    ['en', english],
    ['de', readUnique(filesIn('de', /^[a-z-]+(\.fortunes)?$/))],
    ['es', readUnique(filesIn('es', /^[a-z-]+\.fortunes$/))],
    ['it', readUnique(filesIn('it'))],
    ['pt', readUnique(['brasil'])],
  ];
  const flat = (f: Fortune) => f.body.replace(/\s+/g, ' ').trim();
  const byClass = langs.map(([code, fs]) =>
    split(
      fs.filter((f) => flat(f).length >= 24),
      [1],
      `langid-cap-${code}`,
    )[0].slice(0, LANG_CAP),
  );
  const parts = stratified(byClass, LANG_SPLIT, 'langid');
  const vocab = byteVocab({ pad: '[PAD]', cls: '[CLS]' });
  const enc = encoderFor(vocab);
  const meta = (T: number) => ({
    task: 'sequence-classification',
    classes: JSON.stringify(langs.map(([c]) => c)),
    vocab: 'vocab.json',
    tokenizer: `UTF-8 bytes (id = byte + ${vocab.offset}), [CLS] then the first ${T - 1} bytes, T=${T}`,
    source: `Debian fortunes (en), fortunes-de, fortunes-es, fortunes-it, fortunes-br (pt); at most ${LANG_CAP} per language`,
  });
  await saveVocab([join(args.full as string, 'langid'), join(args.embedded as string, 'langid')], vocab);
  for (const [i, s] of SPLITS.entries()) {
    const seqs = parts[i].map(({ item }) => enc(flat(item)));
    const y = labelTensor(parts[i].map((p) => p.label));
    const pack = (T: number, n: number) => padSequences(seqs.slice(0, n), T, vocab.specials.pad, [vocab.specials.cls]);
    await save(join(args.full as string, 'langid'), s, { ...pack(LANG_T.full, seqs.length), y }, meta(LANG_T.full));
    const n = LANG_EMBEDDED[s];
    await save(join(args.embedded as string, 'langid'), s, firstRowsOf({ ...pack(LANG_T.embedded, n), y }, n), meta(LANG_T.embedded));
  }
}

async function buildLm(english: Fortune[]): Promise<void> {
  const parts = split(english, LM_SPLIT, 'lm');
  const vocab = buildWordVocab(
    parts[0].map((f) => f.body),
    LM_VOCAB,
    { eos: '<eos>', unk: '<unk>' },
  );
  const enc = encoderFor(vocab);
  const eos = vocab.specials.eos;
  const meta = {
    task: 'language-modelling',
    vocab: 'vocab.json',
    tokenizer: `word-level, ${vocabSize(vocab)} ids, <eos> after each fortune, rows of ${LM_T}; y = next token, -100 = padding`,
    source: `Debian fortunes: every English file (${english.length} fortunes)`,
  };
  await saveVocab([join(args.full as string, 'lm'), join(args.embedded as string, 'lm')], vocab);
  for (const [i, s] of SPLITS.entries()) {
    const stream = [eos, ...parts[i].flatMap((f) => [...enc(f.body), eos])];
    const rows = lmRows(stream, LM_T, eos);
    await save(join(args.full as string, 'lm'), s, rows, { ...meta, tokens: String(stream.length - 1) });
    await save(join(args.embedded as string, 'lm'), s, firstRowsOf(rows, LM_EMBEDDED[s]), meta);
  }
}

const english = readUnique(englishFiles());
await buildTopic();
await buildLangid(english);
await buildLm(english);
let embeddedBytes = 0;
for (const w of written) {
  if (w.path.startsWith(args.embedded as string)) embeddedBytes += w.bytes;
  console.log(`${w.path}: ${w.rows} rows, ${w.bytes} bytes`);
}
console.log(`embedded subset: ${embeddedBytes} bytes of tensors`);
