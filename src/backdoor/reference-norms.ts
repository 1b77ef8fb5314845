// Trigger norms relative to a clean twin's: a label whose trigger is small on every model of an architecture and
// dataset (Fashion-MNIST's Bag) is small by nature; a backdoor makes its target's trigger small *for this model*.
import { anomalyIndex, ANOMALY_THRESHOLD, type AnomalyResult } from './anomaly.js';

/**
 * Per label, the median of the clean twins' trigger norms (‖m‖₁ of each label's reconstructed trigger on models of
 * the same architecture trained clean on the same kind of data).
 *
 * @example referenceNorms([[60, 50, 8], [70, 40, 6], [64, 45, 9]]); // [64, 45, 8]
 */
export function referenceNorms(twins: readonly (readonly number[])[]): number[] {
  if (twins.length === 0) throw new Error('no clean twin to take reference norms from');
  const k = twins[0].length;
  if (twins.some((t) => t.length !== k)) throw new Error('the clean twins have different numbers of labels');
  return Array.from({ length: k }, (_, l) => {
    const s = twins.map((t) => t[l]).sort((a, b) => a - b);
    const h = s.length >> 1;
    return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
  });
}

/**
 * Neural Cleanse's outlier test on log(‖m‖₁ / reference) instead of ‖m‖₁: a label is flagged when its trigger is
 * anomalously small *relative to what the clean twins need for that label*.
 *
 * @example relativeAnomaly([60, 42, 7, 3], [64, 45, 8, 40]).flagged; // [3]: label 2 is small on the twins too
 */
export function relativeAnomaly(norms: readonly number[], reference: readonly number[], threshold = ANOMALY_THRESHOLD): AnomalyResult {
  if (norms.length !== reference.length) throw new Error(`${norms.length} trigger norms but ${reference.length} reference norms`);
  if (reference.some((r) => !(r > 0))) throw new Error('reference norms must be positive');
  return anomalyIndex(
    norms.map((x, l) => Math.log(Math.max(x, 1e-6) / reference[l])),
    threshold,
  );
}
