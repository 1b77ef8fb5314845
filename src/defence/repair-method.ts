// The contract of a backdoor repair method (backdoor/ and lancet/ both implement it, so it lives below them): what it
// gets (the defender's view only) and what it returns.
import type { LabelledData } from '../data/load-dataset.js';
import type { Trigger } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';

/** Fine-tuning settings every method that trains shares (`--epochs`, `--lr`, `--batch`, `--batchnorm`). */
export interface FineTuneSettings {
  epochs: number;
  lr: number;
  batchSize: number;
  /** Keep BatchNorm on its running statistics (default: batch statistics, running ones updated). */
  frozenBatchNorm: boolean;
}

/** A trigger the defender believes in, with the label it sends images to. */
export interface DefenderTrigger {
  label: number;
  trigger: Trigger;
}

/**
 * What a repair method may see: the model, the defender's clean data (split into a training part and the defender's
 * own validation part, for stopping rules and tuning), and the triggers the defender reconstructed (or, in runs
 * marked oracle, the attacker's). Never the test split.
 */
export interface RepairContext {
  model: Model;
  defender: { train: LabelledData; validation: LabelledData };
  /** Reconstructed triggers of the flagged labels (empty when the method does not need one, or none was flagged). */
  triggers: DefenderTrigger[];
  seed: number;
  training: FineTuneSettings;
  /** The method's own flags, parsed, keyed by their option names (e.g. `maxDrop`). */
  options: Record<string, unknown>;
  runtime?: RuntimeOptions;
  signal?: AbortSignal;
  onProgress?: (label: string, done: number, total: number, status?: string) => void;
  /** A line of progress worth keeping (a pruning step, an epoch). */
  log?: (line: string) => void;
}

/** A repaired model and what the method did, for the reports. */
export interface RepairOutcome {
  model: Model;
  /** Method-specific facts (channels pruned, images stamped, …), plain JSON. */
  details: Record<string, unknown>;
  /** False when the run was interrupted; nothing is written then. */
  completed: boolean;
  /** True when the method used an oracle input (a located.json made with the attacker's trigger): the run is an oracle result. */
  oracle?: boolean;
}

/** A flag of a method's own, added to `scalpel repair`. */
export interface RepairFlag {
  /** Commander flags, e.g. '--max-drop <points>'. */
  flags: string;
  description: string;
  /** Parses the value; an Error it throws becomes a usage error (exit status 2). */
  parse?: (value: string) => unknown;
  default?: unknown;
}

/**
 * One repair method of `scalpel repair --method NAME`. Methods live one per file; the command reads them from a table,
 * so another method family adds its own without touching these.
 *
 * @example
 * export const finetune: RepairMethod = { name: 'finetune', summary: 'plain fine-tuning', needsTrigger: false,
 *   run: async (ctx) => ({ model: (await fineTune(ctx.model, ctx.defender.train, ctx)).model, details: {}, completed: true }) };
 */
export interface RepairMethod {
  name: string;
  /** One line for the help. */
  summary: string;
  /** Whether the method needs a trigger (reconstructed, or --oracle-trigger). */
  needsTrigger: boolean;
  flags?: RepairFlag[];
  /** Refuse bad option values before any work (throw an Error naming the flag). */
  check?(options: Record<string, unknown>): void;
  run(ctx: RepairContext): Promise<RepairOutcome>;
}
