import type { GradRule } from '../grad-context.js';
import { selectFirst } from './Max.js';

// Y = min(X0, X1, …) (broadcast).  dXi = unbroadcast(dY where Xi is the first input equal to Y, Xi)
export const Min: GradRule = selectFirst;
