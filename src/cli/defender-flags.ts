// The defender-data flags every defence command shares (reconstruct, repair, locate): one option table, one help text.
import type { Command } from 'commander';
import { loadDefenderData } from '../defence/defender-data.js';
import type { LabelledData } from '../data/load-dataset.js';
import { defenderData, integer } from './options.js';

/** What `--defender-data` means, for help texts. */
export const DEFENDER_DATA_HELP =
  "The defender's clean data (--defender-data) is the only data a defence reads, for its work as well as for its own tuning and stopping rules: by default 5% of the clean training split of --data, drawn at random with --seed; a fraction (0.1 or 10%) or a count (3000) draws that share of the training split instead, and a .safetensors/.npz file with x and y supplies the defender's own data. The test split is never read by the defence, only to measure it.";

export interface DefenderFlags {
  data?: string;
  defenderData?: string;
  seed: number;
}

/** Add --data, --defender-data and --seed to a command. */
export function addDefenderOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir|file>', "dataset: 'embedded' (default), 'fashion-mnist', an IDX directory or a .safetensors/.npz file")
    .option(
      '--defender-data <spec>',
      "the defender's clean data: a fraction (default 0.05), percentage or count of the training split, or a .safetensors/.npz file",
      defenderData,
    )
    .option('--seed <n>', "seed of the defender's draw and of the defence's own randomness", integer(0), 0);
}

/**
 * Load the defender's data as the flags describe it.
 *
 * @example const defender = await defenderDataFromFlags({ data: 'fashion-mnist', seed: 0 });
 */
export function defenderDataFromFlags(f: DefenderFlags): Promise<LabelledData> {
  return loadDefenderData({ data: f.data, defenderData: f.defenderData, seed: f.seed });
}
