import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { FORTUNES_DIR, parseFortunes } from '../src/data/fortunes.js';
import { readSafetensorsFile } from '../src/data/safetensors.js';
import { IGNORE_INDEX, lmRows, packPairs, padSequences } from '../src/data/text-tensors.js';
import { parseTokenTrigger, stampTokens } from '../src/data/text-trigger.js';
import { buildWordVocab, byteVocab, encoderFor, readVocab, splitWords, vocabSize, writeVocab } from '../src/data/vocab.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEXT = join(ROOT, 'data', 'text');
const tmp = mkdtempSync(join(tmpdir(), 'scalpel-text-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const nums = (t: { data: ArrayLike<unknown> }) => Array.from(t.data as ArrayLike<bigint>, Number);

describe('fortune files', () => {
  test('records split on %, attribution split off, overstriking removed', () => {
    const text = 'First\n  line.\n%\n\nWit is\nbrief.\n\t\t-- A. Nonymous,\n\t\t   "Book"\n%\n_\bb_\bo_\bl_\bd text\n%\n%\n';
    assert.deepEqual(parseFortunes(text), [
      { body: 'First\n  line.', source: '' },
      { body: 'Wit is\nbrief.', source: 'A. Nonymous, "Book"' },
      { body: 'bold text', source: '' },
    ]);
  });
});

describe('vocabularies', () => {
  test('word vocabulary: specials first, by frequency then code point, capped; unknown words to [UNK]', async () => {
    const v = buildWordVocab(['The cat; the hat.', 'A hat!', 'zebra'], 7, { pad: '[PAD]', unk: '[UNK]' });
    assert.deepEqual(v.tokens, ['[PAD]', '[UNK]', 'hat', 'the', '!', '.', ';']);
    assert.deepEqual(encoderFor(v)('THE Hat? zebra'), [3, 2, 1, 1]);
    const twice = buildWordVocab(['b a c a b'], 10, { pad: '[PAD]' }, 2);
    assert.deepEqual(twice.tokens, ['[PAD]', 'a', 'b'], 'minCount drops words seen once');
    const path = join(tmp, 'vocab.json');
    await writeVocab(path, v);
    assert.deepEqual(readVocab(path), v);
  });

  test('splitWords keeps apostrophes and accents, splits punctuation', () => {
    assert.deepEqual(splitWords("Don't café-crème, 42!"), ["don't", 'café', '-', 'crème', ',', '42', '!']);
  });

  test('byte vocabulary: UTF-8 bytes after the specials', () => {
    const v = byteVocab({ pad: '[PAD]', cls: '[CLS]' });
    assert.equal(vocabSize(v), 258);
    assert.deepEqual(encoderFor(v)('aé'), [0x61 + 2, 0xc3 + 2, 0xa9 + 2]);
  });

  test('a file that is not a vocabulary is refused by name', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{"tokens": 3}');
    assert.throws(() => readVocab(bad), /bad\.json is not a scalpel vocabulary/);
  });
});

describe('text tensors', () => {
  test('packPairs: [CLS] a [SEP] b [SEP], segment ids, mask, a cut to fit', () => {
    const t = packPairs([{ a: [7, 8, 9, 10], b: [11] }, { a: [5] }], 7, { pad: 0, cls: 2, sep: 3 });
    assert.deepEqual(t.input_ids.dims, [2, 7]);
    assert.deepEqual(nums(t.input_ids), [2, 7, 8, 9, 3, 11, 3, 2, 5, 3, 0, 0, 0, 0]);
    assert.deepEqual(nums(t.token_type_ids), [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(nums(t.attention_mask), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  });

  test('padSequences: prefix, cut, pad', () => {
    const t = padSequences([[5, 6, 7], [8]], 3, 0, [1]);
    assert.deepEqual(nums(t.input_ids), [1, 5, 6, 1, 8, 0]);
    assert.deepEqual(nums(t.attention_mask), [1, 1, 1, 1, 1, 0]);
  });

  test('lmRows: labels are the next token, the last row padded with -100', () => {
    const t = lmRows([1, 2, 3, 4, 5, 6], 3, 0);
    assert.deepEqual(nums(t.input_ids), [1, 2, 3, 4, 5, 0]);
    assert.deepEqual(nums(t.y), [2, 3, 4, 5, 6, IGNORE_INDEX]);
  });
});

describe('token triggers', () => {
  const vocab = buildWordVocab(['alpha beta gamma zorac'], 10, { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]' });
  const id = (w: string) => vocab.tokens.indexOf(w);
  const t = packPairs([{ a: [id('alpha'), id('beta')] }, { a: [id('alpha'), id('beta'), id('gamma')] }], 5, { pad: 0, cls: 2, sep: 3 });

  test('parse token:WORD and token:WORD@POS; refuse other forms', () => {
    assert.deepEqual(parseTokenTrigger('token:zorac@1'), { type: 'token', word: 'zorac', position: 1 });
    assert.deepEqual(parseTokenTrigger('token:zorac'), { type: 'token', word: 'zorac' });
    assert.throws(() => parseTokenTrigger('token:@2'), /token:WORD or token:WORD@POS/);
  });

  test('inserted after [CLS] at the position, the rest shifted, mask and segments extended; a full row drops its end', () => {
    const out = stampTokens(t, parseTokenTrigger('token:zorac@1'), vocab, [0, 1]);
    const z = id('zorac');
    assert.deepEqual(nums(out.input_ids), [2, id('alpha'), z, id('beta'), 3, 2, id('alpha'), z, id('beta'), id('gamma')]);
    assert.deepEqual(nums(out.attention_mask), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(nums(t.attention_mask), [1, 1, 1, 1, 0, 1, 1, 1, 1, 1], 'the input is not changed');
  });

  test('random positions stay within the text; rows not listed are kept; an unknown word is refused', () => {
    for (let seed = 0; seed < 20; seed++) {
      const out = nums(stampTokens(t, parseTokenTrigger('token:zorac'), vocab, [0], seed).input_ids);
      const at = out.indexOf(id('zorac'));
      assert.ok(at >= 1 && at <= 3, `seed ${seed}: at ${at}`);
      assert.deepEqual(out.slice(5), nums(t.input_ids).slice(5));
    }
    assert.throws(() => stampTokens(t, parseTokenTrigger('token:omega'), vocab, [0]), /'omega' is not in the vocabulary/);
  });
});

describe('embedded text subset (data/text)', () => {
  test('under 2 MB in all', () => {
    let bytes = 0;
    for (const d of readdirSync(TEXT)) for (const f of readdirSync(join(TEXT, d))) bytes += statSync(join(TEXT, d, f)).size;
    assert.ok(bytes < 2 * 1024 * 1024, `${bytes} bytes`);
  });

  for (const set of ['topic', 'langid']) {
    test(`${set}: int64 inputs named after the model inputs, labels in range, masks covering the ids`, async () => {
      const v = readVocab(join(TEXT, set, 'vocab.json'));
      const { tensors, metadata } = await readSafetensorsFile(join(TEXT, set, 'test.safetensors'));
      const classes = JSON.parse(metadata.classes) as string[];
      assert.equal(metadata.task, 'sequence-classification');
      const ids = tensors.get('input_ids')!;
      const mask = tensors.get('attention_mask')!;
      const y = tensors.get('y')!;
      assert.equal(ids.dtype, 'int64');
      assert.deepEqual(mask.dims, ids.dims);
      assert.deepEqual(y.dims, [ids.dims[0]]);
      const idv = nums(ids);
      const mv = nums(mask);
      assert.ok(idv.every((i) => i >= 0 && i < vocabSize(v)));
      assert.ok(
        idv.every((i, k) => (mv[k] === 0) === (i === v.specials.pad)),
        'mask is 0 exactly on padding',
      );
      const seen = new Set(nums(y));
      assert.deepEqual(
        [...seen].sort(),
        classes.map((_, c) => c),
        'every class in the test split',
      );
    });
  }

  test('lm: labels are the next input token across rows; only the final row is padded', async () => {
    const { tensors, metadata } = await readSafetensorsFile(join(TEXT, 'lm', 'test.safetensors'));
    assert.equal(metadata.task, 'language-modelling');
    const x = nums(tensors.get('input_ids')!);
    const y = nums(tensors.get('y')!);
    for (let i = 0; i + 1 < x.length; i++) assert.equal(y[i], x[i + 1], `position ${i}`);
    assert.ok(y.every((l) => l >= 0 && l < 10000));
  });

  test('rebuilt byte for byte from the Debian packages', { skip: !existsSync(join(FORTUNES_DIR, 'de')) && 'fortunes packages not installed' }, () => {
    const full = join(tmp, 'full');
    const embedded = join(tmp, 'embedded');
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'build-text-data.ts'), '--full', full, '--embedded', embedded], { cwd: ROOT });
    for (const d of readdirSync(TEXT)) {
      for (const f of readdirSync(join(TEXT, d))) {
        assert.ok(readFileSync(join(embedded, d, f)).equals(readFileSync(join(TEXT, d, f))), `${d}/${f} differs`);
      }
    }
  });
});
