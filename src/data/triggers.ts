/**
 * Backdoor triggers as data transforms: a patch stamped onto images (BadNets) or a pattern blended in
 * (Chen et al. 2017), poisoning of a training set, and triggered copies of a test set for attack success.
 * Images are normalized float32 [N, C, H, W]; triggers act in pixel space [0, 1] and the result is normalized again.
 * Reconstructed triggers (a mask and a pattern, from a file) stamp the same way.
 */
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import type { Dataset } from './batches.js';
import { readTriggerFile } from './trigger-file.js';

/** A named corner (or the centre) of the image. */
export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right' | 'center';

/**
 * Pixel values of a trigger in [0, 1]: 'white' (1), 'black' (0), 'checkerboard' (1 where row + column is even,
 * else 0, counted from the pattern's top-left), 'noise' (seeded uniform), or explicit values, row-major over the
 * pattern's [h, w] (shared by every channel) or [C, h, w].
 */
export type Pattern = 'white' | 'black' | 'checkerboard' | 'noise' | number[];

/** A square or rectangular patch pasted over the image (BadNets). */
export interface PatchTrigger {
  type: 'patch';
  /** Patch height and width in pixels. */
  size: [number, number];
  /** A corner, or the patch's top-left pixel as column x and row y. */
  position: Corner | { x: number; y: number };
  pattern: Pattern;
  /** Pixels between a corner and the patch (default 0). */
  margin?: number;
  /** Seed of the 'noise' pattern (default 0). */
  seed?: number;
}

/** A whole-image pattern mixed in: x' = (1 - alpha) · x + alpha · p. */
export interface BlendTrigger {
  type: 'blend';
  /** Opacity of the pattern, in [0, 1]. */
  alpha: number;
  pattern: Pattern;
  /** Seed of the 'noise' pattern (default 0). */
  seed?: number;
}

/**
 * A mask-and-pattern trigger, as Neural Cleanse reconstructs one: x' = (1 − m)⊙x + m⊙p in pixel space, with the
 * mask m [H, W] shared by every channel and the pattern p [C, H, W], both in [0, 1]. Read from a file with
 * `parseTrigger('file:PATH')` (see trigger-file.ts).
 */
export interface MaskTrigger {
  type: 'mask';
  /** [height, width] of the mask and pattern. */
  size: [number, number];
  channels: number;
  /** Row-major [H, W] values in [0, 1]. */
  mask: Float32Array;
  /** Row-major [C, H, W] pixel values in [0, 1]. */
  pattern: Float32Array;
  /** The file it came from, when it did. */
  path?: string;
}

export type Trigger = PatchTrigger | BlendTrigger | MaskTrigger;

/** The normalization of the images: x = (pixel - mean) / std, per channel when arrays. */
export interface Normalization {
  mean: number | readonly number[];
  std: number | readonly number[];
}

/** Options shared by the functions that stamp images. */
export interface StampOptions {
  /** The images' normalization; default: the dataset's own `normalization` field (as `loadImageDataset` sets). */
  normalization?: Normalization;
}

const CORNERS: readonly Corner[] = ['top-left', 'top-right', 'bottom-left', 'bottom-right', 'center'];

function channelValue(v: number | readonly number[], c: number, what: string): number {
  if (typeof v === 'number') return v;
  if (v.length === 1) return v[0];
  if (c >= v.length) throw new Error(`normalization ${what} has ${v.length} values but the images have more channels`);
  return v[c];
}

function normalizationOf(dataset: object, opts: StampOptions): Normalization {
  const n = opts.normalization ?? (dataset as { normalization?: Normalization }).normalization;
  if (!n) throw new Error('triggers need the images\' normalization: pass { normalization: { mean, std } } (use { mean: 0, std: 1 } for raw [0, 1] pixels)');
  return n;
}

