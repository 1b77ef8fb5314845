// Pairs from a trigger: x = a clean defender image with the trigger stamped on, x′ = the clean image.
import type { Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { runClassifier } from '../tasks/run.js';
import type { LancetPair, PairSet } from './pairs.js';

export interface TriggerPairOptions {
  /** How the trigger was obtained, for reports ('trigger:FILE', 'oracle-trigger:SPEC'). */
  source: string;
  /** The attacker's own trigger (an oracle result). */
  oracle: boolean;
  /** Seeds the order of the pairs (default 0). */
  seed?: number;
  runtime?: RuntimeOptions;
}

/**
 * Every pair the trigger makes from the data: rows whose clean image the model classifies correctly and whose
 * stamped image it does not (the error shows), in a seeded random order. Fixing a pair means moving the stamped
 * image off the class it was sent to.
 *
 * @param stamp returns a copy of a batch of (normalized) images with the trigger applied
 * @example const set = await triggerPairs(model, defender, (x) => stampImages(x, trig, norm), { source: 'oracle-trigger:…', oracle: true });
 */
export async function triggerPairs(model: Model, data: Dataset, stamp: (x: HostTensor) => HostTensor, opts: TriggerPairOptions): Promise<PairSet> {
  const n = data.x.dims[0];
  const dims = data.x.dims.slice(1);
  const len = dims.reduce((a, b) => a * b, 1);
  const stamped = stamp(data.x);
  if (stamped.dims.join() !== data.x.dims.join())
    throw new Error(`the trigger changes the images' shape from [${data.x.dims.join(', ')}] to [${stamped.dims.join(', ')}]`);
  const clean = (await runClassifier(model, data.x, { runtime: opts.runtime })).predictions;
  const hit = (await runClassifier(model, stamped, { runtime: opts.runtime })).predictions;
  const pairs: LancetPair[] = [];
  const xs = data.x.data as Float32Array;
  const ss = stamped.data as Float32Array;
  for (const row of new Rng(opts.seed ?? 0).permutation(n)) {
    const label = Number(data.y.data[row]);
    if (clean[row] !== label || hit[row] === label) continue;
    pairs.push({ x: ss.slice(row * len, (row + 1) * len), clean: xs.slice(row * len, (row + 1) * len), label, wrong: hit[row], row });
  }
  return { pairs, dims, fix: 'not-wrong', source: opts.source, oracle: opts.oracle };
}
