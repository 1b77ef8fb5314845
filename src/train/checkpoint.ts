// Checkpoints: parameters, optimiser state and position in the run, in one safetensors file.
import { existsSync } from 'node:fs';
import { readSafetensorsFile, writeSafetensors } from '../data/safetensors.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { OptimizerState } from './optimizers.js';

const FORMAT = 'scalpel-checkpoint-1';

export interface RunPosition {
  /** Steps done in the whole run. */
  step: number;
  /** Epoch in progress (0-based) and steps done in it. */
  epoch: number;
  stepInEpoch: number;
  /** The run's settings, to refuse resuming with different ones. */
  fingerprint: string;
}

export interface Checkpoint {
  position: RunPosition;
  params: Map<string, HostTensor>;
  optimizer: OptimizerState;
}

/** Save atomically (temp file + rename), so an interrupted save never leaves a broken checkpoint. */
export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const tensors = new Map<string, HostTensor>();
  for (const [k, v] of c.params) tensors.set(`param:${k}`, v);
  for (const [k, slots] of c.optimizer.slots) {
    slots.forEach((s, i) => tensors.set(`opt:${i}:${k}`, { dtype: 'float32', dims: [s.length], data: s }));
  }
  await writeSafetensors(path, tensors, {
    format: FORMAT,
    position: JSON.stringify(c.position),
    optimizerStep: String(c.optimizer.step),
  });
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  const { tensors, metadata } = await readSafetensorsFile(path);
  if (metadata.format !== FORMAT) throw new Error(`${path} is not a scalpel checkpoint (format '${metadata.format ?? 'none'}')`);
  const params = new Map<string, HostTensor>();
  const slots = new Map<string, Float32Array[]>();
  for (const [k, v] of tensors) {
    if (k.startsWith('param:')) params.set(k.slice(6), v);
    else if (k.startsWith('opt:')) {
      const rest = k.slice(4);
      const i = Number(rest.slice(0, rest.indexOf(':')));
      const name = rest.slice(rest.indexOf(':') + 1);
      const list = slots.get(name) ?? [];
      list[i] = v.data as Float32Array;
      slots.set(name, list);
    }
  }
  return { position: JSON.parse(metadata.position) as RunPosition, params, optimizer: { step: Number(metadata.optimizerStep), slots } };
}