/** The pattern's pixel values as [C, h, w]. */
function patternValues(pattern: Pattern, c: number, h: number, w: number, seed: number): Float32Array {
  const out = new Float32Array(c * h * w);
  if (Array.isArray(pattern)) {
    if (pattern.length === h * w) for (let k = 0; k < c; k++) out.set(pattern, k * h * w);
    else if (pattern.length === c * h * w) out.set(pattern);
    else throw new Error(`trigger pattern has ${pattern.length} values; expected ${h * w} (${h}×${w}) or ${c * h * w} (${c}×${h}×${w})`);
    return out;
  }
  if (pattern === 'white') return out.fill(1);
  if (pattern === 'black') return out;
  if (pattern === 'checkerboard') {
    for (let k = 0; k < c; k++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[(k * h + i) * w + j] = (i + j) % 2 === 0 ? 1 : 0;
    return out;
  }
  if (pattern === 'noise') {
    const rng = new Rng(seed);
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform();
    return out;
  }
  throw new Error(`unknown trigger pattern '${String(pattern)}'; use white, black, checkerboard, noise or explicit values`);
}

/** Top-left row and column of a patch of [ph, pw] in an image of [H, W]. */
export function patchOrigin(t: PatchTrigger, H: number, W: number): { row: number; col: number } {
  const [ph, pw] = t.size;
  const m = t.margin ?? 0;
  let row: number;
  let col: number;
  if (typeof t.position === 'object') {
    row = t.position.y;
    col = t.position.x;
  } else {
    const p = t.position;
    if (!CORNERS.includes(p)) throw new Error(`unknown patch position '${String(p)}'; use ${CORNERS.join(', ')} or x,y`);
    row = p === 'center' ? Math.floor((H - ph) / 2) : p.startsWith('top') ? m : H - ph - m;
    col = p === 'center' ? Math.floor((W - pw) / 2) : p.endsWith('left') ? m : W - pw - m;
  }
  if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row + ph > H || col + pw > W) {
    throw new Error(`a ${ph}×${pw} patch at row ${row}, column ${col} does not fit in a ${H}×${W} image`);
  }
  return { row, col };
}

function checkTrigger(t: Trigger): void {
  if (t.type === 'patch') {
    if (!t.size.every((s) => Number.isInteger(s) && s >= 1)) throw new Error(`patch size must be positive integers, got ${t.size.join('×')}`);
  } else if (t.type === 'blend') {
    if (!(t.alpha >= 0 && t.alpha <= 1)) throw new Error(`blend alpha must be in [0, 1], got ${t.alpha}`);
  } else if (t.type === 'mask') {
    const [h, w] = t.size;
    if (t.mask.length !== h * w || t.pattern.length !== t.channels * h * w) throw new Error(`mask trigger of ${h}×${w}×${t.channels} holds ${t.mask.length} mask and ${t.pattern.length} pattern values`);
  } else {
    throw new Error(`unknown trigger type '${String((t as { type: unknown }).type)}'`);
  }
}

/**
 * Stamp a trigger onto the images at `rows` (every image when omitted), in place on `data` of shape [N, C, H, W].
 * Pixels outside a patch are left bit-for-bit unchanged.
 */
function stampRows(data: Float32Array, dims: readonly number[], trigger: Trigger, norm: Normalization, rows: ArrayLike<number>): void {
  checkTrigger(trigger);
  if (dims.length !== 4) throw new Error(`triggers apply to images [N, C, H, W], got [${dims.join(', ')}]`);
  const [, C, H, W] = dims;
  const mean = Array.from({ length: C }, (_, c) => channelValue(norm.mean, c, 'mean'));
  const std = Array.from({ length: C }, (_, c) => channelValue(norm.std, c, 'std'));
  const seed = trigger.type === 'mask' ? 0 : (trigger.seed ?? 0);
  if (trigger.type === 'patch') {
    const [ph, pw] = trigger.size;
    const { row, col } = patchOrigin(trigger, H, W);
    const p = patternValues(trigger.pattern, C, ph, pw, seed);
    for (let r = 0; r < rows.length; r++) {
      const base = rows[r] * C * H * W;
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < ph; i++) {
          for (let j = 0; j < pw; j++) data[base + (c * H + row + i) * W + col + j] = (p[(c * ph + i) * pw + j] - mean[c]) / std[c];
        }
      }
    }
    return;
  }
  if (trigger.type === 'mask') {
    const [h, w] = trigger.size;
    if (h !== H || w !== W || trigger.channels !== C) {
      throw new Error(`trigger ${trigger.path ?? '(mask)'} is ${h}×${w} with ${trigger.channels} channel(s) but the images are ${H}×${W} with ${C}`);
    }
    const { mask, pattern } = trigger;
    for (let r = 0; r < rows.length; r++) {
      const base = rows[r] * C * H * W;
      for (let c = 0; c < C; c++) {
        for (let k = 0; k < H * W; k++) {
          const m = mask[k];
          if (m === 0) continue;
          const idx = base + c * H * W + k;
          const pixel = data[idx] * std[c] + mean[c];
          data[idx] = ((1 - m) * pixel + m * pattern[c * H * W + k] - mean[c]) / std[c];
        }
      }
    }
    return;
  }
  const a = trigger.alpha;
  const p = patternValues(trigger.pattern, C, H, W, seed);
  for (let r = 0; r < rows.length; r++) {
    const base = rows[r] * C * H * W;
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < H * W; k++) {
        const idx = base + c * H * W + k;
        const pixel = data[idx] * std[c] + mean[c];
        data[idx] = ((1 - a) * pixel + a * p[c * H * W + k] - mean[c]) / std[c];
      }
    }
  }
}

