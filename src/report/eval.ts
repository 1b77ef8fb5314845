// Text report of an evaluation: accuracy, per-class accuracy, confusion matrix, attack success rate.
import type { EvalClassifierResult } from '../train/eval-classifier.js';
import type { EvalLanguageModelResult } from '../train/eval-text.js';
import { pct } from './format.js';

/** A share, or a dash for a class with no examples (NaN). */
const cell = (x: number) => (Number.isNaN(x) ? '   -  ' : pct(x));

export function evalText(r: Omit<EvalClassifierResult, 'split'> & { split: string }, classNames?: readonly string[]): string {
  const name = (k: number) => classNames?.[k] ?? String(k);
  const out = [`${r.source} (${r.split}, ${r.examples} examples)`, `accuracy ${cell(r.accuracy)}   loss ${r.loss.toFixed(4)}`, ''];
  out.push('per class:');
  r.perClassAccuracy.forEach((a, k) => out.push(`  ${name(k).padEnd(12)} ${cell(a)}`));
  out.push('', 'confusion (rows: true class, columns: predicted):');
  const w = Math.max(5, ...r.confusion.flat().map((v) => String(v).length + 1));
  out.push('      ' + r.confusion.map((_, k) => String(k).padStart(w)).join(''));
  r.confusion.forEach((row, k) => out.push(String(k).padStart(4) + '  ' + row.map((v) => String(v).padStart(w)).join('')));
  if (r.attack) {
    out.push(
      '',
      `attack success rate ${cell(r.attack.successRate)} (trigger ${r.attack.trigger} -> class ${r.attack.target}, ${r.attack.examples} ${r.attack.trigger.startsWith('token:') ? 'texts' : 'images'} of other classes)`,
    );
    out.push(
      `robust accuracy ${cell(r.attack.robustAccuracy)} (the same triggered ${r.attack.trigger.startsWith('token:') ? 'texts' : 'images'} classified as their true class)`,
    );
  }
  return out.join('\n') + '\n';
}

/** Text report of a language model's evaluation: per-token loss, perplexity, next-token accuracy. */
export function lmEvalText(r: EvalLanguageModelResult): string {
  return (
    [
      `${r.source} (${r.split}, ${r.examples} rows, ${r.tokens} labelled tokens)`,
      `loss ${r.loss.toFixed(4)} per token   perplexity ${r.perplexity.toFixed(2)}   next-token accuracy ${pct(r.accuracy)}`,
    ].join('\n') + '\n'
  );
}
