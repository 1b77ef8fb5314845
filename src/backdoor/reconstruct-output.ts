// What `reconstruct -o DIR` writes: per label a trigger file and PNG images of its mask, pattern and m⊙p, plus a summary.
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Model } from '../onnx/ir.js';
import { paramsHash } from '../params/delta.js';
import { encodePng } from '../data/png.js';
import { readTriggerFile, writeTriggerFile } from '../data/trigger-file.js';
import type { MaskTrigger } from '../data/triggers.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { LabelTrigger, ReconstructResult } from './neural-cleanse.js';
import { referenceNorms } from './reference-norms.js';

/** Name of the summary file in a reconstruction directory. */
export const SUMMARY_FILE = 'reconstruct.json';

/** Files of one label in a reconstruction directory. */
export function labelFiles(label: number): { trigger: string; mask: string; pattern: string; stamp: string } {
  const base = `label-${label}`;
  return { trigger: `${base}.safetensors`, mask: `${base}-mask.png`, pattern: `${base}-pattern.png`, stamp: `${base}-stamp.png` };
}

/** m⊙p: what the trigger adds, per channel. */
export function stampOf(t: MaskTrigger): Float32Array {
  const hw = t.size[0] * t.size[1];
  return Float32Array.from(t.pattern, (p, i) => p * t.mask[i % hw]);
}

/** PNG images of a trigger's mask, pattern and m⊙p (scaled up `scale` times). */
export function triggerPngs(t: MaskTrigger, scale = 4): { mask: Uint8Array; pattern: Uint8Array; stamp: Uint8Array } {
  const [height, width] = t.size;
  const channels = t.channels === 3 ? 3 : 1;
  const first = (v: Float32Array) => (t.channels === channels ? v : v.subarray(0, height * width));
  return {
    mask: encodePng(t.mask, { channels: 1, height, width, scale }),
    pattern: encodePng(first(t.pattern), { channels, height, width, scale }),
    stamp: encodePng(first(stampOf(t)), { channels, height, width, scale }),
  };
}

/** The summary of a reconstruction without the tensors: what `--json` prints and reconstruct.json holds. */
export function reconstructSummary(r: ReconstructResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...extra,
    flagged: r.flagged,
    median: r.median,
    mad: r.mad,
    threshold: r.threshold,
    source: r.source,
    examples: r.examples,
    seconds: r.seconds,
    labels: r.labels.map(({ trigger: _t, ...rest }) => ({ ...rest, files: labelFiles(rest.label) })),
  };
}

/**
 * Check, before any work, that `dir` may receive a reconstruction: it is new, empty, or an earlier reconstruction
 * (which the new one replaces whole, so no stale label files stay); its parent exists.
 *
 * @example checkReconstructionDir('nc');
 */
