import type { GradRule } from '../grad-context.js';

// LSTM is unrolled into MatMul/Sigmoid/Tanh/… by lowerRecurrent before differentiation, so no node reaches this rule.
export const LSTM: GradRule = (g) => {
  throw new Error(`LSTM node '${g.node.name}' should have been lowered to primitive ops before differentiation (see lower-recurrent.ts)`);
};
