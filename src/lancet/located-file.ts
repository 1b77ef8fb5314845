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
  checkFields(f, path);
  const layer = findLayer(model, f.layer);
  if (layer.param !== f.param) throw new Error(`${path}: layer '${f.layer}' holds '${layer.param}' in the model but '${f.param}' in the file`);
  if (layer.shape.join() !== f.shape.join())
    throw new Error(`${path}: layer '${f.layer}' has shape [${layer.shape.join(', ')}] in the model but [${f.shape.join(', ')}] in the file`);
  if (f.weights.some((w) => w.index >= layer.size)) throw new Error(`${path}: a located weight is not a valid index of '${f.param}'`);
  return f;
}

/** Every field a repair reads has the type locate writes, or one error naming the first that does not. */
function checkFields(f: LocatedFile, path: string): void {
  const bad = (field: string, what: string): never => {
    throw new Error(`${path}: '${field}' is not ${what}; the file is damaged (write it again with scalpel locate)`);
  };
  const isString = (v: unknown) => typeof v === 'string';
  if (!isString(f.layer)) bad('layer', 'a layer name');
  if (!isString(f.param)) bad('param', 'a parameter name');
  if (!isString(f.source)) bad('source', 'an error source');
  if (typeof f.oracle !== 'boolean') bad('oracle', 'true or false');
  if (f.fix !== 'true-label' && f.fix !== 'not-wrong') bad('fix', "'true-label' or 'not-wrong'");
  if (!Array.isArray(f.shape) || !f.shape.every((d) => Number.isInteger(d) && d > 0)) bad('shape', 'a list of dimensions');
  if (!Array.isArray(f.images) || !f.images.every(isString)) bad('images', 'a list of image keys');
  const weight = (w: unknown) => {
    const x = w as { index?: unknown; count?: unknown } | null;
    return !!x && typeof x === 'object' && Number.isInteger(x.index) && (x.index as number) >= 0 && typeof x.count === 'number' && x.count >= 1;
  };
  if (!Array.isArray(f.weights) || !f.weights.every(weight)) bad('weights', 'a list of {index, count} with whole indices of at least 0');
}
