// Text report of a repair: the defence's table (ACC, ASR, RA before and after), DER, parameters changed, time.
import type { RepairReport } from '../backdoor/repair.js';
import { int, pct, table } from './format.js';

const share = (x: number | undefined) => (x === undefined ? '—' : pct(x));

/** What `scalpel repair` prints. */
export function repairText(r: RepairReport): string {
  const lines: string[] = [];
  const oracle = r.oracle
    ? ` [ORACLE: the attacker's trigger was given to the defence${r.triggerSource === 'oracle' ? '' : ', through the located weights'}]`
    : '';
  lines.push(`repair --method ${r.method}${oracle}`);
  lines.push(`defender data: ${r.defender.train} training + ${r.defender.validation} validation images of ${r.defender.source}`);
  if (r.triggerSource !== 'none') lines.push(`triggers used: ${r.triggerSource} (label${r.triggerLabels.length > 1 ? 's' : ''} ${r.triggerLabels.join(', ')})`);
  if (r.measuredWith)
    lines.push(`measured on the test split with the attacker's trigger ${r.measuredWith.trigger} -> ${r.measuredWith.target} (measurement only)`);
  else lines.push('no attack trigger known for this model: clean accuracy only');
  const row = (name: string, m: RepairReport['before'] | undefined) => [name, share(m?.acc), share(m?.asr), share(m?.ra)];
  lines.push(
    table(
      [{ header: '' }, { header: 'ACC', right: true }, { header: 'ASR', right: true }, { header: 'RA', right: true }],
      [row('before', r.before), row('after', r.after)],
    ).trimEnd(),
  );
  if (r.der !== undefined) lines.push(`DER ${r.der.toFixed(4)}  (= [max(0, ΔASR) − max(0, ΔACC) + 1] / 2)`);
  if (r.changedParams !== undefined) lines.push(`parameters changed: ${int(r.changedParams)} of ${int(r.totalParams ?? 0)}`);
  lines.push(`time: ${r.seconds.toFixed(1)} s`);
  const d = r.details;
  if (r.method === 'fine-prune' && Array.isArray(d.pruned)) {
    lines.push(
      `pruned ${d.pruned.length} of ${String(d.channels)} channels of ${String(d.layer)} (defender validation ${share(d.validationBefore as number)} → ${share(d.validationAfterPruning as number)} after pruning, ${share(d.validationAfterFineTune as number)} after fine-tuning)`,
    );
  }
  if (!r.completed) lines.push('interrupted: nothing written');
  return `${lines.join('\n')}\n`;
}
