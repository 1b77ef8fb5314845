// --normalize MEAN,STD|none: the input normalisation of the images a command reads.
import { type Command, InvalidArgumentError } from 'commander';
import type { Normalization } from '../data/triggers.js';
import { parseNormalization } from '../tasks/normalization.js';

/**
 * Parse `--normalize` (see `parseNormalization`); a bad value is a usage error (exit 2).
 *
 * @example parseNormalize('0.1307,0.3081') // { mean: 0.1307, std: 0.3081 }
 */
export function parseNormalize(value: string): Normalization {
  try {
    return parseNormalization(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
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

/** True when `--data` names images (the embedded subset, fashion-mnist, an IDX directory) rather than a tensor file. */
export function readsImages(data: string | undefined): boolean {
  return data === undefined || !/\.(safetensors|npz|npy)$/i.test(data);
}
