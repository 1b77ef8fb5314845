// located.json: what `scalpel locate` found, read back by `scalpel repair --located`.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { Model } from '../onnx/ir.js';
import { paramsHash } from '../params/delta.js';
import { findLayer } from './layers.js';
import type { LayerLocation, LocateResult } from './locate.js';

export const LOCATED_FORMAT = 'scalpel-located/1';

/** The defender data the pairs were drawn from, so that a repair can draw the same data and hold the pairs out. */
export interface LocatedData {
  /** `--data` as given (undefined: the embedded subset). */
  data?: string;
  /** `--defender-data` as given (undefined: 5% of the training split). */
  defenderData?: string;
  /** `--seed` of the defender's draw. */
  seed: number;
}

/** The file's content; its layer fields are the chosen layer's (located weights most often located first). */
export interface LocatedFile extends Pick<LayerLocation, 'layer' | 'param' | 'shape' | 'size' | 'pairs' | 'fixed' | 'meanRatio' | 'weights'> {
  format: typeof LOCATED_FORMAT;
  /** sha256 of the model's float parameters: a repair refuses a located.json made for another model. */
  paramsHash: string;
  model: string;
  source: string;
  oracle: boolean;
  fix: LocateResult['fix'];
  search: LocateResult['search'];
  weighting: LocateResult['weighting'];
  data: LocatedData;
  /** Rows of the defender data used as pairs. */
  rows: number[];
  /** Keys of the defender images the pairs were made from (pairKey): a repair judges on other pairs. */
  images: string[];
  /** Every layer tried (without their weight lists). */
  layers: Omit<LayerLocation, 'weights'>[];
  command?: string;
}

/**
 * The located.json content for a locate result.
 *
 * @example const file = locatedFile(result, model, 'lenet5-badnets.onnx', { data: 'fashion-mnist', seed: 0 });
 */
export function locatedFile(r: LocateResult, model: Model, modelPath: string, data: LocatedData, command?: string): LocatedFile {
  const chosen = r.layers.find((l) => l.layer === r.chosen)!;
  return {
    format: LOCATED_FORMAT,
    paramsHash: paramsHash(model),
    model: modelPath,
    source: r.source,
    oracle: r.oracle,
    fix: r.fix,
    search: r.search,
    weighting: r.weighting,
    data,
    rows: r.rows,
    images: r.images,
    layer: chosen.layer,
    param: chosen.param,
    shape: chosen.shape,
    size: chosen.size,
    pairs: chosen.pairs,
    fixed: chosen.fixed,
    meanRatio: chosen.meanRatio,
    weights: chosen.weights,
    layers: r.layers.map(({ weights: _w, ...rest }) => rest),
    ...(command ? { command } : {}),
  };
}

/** Write located.json atomically. */
export async function writeLocated(path: string, file: LocatedFile): Promise<void> {
  await writeFileAtomic(path, [Buffer.from(JSON.stringify(file, null, 1) + '\n')]);
}

/**
 * Read a located.json and check it against the model it will repair: same parameters (by hash), the layer
 * present with the recorded shape, weight indices inside it.
 *
 * @example const loc = readLocated('located.json', model);
 */
export function readLocated(path: string, model: Model): LocatedFile {
  let f: LocatedFile;
  try {
    f = JSON.parse(readFileSync(path, 'utf8')) as LocatedFile;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'ENOENT' ? `located file not found: ${path}` : `${path} is not a located.json (${err.message})`);
  }
  if (!f || f.format !== LOCATED_FORMAT) throw new Error(`${path} is not a located.json written by scalpel locate (format '${String(f?.format)}')`);
  if (f.paramsHash !== paramsHash(model)) throw new Error(`${path} was made for another model (${f.model}): its parameters differ from this model's`);
  const layer = findLayer(model, f.layer);
  if (layer.shape.join() !== f.shape.join()) throw new Error(`${path}: layer '${f.layer}' has shape [${layer.shape.join(', ')}] in the model but [${f.shape.join(', ')}] in the file`);
  if (!Array.isArray(f.weights) || f.weights.some((w) => !Number.isInteger(w.index) || w.index < 0 || w.index >= layer.size || !(w.count >= 1))) {
    throw new Error(`${path}: a located weight is not a valid index of '${f.param}'`);
  }
  return f;
}
