// The defender's clean data: a seeded random subset of the clean training split, or a file of the defender's own.
import { existsSync } from 'node:fs';
import { samePath } from '../onnx/model-io.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { takeRows } from '../data/batches.js';
import { parseCount, resolveCount } from '../data/count.js';
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';

/** The default share of the clean training split a defender holds (5%, as in the AI-Lancet and fine-pruning papers). */
export const DEFAULT_DEFENDER_FRACTION = 0.05;

export interface DefenderDataOptions {
  /** Share of the training split, in (0, 1] (default 0.05). Ignored when `count` is given. */
  fraction?: number;
  /** Exactly this many examples instead of a fraction. */
  count?: number;
  /** Seed of the draw (default 0): the same seed draws the same examples. */
  seed?: number;
}

/** Defender data: which rows of the training split it holds, ascending. */
export type DefenderData = LabelledData & { indices: Uint32Array };

/**
 * The defender's clean data: a seeded random subset of the clean TRAINING split (never the test split), rows in
 * ascending order of the source. A defence may use only this data, for training as well as for tuning and stopping.
 *
 * @param train the clean training split, as `loadLabelledData(spec, 'train')` returns it
 * @param opts.fraction share of the training split (default 0.05)
 * @param opts.count a number of examples instead of a fraction
 * @param opts.seed seed of the draw (default 0)
 *
 * @example
 * const train = await loadLabelledData('fashion-mnist', 'train');
 * const defender = defenderData(train, { fraction: 0.05, seed: 0 }); // 3,000 of the 60,000 images
 */
export function defenderData(train: LabelledData, opts: DefenderDataOptions = {}): DefenderData {
  const n = train.x.dims[0];
  const seed = opts.seed ?? 0;
  let count: number;
  if (opts.count !== undefined) {
    if (!Number.isInteger(opts.count) || opts.count < 1)
      throw new Error(`defender data: the number of examples must be a whole number of at least 1, got ${opts.count}`);
    if (opts.count > n) throw new Error(`defender data: asked for ${opts.count} examples but ${train.source} has ${n}`);
    count = opts.count;
  } else {
    const fraction = opts.fraction ?? DEFAULT_DEFENDER_FRACTION;
    if (!(fraction > 0 && fraction <= 1)) throw new Error(`defender data: the fraction must be in (0, 1], got ${fraction}`);
    if (n < 1) throw new Error(`defender data is empty: ${train.source} has no examples`);
    count = resolveCount({ kind: 'fraction', fraction, percent: false }, n, 'defender data');
  }
  const rows = new Rng(seed).permutation(n).subarray(0, count).slice().sort();
  const share = opts.count !== undefined ? `${count} examples` : `${+((opts.fraction ?? DEFAULT_DEFENDER_FRACTION) * 100).toPrecision(4)}%`;
  return {
    ...train,
    x: takeRows(train.x, rows),
    y: takeRows(train.y, rows),
    source: `${train.source} (defender: ${share} of the training split, seed ${seed})`,
    indices: rows,
  };
}

/**
 * `--defender-data` as a command line gives it:
 * - absent: 5% of the clean training split of `--data`, drawn with `--seed`;
 * - a fraction in (0, 1) such as `0.1`, or `10%`: that share of the training split, drawn with `--seed`;
 * - a whole number such as `500`: that many examples of the training split, drawn with `--seed`;
 * - a path: a .safetensors/.npz file with `x` and `y` (or an IDX directory, whose training split is used whole).
 */
export type DefenderSpec = { kind: 'share'; fraction?: number; count?: number } | { kind: 'file'; path: string };

/**
 * Parse a `--defender-data` value.
 *
 * @example parseDefenderSpec('0.1'); // { kind: 'share', fraction: 0.1 }
 */
export function parseDefenderSpec(text: string | undefined): DefenderSpec {
  if (text === undefined) return { kind: 'share' };
  const t = text.trim();
  if (t === '') throw new Error('defenderData is empty: give a fraction (0.05), a count (3000) or a .safetensors/.npz file');
  // Anything that reads as a number or a share is one (a typo such as 0..5 is refused, not taken for a file name).
  if (t.toLowerCase() === 'all' || /^[\d.eE+-]+%?$/.test(t)) {
    const c = parseCount(t, 'defenderData');
    return c.kind === 'count' ? { kind: 'share', count: c.n } : { kind: 'share', fraction: c.kind === 'all' ? 1 : c.fraction };
  }
  return { kind: 'file', path: t };
}

export interface LoadDefenderOptions {
  /** `--data`: where the training split comes from (default: the embedded subset). */
  data?: string;
  /** `--defender-data` (see DefenderSpec); default 5% of the training split. */
  defenderData?: string;
  /** `--seed` of the draw (default 0). */
  seed?: number;
}

/**
 * Load the defender's clean data as `--data` and `--defender-data` describe it (see DefenderSpec). Never reads
 * the test split. Throws one clear error for empty data.
 *
 * @example const d = await loadDefenderData({ data: 'fashion-mnist', defenderData: '0.05', seed: 0 });
 */
export async function loadDefenderData(o: LoadDefenderOptions = {}): Promise<LabelledData> {
  const spec = parseDefenderSpec(o.defenderData);
  if (spec.kind === 'file') {
    if (o.data && existsSync(o.data) && samePath(o.data, spec.path))
      throw new Error(`the defender's data and the data the defence is measured on are the same file (${spec.path}); give the defender its own examples`);
    if (!existsSync(spec.path))
      throw new Error(`defenderData: ${spec.path} not found (give a fraction such as 0.05, a count such as 3000, or a .safetensors/.npz file)`);
    const d = await loadLabelledData(spec.path, 'train');
    if (d.x.dims[0] === 0) throw new Error(`defender data ${d.source} is empty`);
    return { ...d, source: `${d.source} (defender data)` };
  }
  const train = await loadLabelledData(o.data, 'train');
  if (!train.split) {
    throw new Error(
      `${o.data} is a single file: the defender's data would be drawn from the very examples the defence is measured on. ` +
        "Give a dataset with train and test splits (an IDX directory, or a directory holding train.npz and test.npz), or the defender's own file as the defender data",
    );
  }
  return defenderData(train, { fraction: spec.fraction, count: spec.count, seed: o.seed });
}

/** The labels of a dataset as numbers (int64 or int32 tensors). */
export function labelsOf(y: HostTensor): number[] {
  return Array.from(y.data as ArrayLike<number | bigint>, (v) => Number(v));
}
