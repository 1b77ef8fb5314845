// Settings more than one method reads, declared once (each method may give its own default).
import type { SettingSpec } from '../method.js';

export const fisherSettings: SettingSpec[] = [
  { key: 'fisherExamples', flag: '--fisher-examples <n>', help: 'clean inputs the diagonal Fisher F is estimated on', default: 512, integer: true, min: 1 },
  { key: 'fisherEpsilon', flag: '--fisher-epsilon <ε>', help: 'ε of √(F + ε), as a multiple of the mean of F', default: 0.01, min: 0 },
];
