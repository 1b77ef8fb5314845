// Issue 16: files scalpel reads, mutated at random (seeded): bit flips, truncations, random bytes and edits of the
// format's header. Every run exits 0, or prints exactly one `scalpel: error:` line and exits 1: no stack trace, no
// internal error, no exit 2 for a file's content, no hang.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, test, type TestContext } from 'node:test';
import { takeRows } from '../src/data/batches.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { encodeIdx, isGzip } from '../src/data/idx.js';
import { encodeNpz } from '../src/data/npy.js';
import { encodeSafetensors } from '../src/data/safetensors.js';
import { writeTriggerFile } from '../src/data/trigger-file.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { paramsHash } from '../src/params/delta.js';
import { Rng } from '../src/tensor/rng.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { cli, type CliResult } from './helpers/cli.js';

const MODEL = 'models/lenet5-fashion.onnx';
/** Cases per kind, and the first seed; SCALPEL_FUZZ_CASES and SCALPEL_FUZZ_SEED change them for a longer hunt (see also SCALPEL_FUZZ_KEEP). */
const CASES = Number(process.env.SCALPEL_FUZZ_CASES ?? 30);
const SEED = Number(process.env.SCALPEL_FUZZ_SEED ?? 1000);
const tmp = mkdtempSync(join(tmpdir(), 'scalpel-fuzz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Mutation = (bytes: Uint8Array, rng: Rng) => Uint8Array;

/** Flip 1 to 8 random bits. */
const flipBits: Mutation = (b, rng) => {
  const out = b.slice();
  for (let k = 1 + rng.int(8); k > 0; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
  return out;
};
/** Cut the file short (anywhere, the empty file included). */
const truncate: Mutation = (b, rng) => b.slice(0, rng.int(b.length));
/** Overwrite 1 to 64 bytes with random ones, often near the start where headers live. */
const randomBytes: Mutation = (b, rng) => {
  const out = b.slice();
  const n = 1 + rng.int(64);
  const at = rng.uniform() < 0.5 ? rng.int(Math.min(256, out.length)) : rng.int(out.length);
  for (let i = at; i < Math.min(out.length, at + n); i++) out[i] = rng.int(256);
  return out;
};

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const bytesOf = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/** Edit a safetensors header: a tensor's dtype, shape or offsets, a metadata value, or the header's length field. */
const safetensorsHeader: Mutation = (b, rng) => {
  const len = Number(Buffer.from(b).readBigUInt64LE(0));
  const header = JSON.parse(text(b.subarray(8, 8 + len))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: number[] } | Record<string, string>
  >;
  const body = b.subarray(8 + len);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const t = header[pick(rng, names)] as { dtype: string; shape: number[]; data_offsets: number[] };
  let lengthField = len;
  switch (rng.int(7)) {
    case 0:
      t.dtype = pick(rng, ['F64', 'F16', 'I64', 'I32', 'U8', 'BOOL', 'BF16', 'XYZ', '']);
      break;
    case 1:
      t.shape[rng.int(t.shape.length)] = pick(rng, [0, -1, 1, 3, 1e6, 2 ** 31, 2 ** 53 + 2, 1.5]);
      break;
    case 2:
      t.shape = rng.uniform() < 0.5 ? [] : [...t.shape, 2];
      break;
    case 3:
      t.data_offsets[rng.int(2)] = pick(rng, [0, -8, 1, 7, body.length + 1, 2 ** 40, 0.5]);
      break;
    case 4:
      if (header.__metadata__)
        (header.__metadata__ as Record<string, string>)[pick(rng, Object.keys(header.__metadata__))] = pick(rng, ['', '{', '[]', 'x'.repeat(300), '-1']);
      else t.dtype = 'F64';
      break;
    case 5:
      lengthField = pick(rng, [0, 1, len - 1, len + 1, b.length, 2 ** 32, 2 ** 60]);
      break;
    default:
      delete (t as Partial<typeof t>)[pick(rng, ['dtype', 'shape', 'data_offsets'] as const)];
  }
  const json = bytesOf(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + body.length);
  Buffer.from(out.buffer).writeBigUInt64LE(BigInt(lengthField === len ? json.length : lengthField), 0);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
};

/** Edit an npz: a member's .npy header (dtype, shape, order) or a field of a zip header (sizes, offsets, method, crc). */
const npzHeader: Mutation = (b, rng) => {
  const s = text(b);
  // A deflated member's .npy header is compressed: only the zip headers can be edited then.
  if (s.includes("{'descr'") && rng.uniform() < 0.5) {
    const at = s.indexOf("{'descr'", rng.uniform() < 0.5 ? 0 : s.lastIndexOf("{'descr'"));
    const end = s.indexOf('}', at) + 1;
    const dict = s.slice(at, end);
    const edited = pick(rng, [
      () => dict.replace(/'descr': '[^']*'/, `'descr': '${pick(rng, ['<f8', '<i2', '>f4', '|b1', '<c8', 'O', '<U3'])}'`),
      () => dict.replace(/'shape': \(([^)]*)\)/, `'shape': (${pick(rng, ['', '0,', '1000000, 784', '-1,', '16, 1, 28, 29', '2**40,'])})`),
      () => dict.replace("'fortran_order': False", "'fortran_order': True"),
      () => dict.slice(0, rng.int(dict.length)),
    ])();
    // Keep the header's declared length: pad or cut the edit to the original's size.
    const fixed = edited.length <= dict.length ? edited.padEnd(dict.length, ' ') : edited.slice(0, dict.length);
    return bytesOf(s.slice(0, at) + fixed + s.slice(end));
  }
  const sigs = [...s.matchAll(/PK\x01\x02|PK\x03\x04|PK\x05\x06/g)].map((m) => m.index!);
  const at = pick(rng, sigs);
  const out = b.slice();
  const view = new DataView(out.buffer);
  const kind = s.slice(at, at + 4);
  const fields = kind === 'PK\x03\x04' ? [8, 14, 18, 22, 26, 28] : kind === 'PK\x01\x02' ? [10, 16, 20, 24, 28, 30, 42] : [8, 10, 12, 16, 20];
  const off = at + pick(rng, fields);
  if (off + 4 <= out.length) view.setUint32(off, pick(rng, [0, 1, 0xffff, 0xffffffff, rng.int(2 ** 31)]), true);
  return out;
};

/** Edit an IDX file (gzipped or raw): its magic (type code, number of dims) or one of its dims. */
const idxHeader: Mutation = (b, rng) => {
  const gz = isGzip(b);
  const raw = gz ? new Uint8Array(gunzipSync(b)) : b.slice();
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const ndim = raw[3];
  switch (rng.int(4)) {
    case 0:
      raw[2] = pick(rng, [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff]);
      break;
    case 1:
      raw[3] = pick(rng, [0, 1, 2, 4, 255]);
      break;
    case 2:
      view.setUint32(4 + 4 * rng.int(ndim), pick(rng, [0, 1, 27, 29, 1e6, 0xffffffff]), false);
      break;
    default:
      raw[rng.int(2)] = 1 + rng.int(255);
  }
  return gz ? new Uint8Array(gzipSync(raw)) : raw;
};

/** Edit a JSON file (located.json): a field set to a value of another kind or range, or deleted; nested ones too. */
const jsonFields: Mutation = (b, rng) => {
  const doc = JSON.parse(text(b)) as Record<string, unknown>;
  const paths: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (paths.push([v, i]), walk(x)));
    else if (v && typeof v === 'object')
      for (const k of Object.keys(v)) (paths.push([v as Record<string, unknown>, k]), walk((v as Record<string, unknown>)[k]));
  };
  walk(doc);
  const [holder, key] = pick(rng, paths);
  const value = pick(rng, [null, -1, 0, 1e9, 2 ** 53, 0.5, '', 'x', [], {}, true, [1e9], 'NaN']);
  if (rng.uniform() < 0.2 && !Array.isArray(holder)) delete holder[key as string];
  else (holder as Record<string | number, unknown>)[key] = value;
  return bytesOf(JSON.stringify(doc, null, 1));
};

