import type { GradRule } from '../grad-context.js';

// Y = max(0, min(1, alpha X + beta)).  dX = alpha dY where 0 < Y < 1, else 0
export const HardSigmoid: GradRule = (g) => {
  const y = g.O(0);
  const inside = g.op('And', g.op('Greater', y, g.scalar(0, y)), g.op('Less', y, g.scalar(1, y)));
  const scaled = g.op('Mul', g.GO(0), g.scalar(g.attrFloat('alpha', 0.2), y));
  g.setGI(0, g.op('Where', inside, scaled, g.scalar(0, y)));
};
