// Text report of a training run.
import type { TrainClassifierResult } from '../train/train-classifier.js';
import { pct } from './format.js';

export function trainText(r: TrainClassifierResult): string {
  if (!r.completed) return `stopped after ${r.steps} steps; nothing written to ${r.out} (resume from the checkpoint with --resume)\n`;
  const lines = [`trained ${r.steps} steps on ${r.trainExamples} examples${r.poisoned ? ` (${r.poisoned} poisoned)` : ''}`];
  const last = r.history.at(-1);
  if (last?.validationAccuracy !== undefined) lines.push(`validation accuracy ${pct(last.validationAccuracy)}`);
  if (r.test) lines.push(`test accuracy       ${pct(r.test.accuracy)} (${r.test.examples} examples, loss ${r.test.loss.toFixed(4)})`);
  return lines.join('\n') + '\n';
}
