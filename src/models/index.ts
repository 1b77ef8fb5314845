// The model zoo: a registry of specs and one entry point that builds any of them as an ONNX model.
import type { Model } from '../onnx/ir.js';
import { buildGru, GRU_SPEC } from './gru.js';
import type { ModelOptions, ModelSpec, ResolvedOptions } from './layers.js';
import { buildLenet5, LENET5_SPEC } from './lenet5.js';
import { buildLstm, LSTM_SPEC } from './lstm.js';
import { buildMlp, MLP_SPEC } from './mlp.js';
import { buildResnet20, RESNET20_SPEC } from './resnet20.js';
import { buildTransformer, TRANSFORMER_SPEC } from './transformer.js';
import { buildVggSmall, VGG_SMALL_SPEC } from './vgg-small.js';

export type { ModelMode, ModelOptions, ModelSpec } from './layers.js';

/** Every zoo model by name. */
export const MODELS: Record<string, ModelSpec> = {
  mlp: MLP_SPEC,
  lenet5: LENET5_SPEC,
  'vgg-small': VGG_SMALL_SPEC,
  resnet20: RESNET20_SPEC,
  transformer: TRANSFORMER_SPEC,
  gru: GRU_SPEC,
  lstm: LSTM_SPEC,
};

const BUILDERS: Record<string, (opts: ResolvedOptions) => Model> = {
  mlp: buildMlp,
  lenet5: buildLenet5,
  'vgg-small': buildVggSmall,
  resnet20: buildResnet20,
  transformer: buildTransformer,
  gru: buildGru,
  lstm: buildLstm,
};

/** The options `buildModel` would use: the model's defaults overridden by the defined fields of `opts`. */
export function resolveModelOptions(name: string, opts: ModelOptions = {}): ResolvedOptions {
  const spec = MODELS[name];
  if (!spec) throw new Error(`unknown model '${name}'; the zoo has ${Object.keys(MODELS).join(', ')}`);
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as ModelOptions;
  const resolved = { ...spec.defaults, ...given } as ResolvedOptions;
  if (given.inputShape === undefined && resolved.input === 'sequence' && spec.sequenceShape) resolved.inputShape = [...spec.sequenceShape];
  if (resolved.input === 'sequence' && !spec.sequenceShape) throw new Error(`model '${name}' takes images only, not input 'sequence'`);
  return resolved;
}

/**
 * Build a zoo model as an ONNX model (opset 17) with PyTorch-style parameter names and initialisation.
 * Image models read 'x' float32 ['batch', C, H, W]; every model outputs 'logits' float32 ['batch', classes].
 * `mode: 'train'` graphs also output the updated BatchNormalization statistics (`<bn>.running_mean:new`, `<bn>.running_var:new`).
 *
 * @example
 * const train = buildModel('resnet20', { mode: 'train', seed: 1 });
 * const evalModel = buildModel('resnet20', { mode: 'eval', seed: 1 }); // same parameter names and values
 */
export function buildModel(name: string, opts: ModelOptions = {}): Model {
  return BUILDERS[name](resolveModelOptions(name, opts));
}
