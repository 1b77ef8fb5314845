// The backdoor zoo: 12 backdoored and 12 clean Fashion-MNIST models, each one seeded `scalpel train` run.
// Split rule (fixed before any defence was run): a model whose seed is odd is in the development half, even in the
// report half. Settings are chosen on the development half only; numbers are reported on the report half.

/** One zoo model: how `scalpel train` builds it. */
export interface ZooModel {
  name: string;
  arch: 'lenet5' | 'vgg-small';
  /** The attacker's trigger in `parseTrigger` syntax (`file:` relative to the zoo directory); absent for clean twins. */
  trigger?: string;
  /** Which of the four trigger kinds. */
  kind?: 'patch' | 'checkerboard' | 'sparse' | 'blend';
  target?: number;
  rate?: number;
  seed: number;
  split: 'dev' | 'report';
}

/** The attacker's four triggers, in four different places. */
export const ZOO_TRIGGERS = {
  patch: 'patch:3x3@top-right:white',
  checkerboard: 'patch:4x4@top-left:checkerboard',
  // 10 seeded random pixels set to white inside the bottom-left 8×8 square (mask file written by scripts/zoo.ts)
  sparse: 'file:sparse-bottom-left.safetensors',
  blend: 'blend:0.15:noise:7',
} as const;

/** Epochs per architecture: the fewest that reach about 88% clean test accuracy (measured in scripts/zoo.ts runs). */
export const ZOO_EPOCHS = { lenet5: 4, 'vgg-small': 3 } as const;
/** vgg-small width (channels of the first block): a small Conv-BN CNN. */
export const VGG_WIDTH = 4;

type Row = [ZooModel['arch'], ZooModel['kind'] | undefined, number?, number?];
const ROWS: Row[] = [
  ['lenet5', 'patch', 7, 0.1],
  ['vgg-small', 'patch', 2, 0.03],
  ['lenet5', 'checkerboard', 5, 0.03],
  ['vgg-small', 'checkerboard', 7, 0.1],
  ['lenet5', 'sparse', 2, 0.1],
  ['vgg-small', 'sparse', 5, 0.03],
  ['vgg-small', 'blend', 7, 0.03],
  ['lenet5', 'blend', 2, 0.1],
  ['vgg-small', 'sparse', 7, 0.1],
  ['lenet5', 'checkerboard', 2, 0.1],
  ['lenet5', 'blend', 5, 0.03],
  ['lenet5', 'patch', 5, 0.1],
  ['lenet5', undefined],
  ['lenet5', undefined],
  ['lenet5', undefined],
  ['lenet5', undefined],
  ['lenet5', undefined],
  ['lenet5', undefined],
  ['vgg-small', undefined],
  ['vgg-small', undefined],
  ['vgg-small', undefined],
  ['vgg-small', undefined],
  ['vgg-small', undefined],
  ['vgg-small', undefined],
];

/** The 24 zoo models; the seed is the row number (1–24). */
export const ZOO: ZooModel[] = ROWS.map(([arch, kind, target, rate], i) => {
  const seed = i + 1;
  const split = seed % 2 === 1 ? 'dev' : 'report';
  const short = arch === 'lenet5' ? 'lenet' : 'vgg';
  if (!kind) return { name: `${short}-clean-s${seed}`, arch, seed, split };
  return { name: `${short}-${kind}-t${target}-r${rate}-s${seed}`, arch, trigger: ZOO_TRIGGERS[kind], kind, target, rate, seed, split };
});
