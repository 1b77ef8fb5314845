import type { GradContext, GradRule } from '../grad-context.js';

/** Route dY of a variadic Min/Max to the first input equal to the result at each element. */
export function selectFirst(g: GradContext): void {
  const y = g.O(0);
  const dy = g.GO(0);
  const n = g.node.inputs.length;
  if (n === 1) {
    g.setGI(0, dy);
    return;
  }
  const zero = g.scalar(0, y);
  let taken: string | undefined;
  for (let i = 0; i < n; i++) {
    const hit = g.op('Equal', g.I(i), y);
    const mine = taken ? g.op('And', hit, g.op('Not', taken)) : hit;
    if (g.needs(i)) g.setGI(i, g.unbroadcast(g.op('Where', mine, dy, zero), g.I(i)));
    if (i < n - 1) taken = taken ? g.op('Or', taken, hit) : hit;
  }
}

// Y = max(X0, X1, …) (broadcast).  dXi = unbroadcast(dY where Xi is the first input equal to Y, Xi)
export const Max: GradRule = selectFirst;
