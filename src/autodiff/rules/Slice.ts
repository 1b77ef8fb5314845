import type { GradContext, GradRule } from '../grad-context.js';
import { asInt64, constInts, dimsOf, flatPositions, shapeOf, staticShape, zerosOfShape } from './tensor-helpers.js';

/** Static [begin…, end…] pads putting a unit-step slice back in place, when its bounds and dims are known. */
function staticPads(g: GradContext, r: number, axes: number[], starts: number[], ends: number[]): number[] | undefined {
  const shape = g.shape(g.I(0))!;
  const pads = new Array<number>(2 * r).fill(0);
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i];
    const d = shape[a];
    if (typeof d !== 'number') {
      if (starts[i] === 0 && ends[i] >= 2 ** 31 - 1) continue; // the whole axis, whatever its size
      return undefined;
    }
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const b = clamp(starts[i]);
    const e = Math.max(clamp(ends[i]), b);
    pads[a] = b;
    pads[a + r] = d - e;
  }
  return pads;
}

/** The same pads computed at run time from Shape(X), for unit-step slices over known axes. */
function dynamicPads(g: GradContext, r: number, axes: number[]): string {
  const dims = dimsOf(g, g.I(0), axes);
  const zero = g.ints([0]);
  const clamp = (v: string) => {
    const wrapped = g.op('Where', g.op('Less', v, zero), g.op('Add', v, dims), v);
    return g.op('Max', g.op('Min', wrapped, dims), zero);
  };
  const b = clamp(asInt64(g, g.I(1)));
  const e = g.op('Max', clamp(asInt64(g, g.I(2))), b);
  const where = g.op('Constant', {
    value: { dtype: 'int64', dims: [2 * axes.length, 1], data: BigInt64Array.from([...axes, ...axes.map((a) => a + r)].map(BigInt)) },
  });
  return g.op('ScatterND', g.ints(new Array(2 * r).fill(0)), where, g.op('Concat', b, g.op('Sub', dims, e), { axis: 0 }));
}

// Y = X[starts:ends:steps].  dX = pad(dY) for unit steps, else dY scattered into zeros where the same slice of X's flat positions points
export const Slice: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const r = g.rank(x);
  const starts = constInts(g, g.I(1));
  const ends = constInts(g, g.I(2));
  const n1 = g.shape(g.I(1))?.[0];
  const k = starts?.length ?? (typeof n1 === 'number' ? n1 : undefined);
  let axes = g.I(3) ? constInts(g, g.I(3)) : k !== undefined ? Array.from({ length: k }, (_, i) => i) : undefined;
  const steps = g.I(4) ? constInts(g, g.I(4)) : axes?.map(() => 1);
  if (r !== undefined && axes && steps && steps.every((s) => s === 1)) {
    axes = axes.map((a) => (a < 0 ? a + r : a));
    const pads = starts && ends ? staticPads(g, r, axes, starts, ends) : undefined;
    g.setGI(0, g.op('Pad', dy, pads ? g.ints(pads) : dynamicPads(g, r, axes)));
    return;
  }
  const args = g.node.inputs.slice(1);
  while (args.length > 0 && !args[args.length - 1]) args.pop();
  const picked = g.op('Slice', flatPositions(g, x), ...args);
  const xs = staticShape(g, x);
  const flat = zerosOfShape(g, xs ? g.ints([xs.reduce((a, b) => a * b, 1)]) : g.op('Reshape', g.op('Size', x), g.ints([1])), dy);
  const scattered = g.op('ScatterND', flat, g.op('Unsqueeze', picked, g.ints([-1])), dy);
  g.setGI(0, g.op('Reshape', scattered, shapeOf(g, x)));
};