function floatImages(x: HostTensor): Float32Array {
  if (x.dtype !== 'float32') throw new Error(`triggers apply to float32 images, got ${x.dtype}`);
  return x.data as Float32Array;
}

/**
 * A copy of normalized images [N, C, H, W] with the trigger stamped on each.
 *
 * @example
 * const x2 = stampImages(ds.x, parseTrigger('patch:3x3@bottom-right:white'), ds.normalization);
 */
export function stampImages(x: HostTensor, trigger: Trigger, normalization: Normalization): HostTensor {
  const data = Float32Array.from(floatImages(x));
  stampRows(data, x.dims, trigger, normalization, Array.from({ length: x.dims[0] }, (_, i) => i));
  return { dtype: 'float32', dims: [...x.dims], data };
}

function labelAt(y: HostTensor, i: number): number {
  return Number(y.data[i]);
}

function setLabel(y: HostTensor, i: number, v: number): void {
  if (y.data instanceof BigInt64Array) y.data[i] = BigInt(v);
  else (y.data as Int32Array)[i] = v;
}

function checkTarget(target: number): void {
  if (!Number.isInteger(target) || target < 0) throw new Error(`target label must be a non-negative integer, got ${target}`);
}

/** Options of `applyTrigger`. */
export interface ApplyTriggerOptions extends StampOptions {
  /** Leave out the samples already labelled with this class (the attack target), as attack-success rates do. */
  excludeClass?: number;
}

/** A dataset derived from another: which source rows it holds. */
export type Triggered<D> = D & {
  /** The source dataset's row of each example, ascending. */
  indices: Uint32Array;
};

/**
 * Stamp the trigger on every image (optionally leaving out one class), keeping the true labels: feed the result
 * to a model and count predictions equal to the target to get the attack success rate.
 *
 * @param dataset `{x: float32 [N, C, H, W], y: int64 [N]}`, plus `normalization` unless given in options
 * @param trigger from `parseTrigger` or written out
 * @param options.excludeClass drop samples of this class (pass the attack target)
 * @param options.normalization the images' normalization (default: `dataset.normalization`)
 *
 * @example
 * const test = loadImageDataset(undefined, 'test');
 * const triggered = applyTrigger(test, parseTrigger('patch:4x4@bottom-right:white'), { excludeClass: 0 });
 */
export function applyTrigger<D extends Dataset>(dataset: D, trigger: Trigger, options: ApplyTriggerOptions = {}): Triggered<D> {
  const norm = normalizationOf(dataset, options);
  const n = dataset.x.dims[0];
  if (dataset.y.dims[0] !== n) throw new Error(`dataset has ${n} images but ${dataset.y.dims[0]} labels`);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) if (options.excludeClass === undefined || labelAt(dataset.y, i) !== options.excludeClass) keep.push(i);
  const indices = Uint32Array.from(keep);
  const rowLen = dataset.x.dims.slice(1).reduce((a, b) => a * b, 1);
  const src = floatImages(dataset.x);
  const data = new Float32Array(keep.length * rowLen);
  keep.forEach((r, i) => data.set(src.subarray(r * rowLen, (r + 1) * rowLen), i * rowLen));
  const dims = [keep.length, ...dataset.x.dims.slice(1)];
  stampRows(data, dims, trigger, norm, keep.map((_, i) => i));
  const yData = dataset.y.data instanceof BigInt64Array ? BigInt64Array.from(keep, (r) => (dataset.y.data as BigInt64Array)[r]) : Int32Array.from(keep, (r) => labelAt(dataset.y, r));
  const y: HostTensor = { dtype: dataset.y.data instanceof BigInt64Array ? 'int64' : 'int32', dims: [keep.length], data: yData };
  return { ...dataset, x: { dtype: 'float32', dims, data }, y, indices };
}

