// --normalize MEAN,STD|none: the input normalisation of the images a command reads, and the warning when it is assumed.
import { type Command, InvalidArgumentError } from 'commander';
import type { Normalization } from '../data/triggers.js';
import { FASHION_MNIST_NORMALIZATION } from '../data/fashion-mnist.js';
import type { Model } from '../onnx/ir.js';
import { getMetadata, setMetadata } from '../onnx/metadata.js';
import type { Writer } from './command.js';

/** Where a command's normalisation came from: the flag, the model's metadata, or assumed (Fashion-MNIST's). */
export interface NormalizationChoice extends Normalization {
  source: 'flag' | 'model' | 'assumed';
}

/**
 * Parse `--normalize`: `none` (raw [0, 1] pixels), `MEAN,STD`, or per-channel lists `M1/M2/M3,S1/S2/S3`.
 * A bad value is a usage error (exit 2).
 *
 * @example parseNormalize('0.1307,0.3081') // { mean: 0.1307, std: 0.3081 }
 */
export function parseNormalize(value: string): Normalization {
  if (value.trim().toLowerCase() === 'none') return { mean: 0, std: 1 };
  const parts = value.split(',');
  const list = (s: string, what: string) => {
    const vals = s.split('/').map((t) => Number(t.trim()));
    if (s.trim() === '' || vals.some((v) => !Number.isFinite(v)) || (what === 'std' && vals.some((v) => v <= 0))) {
      throw new InvalidArgumentError(`expected MEAN,STD (numbers, per channel as M1/M2/M3,S1/S2/S3, std > 0) or 'none', got '${value}'`);
    }
    return vals.length === 1 ? vals[0] : vals;
  };
  if (parts.length !== 2) throw new InvalidArgumentError(`expected MEAN,STD (per channel as M1/M2/M3,S1/S2/S3) or 'none', got '${value}'`);
  const mean = list(parts[0], 'mean');
  const std = list(parts[1], 'std');
  if (Array.isArray(mean) && Array.isArray(std) && mean.length !== std.length) {
    throw new InvalidArgumentError(`--normalize has ${mean.length} means but ${std.length} standard deviations`);
  }
  return { mean, std };
}

/** Add `--normalize` to a command that reads images. */
export function addNormalizeOption(cmd: Command): Command {
  return cmd.option(
    '--normalize <spec>',
    "MEAN,STD: the input normalisation the model expects, (pixel/255 - mean) / std; 'none' for [0, 1] pixels; per channel M1/M2/M3,S1/S2/S3 " +
      "(default: the model's metadata, else Fashion-MNIST's mean 0.286, std 0.353, with a warning)",
    parseNormalize,
  );
}

/** `0.286` or `[0.485, 0.456]` as text. */
function fmt(v: number | readonly number[]): string {
  return typeof v === 'number' ? String(v) : v.join('/');
}

/**
 * Decide the normalisation of the images a command feeds `model`: the flag, else the model's metadata, else Fashion-MNIST's
 * with one warning line on `stderr` (only when the data are images whose normalisation scalpel chooses). The choice is
 * recorded on the model (in memory) so that every later step uses it.
 *
 * @example const choice = chooseNormalization(model, flags.normalize, ctx.io.stderr, 'model.onnx', true);
 */
export function chooseNormalization(model: Model, flag: Normalization | undefined, stderr: Writer, modelPath: string, images: boolean): NormalizationChoice {
  if (flag) {
    setMetadata(model, { 'scalpel.normalization': JSON.stringify(flag) });
    return { ...flag, source: 'flag' };
  }
  const recorded = getMetadata(model, 'scalpel.normalization');
  if (recorded) return { ...(JSON.parse(recorded) as Normalization), source: 'model' };
  const assumed = { mean: FASHION_MNIST_NORMALIZATION.mean, std: FASHION_MNIST_NORMALIZATION.std };
  if (images) {
    stderr.write(
      `scalpel: warning: ${modelPath} records no input normalisation; assuming Fashion-MNIST's (pixel/255 - ${fmt(assumed.mean)}) / ${fmt(assumed.std)}. ` +
        `Pass --normalize MEAN,STD, or --normalize none for a model trained on [0, 1] pixels\n`,
    );
  }
  return { ...assumed, source: 'assumed' };
}

/** True when `--data` names images (the embedded subset, fashion-mnist, an IDX directory) rather than a tensor file. */
export function readsImages(data: string | undefined): boolean {
  return data === undefined || !/\.(safetensors|npz|npy)$/i.test(data);
}
