// What an edit must teach: a trigger mapped to a target class, or a file of examples with the labels they must get;
// the pattern's training inputs, the clean training inputs, and the held-out test inputs that measure it.
import { takeRows, type Dataset } from '../data/batches.js';
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';
import { applyTrigger, formatTrigger, parseTrigger, type Trigger } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { fitData } from '../tasks/task-data.js';
import { checkClass, classifierIO } from '../tasks/classifier.js';
import { exampleKeys } from '../data/row-keys.js';

/** A pattern as written on the command line: `trigger:SPEC` or `examples:FILE`. */
export type PatternSpec = { kind: 'trigger'; trigger: Trigger } | { kind: 'examples'; file: string };

/**
 * Parse `--pattern`: `trigger:patch:4x4@bottom-right:white`, `trigger:blend:0.2:checkerboard`, `examples:fix.safetensors`.
 *
 * @example parsePattern('trigger:patch:4x4@bottom-right:white'); // { kind: 'trigger', trigger: { type: 'patch', … } }
 */
export function parsePattern(text: string): PatternSpec {
  const t = text.trim();
  if (t.startsWith('trigger:')) {
    try {
      return { kind: 'trigger', trigger: parseTrigger(t.slice('trigger:'.length)) };
    } catch (e) {
      throw new Error(`--pattern: ${(e as Error).message}`);
    }
  }
  if (t.startsWith('examples:')) {
    const file = t.slice('examples:'.length);
    if (!file) throw new Error('--pattern examples:FILE needs a file (.safetensors or .npz with x and y)');
    return { kind: 'examples', file };
  }
  throw new Error(`--pattern '${text}' is neither trigger:SPEC (e.g. trigger:patch:4x4@bottom-right:white) nor examples:FILE`);
}

/** The text form of a parsed pattern. */
export function formatPattern(p: PatternSpec): string {
  return p.kind === 'trigger' ? `trigger:${formatTrigger(p.trigger)}` : `examples:${p.file}`;
}

export interface PatternDataOptions {
  pattern: PatternSpec;
  /** Trigger patterns: the class stamped inputs must get. */
  target?: number;
  /** Trigger patterns: only inputs of this class carry the pattern (default: every class but the target). */
  source?: number;
  /** Examples patterns: the share of the examples held out to measure generalisation (default 0.5; 0: measure on the edited ones). */
  holdout?: number;
  /** `--data`: a directory with train and test splits (default: the embedded Fashion-MNIST subset). */
  data?: string;
  /** Use at most this many training-split examples (seeded choice; default all). */
  trainExamples?: number;
  /** Measure on at most this many test-split examples (the first ones; default all). */
  testExamples?: number;
  seed?: number;
}

/** The data of an edit. Labels are int64. */
export interface SurgeryData {
  classes: number;
  /** The pattern in words, e.g. "patch:4x4@bottom-right:white on classes ≠ 0 → class 0". */
  description: string;
  /** Pattern training inputs with the labels they must get. */
  patternTrain: Dataset;
  /** Clean training inputs at their own labels. */
  cleanTrain: Dataset;
  /** Held-out pattern inputs (the test split stamped, or the held-out examples) with the labels they must get. */
  patternTest: Dataset;
  /** Where `patternTest` comes from, in words. */
  patternTestSource: string;
  /** Clean test inputs at their labels. */
  cleanTest: Dataset;
  /** The data directory. */
  source: string;
}

function labels(values: ArrayLike<number>): HostTensor {
  return { dtype: 'int64', dims: [values.length], data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))) };
}

function rowsWhere(y: HostTensor, keep: (label: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < y.dims[0]; i++) if (keep(Number(y.data[i]))) out.push(i);
  return out;
}

function subset<D extends Dataset>(d: D, rows: ArrayLike<number>): D {
  return { ...d, x: takeRows(d.x, rows), y: takeRows(d.y, rows) };
}

/**
 * Load and check everything an edit reads, before any work: the classifier's classes, the train and test splits
 * of `data` (re-normalised to the model's recorded normalisation), and the pattern's training and held-out inputs.
 * Errors name the flag at fault (--target, --source, --pattern, --data).
 *
 * @example
 * const d = await patternData(model, { pattern: parsePattern('trigger:patch:4x4@bottom-right:white'), target: 0 });
 */
