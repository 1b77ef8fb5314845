// Variants of a reconstructed trigger, moved by a pixel or two and made fainter or stronger, so that pairs made from
// them carry the backdoor rather than one reconstruction's exact pixels.
import type { MaskTrigger } from '../data/triggers.js';

/** How to vary a trigger: shifts in pixels (each of dx, dy) and mask scales. */
export interface JitterOptions {
  /** Shifts tried along each axis (default [-1, 0, 1]). */
  shifts?: readonly number[];
  /** Mask scales, the result clipped to [0, 1] (default [0.7, 1, 1.3]). */
  scales?: readonly number[];
}

/** A mask trigger moved by (dx, dy) pixels (what moves out of the image is dropped; what moves in is empty). */
export function shiftTrigger(t: MaskTrigger, dx: number, dy: number): MaskTrigger {
  const [H, W] = t.size;
  const mask = new Float32Array(H * W);
  const pattern = new Float32Array(t.channels * H * W);
  for (let i = 0; i < H; i++) {
    const si = i - dy;
    if (si < 0 || si >= H) continue;
    for (let j = 0; j < W; j++) {
      const sj = j - dx;
      if (sj < 0 || sj >= W) continue;
      mask[i * W + j] = t.mask[si * W + sj];
      for (let c = 0; c < t.channels; c++) pattern[(c * H + i) * W + j] = t.pattern[(c * H + si) * W + sj];
    }
  }
  return { type: 'mask', size: [H, W], channels: t.channels, mask, pattern };
}

/** A mask trigger whose mask is multiplied by `s` and clipped to [0, 1]. */
export function scaleTrigger(t: MaskTrigger, s: number): MaskTrigger {
  return { ...t, path: undefined, mask: Float32Array.from(t.mask, (v) => Math.min(1, Math.max(0, v * s))) };
}

/**
 * Every combination of shift and scale of a trigger (the unchanged one first).
 *
 * @example jitterTrigger(t, { shifts: [-1, 0, 1], scales: [1] }).length; // 9
 */
export function jitterTrigger(t: MaskTrigger, o: JitterOptions = {}): MaskTrigger[] {
  const shifts = o.shifts ?? [-1, 0, 1];
  const scales = o.scales ?? [0.7, 1, 1.3];
  const out: MaskTrigger[] = [t];
  for (const dy of shifts)
    for (const dx of shifts)
      for (const s of scales) {
        if (dx === 0 && dy === 0 && s === 1) continue;
        out.push(scaleTrigger(shiftTrigger(t, dx, dy), s));
      }
  return out;
}