/** Exit 0, or one `scalpel: error:` line and exit 1. */
function checkOutcome(label: string, r: CliResult): void {
  if (r.code === 0) return;
  assert.equal(r.code, 1, `${label}: exit ${r.code}\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !/^scalpel: (note|warning): /.test(l));
  assert.equal(lines.length, 1, `${label}: expected one error line:\n${r.stderr}`);
  assert.match(lines[0], /^scalpel: error: /, label);
  assert.doesNotMatch(lines[0], /internal error/, `${label}: ${lines[0]}`);
}

/**
 * Run `CASES` seeded mutations of `base` (bit flips, truncation, random bytes, header edits in turn), each written to
 * `path`, through `run`; return the number of runs that exited 0.
 */
async function fuzz(t: TestContext, kind: string, base: Uint8Array, header: Mutation, path: string, run: () => Promise<CliResult>): Promise<number> {
  const mutations = [flipBits, truncate, randomBytes, header];
  // A plain Uint8Array copy: Buffer's slice() is a view, and would let one case's mutation leak into the next.
  const pristine = new Uint8Array(base);
  const acceptedSeeds: number[] = [];
  for (let i = 0; i < CASES; i++) {
    const rng = new Rng(SEED + i);
    const mutated = mutations[i % mutations.length](pristine, rng);
    writeFileSync(path, mutated);
    const r = await run();
    const label = `${kind} case ${i} (${mutations[i % mutations.length] === header ? 'header edit' : ['bit flips', 'truncation', 'random bytes'][i % 4]}, seed ${SEED + i})`;
    try {
      checkOutcome(label, r);
    } catch (e) {
      // Keep the failing input, to reproduce the run outside the test.
      const kept = join(tmpdir(), `scalpel-fuzz-failure-${SEED + i}-${basename(path)}`);
      writeFileSync(kept, mutated);
      (e as Error).message += `\n(the input is kept in ${kept})`;
      throw e;
    }
    if (r.code === 0) {
      acceptedSeeds.push(SEED + i);
      // SCALPEL_FUZZ_KEEP=DIR keeps every accepted input there, to read what a run let through.
      if (process.env.SCALPEL_FUZZ_KEEP) writeFileSync(join(process.env.SCALPEL_FUZZ_KEEP, `${SEED + i}-${basename(path)}`), mutated);
    }
  }
  const accepted = acceptedSeeds.length;
  t.diagnostic(
    `${kind}: ${accepted} of ${CASES} mutated files accepted (seeds ${acceptedSeeds.join(', ') || 'none'}), ${CASES - accepted} refused in one line`,
  );
  return accepted;
}

let sample: { x: HostTensor; y: HostTensor };
before(async () => {
  const test = await loadLabelledData('embedded', 'test');
  const rows = Array.from({ length: 16 }, (_, i) => i);
  sample = { x: takeRows(test.x, rows), y: takeRows(test.y, rows) };
});

const opts = { timeout: 300_000 };

test('fuzz: a .safetensors data file', opts, async (t) => {
  const base = encodeSafetensors({ x: sample.x, y: sample.y }, { note: 'fuzz' });
  const path = join(tmp, 'data.safetensors');
  writeFileSync(path, base);
  const ok = await cli(['--threads', '1', 'eval', MODEL, '--data', path, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  await fuzz(t, 'safetensors data', base, safetensorsHeader, path, () => cli(['--threads', '1', 'eval', MODEL, '--data', path, '--json']));
});

for (const compress of [false, true]) {
  test(`fuzz: an .npz data file (${compress ? 'deflated' : 'stored'})`, opts, async (t) => {
    const px = Uint8Array.from(sample.x.data as Float32Array, (v) => Math.max(0, Math.min(255, Math.round((v * 0.353 + 0.286) * 255))));
    const base = encodeNpz({ x: { dtype: 'uint8', dims: sample.x.dims, data: px }, y: sample.y }, { compress });
    const path = join(tmp, `data-${compress}.npz`);
    writeFileSync(path, base);
    const ok = await cli(['--threads', '1', 'eval', MODEL, '--data', path, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    await fuzz(t, 'npz data', base, npzHeader, path, () => cli(['--threads', '1', 'eval', MODEL, '--data', path, '--json']));
  });
}

test('fuzz: a delta file (scalpel diff --out) given to apply', opts, async (t) => {
  const model = readModel(MODEL);
  const edited = join(tmp, 'edited.onnx');
  const w = [...model.graph.initializers.values()].find((i) => i.tensor?.dtype === 'float32' && i.tensor.data.length > 100)!.tensor!;
  const data = w.data as Float32Array;
  for (let i = 0; i < 40; i += 3) data[i] += 0.01;
  writeModel(model, edited);
  const deltaPath = join(tmp, 'change.safetensors');
  const d = await cli(['diff', MODEL, edited, '--out', deltaPath]);
  assert.equal(d.code, 0, d.stderr);
  const base = new Uint8Array(readFileSync(deltaPath));
  const path = join(tmp, 'mutated-delta.safetensors');
  const out = join(tmp, 'applied.onnx');
  const ok = await cli(['apply', MODEL, deltaPath, '-o', out]);
  assert.equal(ok.code, 0, ok.stderr);
  const want = paramsHash(readModel(out));
  rmSync(out);
  const accepted = await fuzz(t, 'delta', base, safetensorsHeader, path, async () => {
    const r = await cli(['apply', MODEL, path, '-o', out]);
    // A damaged delta is refused, or (a harmless edit, such as of its free-text command) gives exactly the edit.
    if (r.code === 0) assert.equal(paramsHash(readModel(out)), want, `a mutated delta applied a different change\n${r.stderr}`);
    rmSync(out, { force: true });
    return r;
  });
  assert.ok(accepted < CASES, `${accepted} of ${CASES} mutated deltas applied`);
});

test('fuzz: a trigger file (label-T.safetensors) given to eval --trigger file:', opts, async (t) => {
  const mask = new Float32Array(28 * 28);
  for (let r = 22; r < 26; r++) for (let c = 22; c < 26; c++) mask[r * 28 + c] = 1;
  const triggerPath = join(tmp, 'label-0.safetensors');
  await writeTriggerFile(triggerPath, { type: 'mask', size: [28, 28], channels: 1, mask, pattern: new Float32Array(28 * 28).fill(1) }, { label: '0' });
  const base = new Uint8Array(readFileSync(triggerPath));
  const dataPath = join(tmp, 'trigger-data.safetensors');
  writeFileSync(dataPath, encodeSafetensors({ x: sample.x, y: sample.y }));
  const path = join(tmp, 'mutated-trigger.safetensors');
  const args = (p: string) => ['--threads', '1', 'eval', MODEL, '--trigger', `file:${p}`, '--target', '0', '--json'];
  const ok = await cli(args(triggerPath));
  assert.equal(ok.code, 0, ok.stderr);
  await fuzz(t, 'trigger', base, safetensorsHeader, path, () => cli(args(path)));
});

for (const gzip of [true, false]) {
  test(`fuzz: IDX files (${gzip ? 'gzip' : 'raw'})`, opts, async (t) => {
    const dir = join(tmp, `idx-${gzip}`);
    mkdirSync(dir);
    const suffix = gzip ? '.gz' : '';
    const px = Uint8Array.from(sample.x.data as Float32Array, (v) => Math.max(0, Math.min(255, Math.round((v * 0.353 + 0.286) * 255))));
    const images = encodeIdx({ dtype: 'uint8', dims: [16, 28, 28], data: px }, { gzip });
    const labels = encodeIdx({ dtype: 'uint8', dims: [16], data: Uint8Array.from(sample.y.data as BigInt64Array, Number) }, { gzip });
    writeFileSync(join(dir, `t10k-labels-idx1-ubyte${suffix}`), labels);
    const imagesPath = join(dir, `t10k-images-idx3-ubyte${suffix}`);
    writeFileSync(imagesPath, images);
    const args = ['--threads', '1', 'eval', MODEL, '--data', dir, '--json'];
    const ok = await cli(args);
    assert.equal(ok.code, 0, ok.stderr);
    await fuzz(t, 'IDX images', images, idxHeader, imagesPath, () => cli(args));
    writeFileSync(imagesPath, images);
    const labelsPath = join(dir, `t10k-labels-idx1-ubyte${suffix}`);
    await fuzz(t, 'IDX labels', labels, idxHeader, labelsPath, () => cli(args));
  });
}

test('fuzz: a located.json given to repair --located', opts, async (t) => {
  const located = join(tmp, 'located.json');
  const l = await cli([
    '--threads',
    '1',
    'locate',
    MODEL,
    '--oracle-trigger',
    'patch:4x4@bottom-right:white',
    '--pairs',
    '3',
    '--defender-data',
    '200',
    '--layer',
    'fc3',
    '-o',
    located,
  ]);
  assert.equal(l.code, 0, l.stderr);
  const base = new Uint8Array(readFileSync(located));
  const path = join(tmp, 'mutated-located.json');
  const out = join(tmp, 'repaired.onnx');
  const args = (p: string) => [
    '--threads',
    '1',
    'repair',
    MODEL,
    '--method',
    'neuron-finetune',
    '--located',
    p,
    '--clean',
    '50',
    '--defender-data',
    '200',
    '--epochs',
    '1',
    '-o',
    out,
    '--json',
  ];
  const ok = await cli(args(located));
  assert.equal(ok.code, 0, ok.stderr);
  await fuzz(t, 'located.json', base, jsonFields, path, () => cli(args(path)));
});