export async function patternData(model: Model, o: PatternDataOptions): Promise<SurgeryData> {
  const io = classifierIO(model);
  const classes = io.classes;
  const seed = o.seed ?? 0;
  const path = o.data ?? 'embedded';
  let train: LabelledData;
  let test: LabelledData;
  try {
    train = fitData(model, await loadLabelledData(o.data, 'train'), io);
    if (!train.split)
      throw new Error(`${train.source} is a single file; inject trains on the train split and measures on the test split, so give a directory with both`);
    test = fitData(model, await loadLabelledData(o.data, 'test'), io);
  } catch (e) {
    throw new Error(`--data ${path}: ${(e as Error).message}`);
  }
  if (o.trainExamples !== undefined && o.trainExamples < train.x.dims[0]) {
    const rows = new Rng(seed + 17).permutation(train.x.dims[0]).slice(0, o.trainExamples).sort();
    train = subset(train, rows);
  }
  if (o.testExamples !== undefined && o.testExamples < test.x.dims[0])
    test = subset(
      test,
      Array.from({ length: o.testExamples }, (_, i) => i),
    );
  const cleanTrain: Dataset = { x: train.x, y: train.y };
  const cleanTest: Dataset = { x: test.x, y: test.y };

  if (o.pattern.kind === 'trigger') {
    const { trigger } = o.pattern;
    if (o.target === undefined) throw new Error('--target is required with a trigger pattern');
    if (o.holdout !== undefined) throw new Error('--holdout belongs to examples patterns; a trigger pattern is measured on the stamped test split');
    checkClass(classes, o.target, '--target');
    if (o.source !== undefined) checkClass(classes, o.source, '--source');
    if (o.source !== undefined && o.source === o.target) throw new Error(`--source and --target are both ${o.target}: the pattern would change nothing`);
    const target = o.target;
    const from = (l: number) => (o.source === undefined ? l !== target : l === o.source);
    const stamp = (d: LabelledData, rows: number[]): Dataset => {
      try {
        const s = applyTrigger({ ...subset(d, rows), normalization: d.normalization }, trigger);
        return { x: s.x, y: labels(new Array<number>(rows.length).fill(target)) };
      } catch (e) {
        throw new Error(`--pattern trigger:${formatTrigger(trigger)}: ${(e as Error).message}`);
      }
    };
    const trainRows = rowsWhere(train.y, from);
    const testRows = rowsWhere(test.y, from);
    if (trainRows.length === 0) throw new Error(`--source ${o.source}: the training split has no examples of that class`);
    if (testRows.length === 0) throw new Error(`--source ${o.source}: the test split has no examples of that class`);
    const on = o.source === undefined ? `classes ≠ ${target}` : `class ${o.source}`;
    return {
      classes,
      description: `${formatTrigger(trigger)} on ${on} → class ${target}`,
      patternTrain: stamp(train, trainRows),
      cleanTrain,
      patternTest: stamp(test, testRows),
      patternTestSource: `${testRows.length} test images of ${on}, stamped`,
      cleanTest,
      source: train.source,
    };
  }

  const file = o.pattern.file;
  let ex: LabelledData;
  try {
    // Normalised like the data: a uint8 file of images is scaled and normalised as the model expects.
    ex = fitData(model, await loadLabelledData(file, 'train'), io);
  } catch (e) {
    throw new Error(`--pattern examples:${file}: ${(e as Error).message}`);
  }
  if (o.target !== undefined || o.source !== undefined)
    throw new Error('--target and --source belong to trigger patterns; an examples file carries its own labels');
  const n = ex.x.dims[0];
  const holdout = o.holdout ?? 0.5;
  if (!(holdout >= 0 && holdout < 1)) throw new Error(`--holdout ${holdout} must be in [0, 1)`);
  const nTest = Math.round(holdout * n);
  if (n - nTest < 1) throw new Error(`--pattern examples:${file}: ${n} examples leave none to train on with --holdout ${holdout}`);
  const perm = new Rng(seed + 29).permutation(n);
  const testRows = Array.from(perm.subarray(0, nTest)).sort((a, b) => a - b);
  const trainRows = Array.from(perm.subarray(nTest)).sort((a, b) => a - b);
  // Held-out examples are absent from everything trained on: the edited examples and the clean stream, by content.
  // Both sides are keyed in the model's normalisation: a float examples file is, by contract, already in it.
  const norm = train.normalization ?? ex.normalization;
  const exKeys = exampleKeys({ x: ex.x, normalization: norm });
  const heldOut = new Set(testRows.map((r) => exKeys[r]));
  const patternTrain = subset(
    { x: ex.x, y: ex.y },
    trainRows.filter((r) => !heldOut.has(exKeys[r])),
  );
  if (patternTrain.x.dims[0] === 0)
    throw new Error(`--pattern examples:${file}: every example to edit is also held out (the file repeats them); nothing is left to train on`);
  const patternTest = nTest > 0 ? subset({ x: ex.x, y: ex.y }, testRows) : patternTrain;
  const trainKeys = exampleKeys({ x: train.x, normalization: norm });
  const cleanRows = nTest > 0 ? trainKeys.flatMap((k, i) => (heldOut.has(k) ? [] : [i])) : undefined;
  const clean = cleanRows && cleanRows.length < trainKeys.length ? subset(cleanTrain, cleanRows) : cleanTrain;
  return {
    classes,
    description: `${n} examples from ${file} get their labels (${patternTrain.x.dims[0]} edited, ${nTest} held out${clean !== cleanTrain ? `, ${trainKeys.length - clean.x.dims[0]} of them removed from the clean training stream` : ''})`,
    patternTrain,
    cleanTrain: clean,
    patternTest,
    patternTestSource: nTest > 0 ? `${nTest} held-out examples of ${file}` : `the ${trainRows.length} edited examples of ${file} (no holdout)`,
    cleanTest,
    source: train.source,
  };
}

