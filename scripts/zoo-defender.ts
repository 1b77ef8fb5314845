// The defender's data in the zoo runs: the same 3,000 images `--defender-data` draws by default with `--seed`.
import { takeRows } from '../src/data/batches.js';
import type { LabelledData } from '../src/data/load-dataset.js';
import { Rng } from '../src/tensor/rng.js';

/** The defender's 3,000 images (5% of the training split, drawn with the seed, as --defender-data's default) and the next 1,000 of the same draw, held out. */
export function defenderSplit(train: LabelledData, seed: number): { defender: LabelledData; heldOut: LabelledData } {
  const perm = new Rng(seed).permutation(train.x.dims[0]);
  const count = Math.round(0.05 * train.x.dims[0]);
  const part = (rows: Int32Array | Uint32Array, what: string): LabelledData => ({
    ...train,
    x: takeRows(train.x, rows),
    y: takeRows(train.y, rows),
    source: `${train.source} (${what}, seed ${seed})`,
  });
  return { defender: part(perm.slice(0, count).sort(), 'defender'), heldOut: part(perm.slice(count, count + 1000).sort(), 'held out') };
}