export function checkReconstructionDir(dir: string): void {
  const parent = dirname(resolve(dir));
  if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new Error(`cannot create ${dir}: directory ${parent} does not exist`);
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a directory`);
  if (readdirSync(dir).length > 0 && !existsSync(join(dir, SUMMARY_FILE))) {
    throw new Error(`${dir} is not empty and holds no earlier reconstruction (${SUMMARY_FILE}); give a new or empty directory`);
  }
}

/**
 * Write a reconstruction as the directory `dir`: per label `label-T.safetensors` (a trigger file that
 * `eval --trigger file:…`, `train --poison`, `repair` and `locate` accept) and `label-T-{mask,pattern,stamp}.png`,
 * then `reconstruct.json`, which records the hash of the model's parameters. Everything is written into a new
 * directory beside `dir` that then replaces it, so a reader sees the old reconstruction or the new one, never a mix.
 *
 * @example await writeReconstruction('nc', result, model, { model: 'models/lenet5-badnets.onnx' });
 */
export async function writeReconstruction(dir: string, r: ReconstructResult, model: Model, extra: Record<string, unknown> = {}): Promise<void> {
  checkReconstructionDir(dir);
  const tmp = mkdtempSync(join(dirname(resolve(dir)), `.${basename(resolve(dir))}.tmp-`));
  try {
    for (const l of r.labels) {
      const f = labelFiles(l.label);
      await writeTriggerFile(join(tmp, f.trigger), l.trigger, labelMetadata(l));
      const png = triggerPngs(l.trigger);
      await writeFileAtomic(join(tmp, f.mask), [png.mask]);
      await writeFileAtomic(join(tmp, f.pattern), [png.pattern]);
      await writeFileAtomic(join(tmp, f.stamp), [png.stamp]);
    }
    const summary = reconstructSummary(r, { ...extra, paramsHash: paramsHash(model) });
    await writeFileAtomic(join(tmp, SUMMARY_FILE), [Buffer.from(`${JSON.stringify(summary, null, 2)}\n`)]);
    if (existsSync(dir)) rmSync(dir, { recursive: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function labelMetadata(l: LabelTrigger): Record<string, string> {
  return { label: String(l.label), l1: String(l.l1), anomaly_index: String(l.anomalyIndex), flagged: String(l.flagged) };
}

/**
 * The flagged labels of a reconstruction directory and their triggers, as `repair` reads them.
 *
 * @example const { flagged } = readReconstruction('nc', model); // [{ label: 0, trigger: { type: 'mask', … } }]
 */
export function readReconstruction(dir: string, model?: Model): { flagged: { label: number; trigger: MaskTrigger }[]; labels: number } {
  let summary: { flagged?: unknown; labels?: unknown; paramsHash?: unknown; model?: unknown };
  const path = join(dir, SUMMARY_FILE);
  try {
    summary = JSON.parse(readFileSync(path, 'utf8')) as typeof summary;
  } catch {
    throw new Error(`${path} not found or not JSON: give a directory written by 'scalpel reconstruct -o DIR'`);
  }
  if (!Array.isArray(summary.flagged) || !summary.flagged.every((x) => Number.isInteger(x))) throw new Error(`${path}: no list of flagged labels`);
  if (model && summary.paramsHash !== paramsHash(model)) {
    throw new Error(
      summary.paramsHash === undefined
        ? `${path} does not record which model it was reconstructed for; reconstruct again with this scalpel`
        : `${dir} was reconstructed for another model (${String(summary.model)}): its parameters differ from this model's`,
    );
  }
  const labels = Array.isArray(summary.labels) ? summary.labels.length : 0;
  return { flagged: (summary.flagged as number[]).map((label) => ({ label, trigger: readTriggerFile(join(dir, labelFiles(label).trigger)) })), labels };
}

/**
 * The reference trigger norms of clean twins: per label, the median ‖m‖₁ over the `reconstruct -o` directories of
 * clean models like the one under test (same architecture and data, trained clean), for `reconstruct --reference`.
 *
 * @example readReferenceNorms(['nc-clean-1', 'nc-clean-2']); // [61.2, 58.0, …]
 */
export function readReferenceNorms(dirs: readonly string[]): number[] {
  if (dirs.length === 0) throw new Error('--reference needs at least one reconstruct -o directory of a clean twin');
  const twins = dirs.map((dir) => {
    const path = join(dir, SUMMARY_FILE);
    let summary: { labels?: { label?: unknown; l1?: unknown }[] };
    try {
      summary = JSON.parse(readFileSync(path, 'utf8')) as typeof summary;
    } catch {
      throw new Error(`${path} not found or not JSON: --reference takes directories written by 'scalpel reconstruct -o DIR' on clean twins`);
    }
    const labels = summary.labels ?? [];
    if (labels.length === 0 || labels.some((l, i) => l.label !== i || typeof l.l1 !== 'number'))
      throw new Error(`${path}: --reference needs a reconstruction of every label (0, 1, …) with its l1`);
    return labels.map((l) => l.l1 as number);
  });
  return referenceNorms(twins);
}
