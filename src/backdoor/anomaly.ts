// The anomaly index of Neural Cleanse: how far each label's trigger norm sits from the median, in robust deviations.

/** The consistency constant that makes the MAD estimate a normal distribution's standard deviation. */
export const MAD_CONSISTENCY = 1.4826;

/** The anomaly index above which a label with a small trigger is flagged (Neural Cleanse's threshold). */
export const ANOMALY_THRESHOLD = 2;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
}

export interface AnomalyResult {
  median: number;
  /** Median absolute deviation from the median. */
  mad: number;
  /** |x − median| / (1.4826 · MAD) per value (0 for values at the median when MAD is 0, Infinity for others). */
  index: number[];
  /** Positions flagged: below the median with an index above the threshold. */
  flagged: number[];
}

/**
 * Neural Cleanse's outlier test over the trigger norms of the labels: anomaly index |x − median| / (1.4826 · MAD);
 * labels whose norm is below the median with an index above `threshold` (default 2) are flagged as backdoor targets.
 *
 * @example anomalyIndex([100, 98, 102, 97, 101, 99, 103, 96, 100, 12]).flagged; // [9]
 */
export function anomalyIndex(norms: readonly number[], threshold = ANOMALY_THRESHOLD): AnomalyResult {
  if (norms.length === 0) throw new Error('anomaly index of no labels');
  const med = median(norms);
  const mad = median(norms.map((x) => Math.abs(x - med)));
  const index = norms.map((x) => (mad > 0 ? Math.abs(x - med) / (MAD_CONSISTENCY * mad) : x === med ? 0 : Infinity));
  const flagged = norms.flatMap((x, i) => (x < med && index[i] > threshold ? [i] : []));
  return { median: med, mad, index, flagged };
}