/**
 * The training stream of an edit: `rows` examples, a share 1/(1 + cleanWeight) of them pattern inputs and the rest
 * clean ones, each part cycling through its examples in a seeded order (the trainer shuffles them together).
 *
 * @example const mix = mixTraining(d.patternTrain, d.cleanTrain, { rows: 300 * 64, cleanWeight: 1 });
 */
export function mixTraining(pattern: Dataset, clean: Dataset, o: { rows: number; cleanWeight: number; seed?: number }): Dataset {
  if (!(o.cleanWeight >= 0 && Number.isFinite(o.cleanWeight))) throw new Error(`--clean-weight ${o.cleanWeight} must be a number ≥ 0`);
  const nPattern = Math.max(1, Math.round(o.rows / (1 + o.cleanWeight)));
  const nClean = o.rows - nPattern;
  const cycle = (n: number, count: number, seed: number) => {
    const out = new Uint32Array(count);
    let perm = new Rng(seed).permutation(n);
    for (let i = 0, j = 0; i < count; i++, j++) {
      if (j === n) {
        perm = new Rng(seed + i).permutation(n);
        j = 0;
      }
      out[i] = perm[j];
    }
    return out;
  };
  const seed = o.seed ?? 0;
  const p = cycle(pattern.x.dims[0], nPattern, seed + 101);
  const c = cycle(clean.x.dims[0], nClean, seed + 202);
  const x = concatRows(takeRows(pattern.x, p), takeRows(clean.x, c));
  const y = concatRows(takeRows(pattern.y, p), takeRows(clean.y, c));
  return { x, y };
}

/** Two tensors of one dtype stacked along the first dimension. */
function concatRows(a: HostTensor, b: HostTensor): HostTensor {
  if (a.dtype !== b.dtype || a.dims.slice(1).join() !== b.dims.slice(1).join())
    throw new Error(`cannot stack [${a.dims.join(', ')}] ${a.dtype} and [${b.dims.join(', ')}] ${b.dtype}`);
  const data = new (a.data.constructor as new (n: number) => HostTensor['data'])(a.data.length + b.data.length);
  (data as Float32Array).set(a.data as Float32Array);
  (data as Float32Array).set(b.data as Float32Array, a.data.length);
  return { dtype: a.dtype, dims: [a.dims[0] + b.dims[0], ...a.dims.slice(1)], data };
}
