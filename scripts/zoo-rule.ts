// The detection rule chosen on the zoo's development half: Neural Cleanse relative to clean twins' norms
// (`reconstruct --reference`), a label flagged on at least 2 of the 3 seeds. The twins are the development half's
// clean models of the same architecture (the model itself left out).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceNorms, relativeAnomaly } from '../src/backdoor/reference-norms.js';
import { ZOO, type ZooModel } from './zoo-list.js';

const norms = (zoo: string, name: string, seed: number): number[] | undefined => {
  const p = join(zoo, 'nc', 'batch', name, `s${seed}`, 'reconstruct.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')).labels as { l1: number }[]).map((l) => l.l1) : undefined;
};

/**
 * The labels the chosen rule flags on a zoo model, the most anomalous first (largest median relative index).
 *
 * @example chosenFlags(ZOO[1], '/work/zoo'); // [2]
 */
export function chosenFlags(m: ZooModel, zoo: string, seeds = [0, 1, 2]): number[] {
  const twins = ZOO.filter((t) => t.split === 'dev' && t.target === undefined && t.arch === m.arch && t.name !== m.name);
  const reference = referenceNorms(twins.flatMap((t) => seeds.map((s) => norms(zoo, t.name, s)).filter((v): v is number[] => v !== undefined)));
  const runs = seeds.map((s) => norms(zoo, m.name, s));
  if (runs.some((r) => !r)) throw new Error(`${m.name}: not every seed reconstructed`);
  const results = runs.map((r) => relativeAnomaly(r!, reference));
  const labels = reference.map((_, l) => l).filter((l) => results.filter((a) => a.flagged.includes(l)).length >= 2);
  const med = (l: number) => results.map((a) => a.index[l]).sort((x, y) => x - y)[1];
  return labels.sort((x, y) => med(y) - med(x));
}
