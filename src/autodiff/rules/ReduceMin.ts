import type { GradRule } from '../grad-context.js';
import { reduceExtremum } from './ReduceMax.js';

// Y = min_axes X.  dX = dY · [X = Y] / #{X = Y} (ties share dY equally)
export const ReduceMin: GradRule = reduceExtremum;
