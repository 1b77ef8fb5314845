// Optimisers over named float32 parameters held on the host.
import type { HostTensor } from '../tensor/host-tensor.js';

export type OptimizerName = 'sgd' | 'adam' | 'adamw';

export interface OptimizerOptions {
  /** 'sgd' (default), 'adam' or 'adamw'. */
  name?: OptimizerName;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** Nesterov momentum for SGD (default false). */
  nesterov?: boolean;
  /** Weight decay: L2 added to the gradient for sgd/adam, decoupled for adamw (default 0; adamw 0.01). */
  weightDecay?: number;
  /** Adam β1, β2 and ε (defaults 0.9, 0.999, 1e-8). */
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** The optimiser's per-parameter state, exposed so that checkpoints can save and restore it. */
export interface OptimizerState {
  step: number;
  slots: Map<string, Float32Array[]>;
}

/**
 * The base learning rate when none is given: 0.05 for SGD (what the shipped models were trained with), 1e-3 for Adam
 * and AdamW. The one default that `train()`, `trainClassifier()` and the CLI share.
 *
 * @example defaultLearningRate('sgd'); // 0.05
 */
export function defaultLearningRate(name: OptimizerName = 'sgd'): number {
  return name === 'sgd' ? 0.05 : 1e-3;
}

/**
 * Updates parameters in place from their gradients. Masks (1 = may move) restrict which entries change.
 *
 * @example
 * const opt = new Optimizer({ name: 'adam' });
 * opt.step(params, grads, 1e-3);
 */
export class Optimizer {
  readonly opts: Required<OptimizerOptions>;
  state: OptimizerState = { step: 0, slots: new Map() };

  constructor(opts: OptimizerOptions = {}) {
    const name = opts.name ?? 'sgd';
    this.opts = {
      name,
      momentum: opts.momentum ?? 0.9,
      nesterov: opts.nesterov ?? false,
      weightDecay: opts.weightDecay ?? (name === 'adamw' ? 0.01 : 0),
      beta1: opts.beta1 ?? 0.9,
      beta2: opts.beta2 ?? 0.999,
      eps: opts.eps ?? 1e-8,
    };
  }

  private slots(name: string, n: number, count: number): Float32Array[] {
    let s = this.state.slots.get(name);
    if (!s) {
      s = Array.from({ length: count }, () => new Float32Array(n));
      this.state.slots.set(name, s);
    }
    return s;
  }

  /**
   * The size of the last step per unit of gradient for each entry of a parameter: `lr` for SGD (momentum aside),
   * lr / (√v̂ + ε) for Adam/AdamW (its diagonal preconditioner) — what a proximal step scales a penalty's threshold by.
   *
   * @example const eta = opt.stepSizes('fc1.weight', 1e-3, 48000);
   */
  stepSizes(name: string, lr: number, n: number): Float32Array {
    const out = new Float32Array(n).fill(lr);
    if (this.opts.name === 'sgd') return out;
    const v = this.state.slots.get(name)?.[1];
    if (!v) return out;
    const bc2 = 1 - this.opts.beta2 ** Math.max(1, this.state.step);
    for (let i = 0; i < n; i++) out[i] = lr / (Math.sqrt(v[i] / bc2) + this.opts.eps);
    return out;
  }

  /** One step at learning rate `lr` over every parameter that has a gradient. */
  step(params: Map<string, HostTensor>, grads: Map<string, HostTensor>, lr: number, masks?: Map<string, Uint8Array>): void {
    this.state.step++;
    const { name, momentum, nesterov, weightDecay: wd, beta1, beta2, eps } = this.opts;
    const t = this.state.step;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    for (const [key, g] of grads) {
      const p = params.get(key);
      if (!p) throw new Error(`optimizer: gradient for unknown parameter '${key}'`);
      const w = p.data as Float32Array;
      const gd = g.data as Float32Array;
      const mask = masks?.get(key);
      const n = w.length;
      if (name === 'sgd') {
        const [buf] = this.slots(key, n, 1);
        for (let i = 0; i < n; i++) {
          if (mask && !mask[i]) continue;
          const gi = gd[i] + wd * w[i];
          const v = (buf[i] = momentum * buf[i] + gi);
          w[i] -= lr * (nesterov ? gi + momentum * v : v);
        }
      } else {
        const [m, v] = this.slots(key, n, 2);
        const decoupled = name === 'adamw';
        for (let i = 0; i < n; i++) {
          if (mask && !mask[i]) continue;
          const gi = decoupled ? gd[i] : gd[i] + wd * w[i];
          m[i] = beta1 * m[i] + (1 - beta1) * gi;
          v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
          if (decoupled) w[i] -= lr * wd * w[i];
          w[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
        }
      }
    }
  }
}

export type ScheduleName = 'constant' | 'step' | 'cosine';

export interface ScheduleOptions {
  /** 'constant', 'step' (×gamma every stepSize epochs) or 'cosine' (to 0 at the end). Default 'cosine'. */
  name?: ScheduleName;
  /** Linear warm-up over this many steps (default 0). */
  warmupSteps?: number;
  /** For 'step': epochs between decays (default 10) and the factor (default 0.1). */
  stepEpochs?: number;
  gamma?: number;
}

/** Learning rate at a given step of a run of `totalSteps` steps with `stepsPerEpoch` steps an epoch. */
export function learningRate(base: number, step: number, totalSteps: number, stepsPerEpoch: number, s: ScheduleOptions = {}): number {
  const warm = s.warmupSteps ?? 0;
  if (step < warm) return (base * (step + 1)) / warm;
  switch (s.name ?? 'cosine') {
    case 'constant':
      return base;
    case 'step':
      return base * (s.gamma ?? 0.1) ** Math.floor(step / stepsPerEpoch / (s.stepEpochs ?? 10));
    case 'cosine': {
      const progress = (step - warm) / Math.max(1, totalSteps - warm);
      return 0.5 * base * (1 + Math.cos(Math.PI * Math.min(1, progress)));
    }
  }
}
