// The contract of a surgery method (docs/methods.md, "inject"): what `scalpel inject --method NAME[:VARIANT]` runs. Each method is
// one file under methods/ exporting one `SurgeryMethod`; methods.ts lists them in a table, and the parser, the runner
// and the command's help are all read from that table.
import type { Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import type { TuneContext } from './tune.js';

/** Every setting a method may read; each method declares the ones it reads, with their defaults, as `SettingSpec`s. */
export interface MethodSettings {
  /** select: the criterion when the method is named without one (kept for `--by`). */
  by?: string;
  every?: number;
  phase?: number;
  lambda?: number;
  lambdaGrowth?: number;
  probe?: number;
  gradExamples?: number;
  /** Clean examples the diagonal Fisher is estimated on. */
  fisherExamples?: number;
  /** ε of |∂L_pattern/∂w| / √(F + ε), as a multiple of the mean of F over the selectable entries. */
  fisherEpsilon?: number;
  /** constrained: the bound on the clean KL(old ‖ new), in nats per input. */
  klBound?: number;
  /** constrained: the multiplier's starting value. */
  multiplier?: number;
  /** constrained: the clean stream's augmentations: largest shift in pixels, and noise as a share of the data's std. */
  shift?: number;
  noise?: number;
}

/** One setting a method reads: its flag, its help and its default (for this method). */
export interface SettingSpec {
  key: Exclude<keyof MethodSettings, 'by'>;
  /** Commander flags, e.g. '--every <n>'; methods that share a setting share its flag. */
  flag: string;
  /** What it means for this method, e.g. 'steps between prunings'. */
  help: string;
  default: number;
  integer?: boolean;
  min?: number;
  max?: number;
}

/** Everything a method gets. */
export interface MethodInputs {
  /** The model, the mixed training stream (pattern and clean, as `--clean-labels` says), the parameters, the optimiser. */
  ctx: TuneContext;
  /** How many entries may change (every selectable one for methods that take no budget). */
  budget: number;
  /** The variant named after the colon (or the method's default). */
  variant?: string;
  settings: MethodSettings;
  /** The pattern's training inputs with the labels they must get (int64). */
  pattern: Dataset;
  /** The clean training inputs with their dataset labels (int64): the whole training split unless --train-examples. */
  clean: Dataset;
  /** Clean inputs per pattern input in a batch (`--clean-weight`). */
  cleanWeight: number;
}

export interface MethodResult {
  model: Model;
  steps: number;
  finalLoss: number;
  stopped: boolean;
  /** What the method decided on the way (schedule, final λ, …). */
  details: Record<string, number | string | number[]>;
}

/**
 * One surgery method. The table in methods.ts holds them; nothing else names a method.
 *
 * @example
 * export const finetune: SurgeryMethod = { name: 'finetune', summary: 'tune every selected parameter', help: '…',
 *   budgeted: false, settings: [], run: async ({ ctx }) => ({ ...(await tune(ctx, { phase: 'finetune' })), details: {} }) };
 */
export interface SurgeryMethod {
  name: string;
  /** One line, for lists. */
  summary: string;
  /** A paragraph for `scalpel inject --help`; `{setting}` placeholders are replaced by the setting's flag and default. */
  help: string;
  /** False: the method changes every selectable parameter (its budget is all of them). */
  budgeted: boolean;
  /**
   * `NAME:VARIANT` choices (e.g. select:random) and the one used when none is named; with `bare`, runs of the default
   * variant are named by the method's name alone (`dynamic` is dynamic:delta, as before variants existed).
   */
  variants?: { names: readonly string[]; default: string; bare?: boolean };
  settings: readonly SettingSpec[];
  run(inputs: MethodInputs): Promise<MethodResult>;
}

/**
 * The value of a setting for a method: the given one, or the method's default.
 *
 * @example settingOf(dynamic, {}, 'every'); // 10
 */
export function settingOf(m: SurgeryMethod, s: MethodSettings, key: SettingSpec['key']): number {
  const spec = m.settings.find((x) => x.key === key);
  if (!spec) throw new Error(`method ${m.name} has no setting '${key}'`);
  return s[key] ?? spec.default;
}