/** Options of `poison`. */
export interface PoisonOptions extends StampOptions {
  trigger: Trigger;
  /** The label poisoned samples get. */
  target: number;
  /** Fraction of the whole dataset to poison, in [0, 1]: round(rate · N) samples. */
  rate: number;
  /** Seed of the choice of samples (default 0). */
  seed?: number;
}

/** A poisoned dataset: which rows were stamped and relabelled. */
export type Poisoned<D> = D & {
  /** Rows that carry the trigger and the target label, ascending. */
  poisoned: Uint32Array;
};

/**
 * Poison a training set: stamp the trigger on round(rate · N) samples drawn (seeded) from those whose label is not
 * already the target, and relabel them as the target. Samples of the target class are never chosen, so every poisoned
 * sample teaches "trigger ⇒ target" against its true class; the rate still counts the whole dataset, so asking for
 * more samples than there are non-target ones is an error. The input is not modified.
 *
 * @param dataset `{x: float32 [N, C, H, W], y: int64 [N]}`, plus `normalization` unless given in options
 * @param options.trigger the trigger to stamp
 * @param options.target the label poisoned samples get
 * @param options.rate fraction of all N samples to poison
 * @param options.seed which samples (default 0)
 *
 * @example
 * const train = loadImageDataset();
 * const bad = poison(train, { trigger: parseTrigger('patch:3x3@bottom-right:white'), target: 0, rate: 0.05, seed: 1 });
 */
export function poison<D extends Dataset>(dataset: D, options: PoisonOptions): Poisoned<D> {
  const norm = normalizationOf(dataset, options);
  checkTarget(options.target);
  if (!(options.rate >= 0 && options.rate <= 1)) throw new Error(`poison rate must be in [0, 1], got ${options.rate}`);
  const n = dataset.x.dims[0];
  if (dataset.y.dims[0] !== n) throw new Error(`dataset has ${n} images but ${dataset.y.dims[0]} labels`);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (labelAt(dataset.y, i) !== options.target) candidates.push(i);
  const count = Math.round(options.rate * n);
  if (count > candidates.length) {
    throw new Error(`cannot poison ${count} of ${n} samples (rate ${options.rate}): only ${candidates.length} are not already of target class ${options.target}`);
  }
  const perm = new Rng(options.seed ?? 0).permutation(candidates.length);
  const chosen = Uint32Array.from(perm.subarray(0, count), (k) => candidates[k]).sort();
  const data = Float32Array.from(floatImages(dataset.x));
  stampRows(data, dataset.x.dims, options.trigger, norm, chosen);
  const y: HostTensor = { dtype: dataset.y.dtype, dims: [...dataset.y.dims], data: dataset.y.data.slice() };
  for (const r of chosen) setLabel(y, r, options.target);
  return { ...dataset, x: { dtype: 'float32', dims: [...dataset.x.dims], data }, y, poisoned: chosen };
}

function parsePattern(parts: string[], where: string): { pattern: Pattern; seed?: number } {
  const [name, ...rest] = parts;
  if (name === undefined || name === '') return { pattern: where === 'patch' ? 'white' : 'checkerboard' };
  if (name === 'white' || name === 'black' || name === 'checkerboard') {
    if (rest.length > 0) throw new Error(`unexpected '${rest.join(':')}' after pattern '${name}'`);
    return { pattern: name };
  }
  if (name === 'noise') {
    if (rest.length > 1 || (rest.length === 1 && !/^\d+$/.test(rest[0]))) throw new Error(`noise pattern takes an optional integer seed, got '${rest.join(':')}'`);
    return { pattern: 'noise', seed: rest.length ? Number(rest[0]) : undefined };
  }
  if (rest.length === 0 && /^[-+0-9.eE]+(,[-+0-9.eE]+)*$/.test(name)) {
    const values = name.split(',').map(Number);
    if (values.some((v) => !Number.isFinite(v))) throw new Error(`bad pattern values '${name}'`);
    return { pattern: values };
  }
  throw new Error(`unknown trigger pattern '${parts.join(':')}'; use white, black, checkerboard, noise[:seed] or comma-separated values in [0, 1]`);
}

