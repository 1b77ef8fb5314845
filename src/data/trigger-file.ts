// Mask-and-pattern trigger files (as Neural Cleanse reconstructs them): safetensors `mask` [H, W] and `pattern` [C, H, W].
import { readFileSync } from 'node:fs';
import { decodeSafetensorsFile, writeSafetensors } from './safetensors.js';
import type { MaskTrigger } from './triggers.js';

function checkUnit(values: Float32Array, what: string, path: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 1)) throw new Error(`trigger file ${path}: ${what} value ${v} at index ${i} is not in [0, 1]`);
  }
}

/**
 * Read a trigger file: float32 `mask` [H, W] and `pattern` [C, H, W], every value in [0, 1]. Throws one clear error
 * for a missing file, missing tensors, other dtypes, shapes that disagree or values out of range.
 *
 * @example const t = readTriggerFile('nc/label-0.safetensors'); // { type: 'mask', size: [28, 28], channels: 1, … }
 */
export function readTriggerFile(path: string): MaskTrigger {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`trigger file not found: ${path}`);
  }
  let tensors;
  try {
    tensors = decodeSafetensorsFile(bytes, path).tensors;
  } catch (e) {
    throw new Error(`trigger file ${path} is not a valid safetensors file (${(e as Error).message})`);
  }
  const mask = tensors.get('mask');
  const pattern = tensors.get('pattern');
  if (!mask || !pattern) throw new Error(`trigger file ${path} must hold float32 tensors 'mask' [H, W] and 'pattern' [C, H, W]; it has ${[...tensors.keys()].join(', ') || 'nothing'}`);
  if (mask.dtype !== 'float32' || pattern.dtype !== 'float32') throw new Error(`trigger file ${path}: 'mask' and 'pattern' must be float32, got ${mask.dtype} and ${pattern.dtype}`);
  if (mask.dims.length !== 2) throw new Error(`trigger file ${path}: 'mask' must be [H, W], got [${mask.dims.join(', ')}]`);
  if (pattern.dims.length !== 3) throw new Error(`trigger file ${path}: 'pattern' must be [C, H, W], got [${pattern.dims.join(', ')}]`);
  const [h, w] = mask.dims;
  const [c, ph, pw] = pattern.dims;
  if (ph !== h || pw !== w || h < 1 || w < 1 || c < 1) {
    throw new Error(`trigger file ${path}: 'mask' is ${h}×${w} but 'pattern' is ${ph}×${pw} (with ${c} channel(s))`);
  }
  const m = mask.data as Float32Array;
  const p = pattern.data as Float32Array;
  checkUnit(m, 'mask', path);
  checkUnit(p, 'pattern', path);
  return { type: 'mask', size: [h, w], channels: c, mask: m, pattern: p, path };
}

/**
 * Write a mask-and-pattern trigger as safetensors (atomically), with optional string metadata.
 *
 * @example await writeTriggerFile('label-0.safetensors', { type: 'mask', size: [28, 28], channels: 1, mask, pattern }, { label: '0' });
 */
export async function writeTriggerFile(path: string, t: MaskTrigger, metadata: Record<string, string> = {}): Promise<void> {
  const [h, w] = t.size;
  if (t.mask.length !== h * w || t.pattern.length !== t.channels * h * w) throw new Error(`mask trigger of ${h}×${w}×${t.channels} holds ${t.mask.length} mask and ${t.pattern.length} pattern values`);
  await writeSafetensors(
    path,
    new Map([
      ['mask', { dtype: 'float32' as const, dims: [h, w], data: t.mask }],
      ['pattern', { dtype: 'float32' as const, dims: [t.channels, h, w], data: t.pattern }],
    ]),
    { format: 'scalpel-trigger', ...metadata },
  );
}
