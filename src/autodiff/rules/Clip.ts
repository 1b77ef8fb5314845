import type { GradRule } from '../grad-context.js';

// Y = min(max(X, lo), hi).  dX = dY where lo < X < hi;  dlo = Σ dY where X <= lo < hi;  dhi = Σ dY where max(X, lo) >= hi
export const Clip: GradRule = (g) => {
  const x = g.I(0);
  const lo = g.I(1);
  const hi = g.I(2);
  const dy = g.GO(0);
  const zero = g.scalar(0, x);
  const and = (a: string | undefined, b: string) => (a ? g.op('And', a, b) : b);
  let inside: string | undefined;
  if (lo) inside = g.op('Greater', x, lo);
  if (hi) inside = and(inside, g.op('Less', x, hi));
  g.setGI(0, inside ? g.op('Where', inside, dy, zero) : dy);
  if (lo && g.needs(1)) {
    const binds = and(hi ? g.op('Less', lo, hi) : undefined, g.op('LessOrEqual', x, lo));
    g.setGI(1, g.unbroadcast(g.op('Where', binds, dy, zero), lo));
  }
  if (hi && g.needs(2)) {
    const binds = g.op('GreaterOrEqual', lo ? g.op('Where', g.op('Greater', x, lo), x, lo) : x, hi);
    g.setGI(2, g.unbroadcast(g.op('Where', binds, dy, zero), hi));
  }
};