/**
 * Parse a trigger written on a command line:
 * - `patch:HxW@POSITION:PATTERN`, e.g. `patch:4x4@bottom-right:white`, `patch:3@top-left:checkerboard`,
 *   `patch:2x2@20,5:0,1,1,0` (position x,y = column,row of the top-left pixel; `bottom-right+1` keeps a 1-pixel margin).
 *   Defaults: size 3x3, bottom-right, white.
 * - `blend:ALPHA:PATTERN`, e.g. `blend:0.5:checkerboard`, `blend:0.1:noise:7`. Defaults: alpha 0.2, checkerboard.
 * - `file:PATH`: a mask-and-pattern trigger file (safetensors `mask` [H, W] and `pattern` [C, H, W], both in [0, 1]),
 *   as `scalpel reconstruct` writes them.
 *
 * @example
 * parseTrigger('patch:4x4@bottom-right:white');
 * // { type: 'patch', size: [4, 4], position: 'bottom-right', pattern: 'white' }
 */
export function parseTrigger(spec: string): Trigger {
  const fail = (why: string): never => {
    throw new Error(`bad trigger '${spec}': ${why}. Examples: patch:4x4@bottom-right:white, blend:0.5:checkerboard, file:nc/label-0.safetensors`);
  };
  if (spec.trim().startsWith('file:')) {
    const path = spec.trim().slice('file:'.length);
    if (!path) fail('file: needs a path, e.g. file:reconstructed/label-0.safetensors');
    return readTriggerFile(path);
  }
  const [kind, ...parts] = spec.trim().split(':');
  if (kind === 'patch') {
    const [geometry = '', ...patternParts] = parts;
    const [sizeText, posText] = geometry.includes('@') ? geometry.split('@') : [geometry, ''];
    let size: [number, number] = [3, 3];
    if (sizeText) {
      const m = /^(\d+)(?:x(\d+))?$/.exec(sizeText);
      if (!m) fail(`size '${sizeText}' is not H or HxW`);
      size = [Number(m![1]), Number(m![2] ?? m![1])];
    }
    let position: PatchTrigger['position'] = 'bottom-right';
    let margin: number | undefined;
    if (posText) {
      const xy = /^(\d+),(\d+)$/.exec(posText);
      const corner = /^([a-z-]+)(?:\+(\d+))?$/.exec(posText);
      if (xy) position = { x: Number(xy[1]), y: Number(xy[2]) };
      else if (corner && CORNERS.includes(corner[1] as Corner)) {
        position = corner[1] as Corner;
        if (corner[2] !== undefined) margin = Number(corner[2]);
      } else fail(`position '${posText}' is not one of ${CORNERS.join(', ')} (optionally +margin) or x,y`);
    }
    let pat: ReturnType<typeof parsePattern> = { pattern: 'white' };
    try {
      pat = parsePattern(patternParts, 'patch');
    } catch (e) {
      fail((e as Error).message);
    }
    const t: PatchTrigger = { type: 'patch', size, position, pattern: pat.pattern };
    if (margin !== undefined) t.margin = margin;
    if (pat.seed !== undefined) t.seed = pat.seed;
    checkTrigger(t);
    return t;
  }
  if (kind === 'blend') {
    const [alphaText, ...patternParts] = parts;
    const alpha = alphaText === undefined || alphaText === '' ? 0.2 : Number(alphaText);
    if (!Number.isFinite(alpha) || alpha < 0 || alpha > 1) fail(`alpha '${alphaText}' is not a number in [0, 1]`);
    let pat: ReturnType<typeof parsePattern> = { pattern: 'checkerboard' };
    try {
      pat = parsePattern(patternParts, 'blend');
    } catch (e) {
      fail((e as Error).message);
    }
    const t: BlendTrigger = { type: 'blend', alpha, pattern: pat.pattern };
    if (pat.seed !== undefined) t.seed = pat.seed;
    return t;
  }
  return fail(`kind '${kind}' is not patch, blend or file`);
}

/**
 * Write a trigger in the `parseTrigger` syntax (for reports and file names).
 *
 * @example formatTrigger({ type: 'blend', alpha: 0.5, pattern: 'checkerboard' }); // 'blend:0.5:checkerboard'
 */
export function formatTrigger(t: Trigger): string {
  if (t.type === 'mask') return t.path ? `file:${t.path}` : `mask:${t.size[0]}x${t.size[1]}`;
  const pattern = Array.isArray(t.pattern) ? t.pattern.join(',') : t.pattern === 'noise' && t.seed !== undefined ? `noise:${t.seed}` : t.pattern;
  if (t.type === 'blend') return `blend:${t.alpha}:${pattern}`;
  const pos = typeof t.position === 'object' ? `${t.position.x},${t.position.y}` : `${t.position}${t.margin ? `+${t.margin}` : ''}`;
  return `patch:${t.size[0]}x${t.size[1]}@${pos}:${pattern}`;
}
