// Fine-tuning on the defender's data, shared by the repair methods that train.
import type { Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import { train, type TrainResult } from '../train/trainer.js';
import type { RepairContext } from './repair-method.js';

/**
 * Fine-tune `model` on `data` with the context's settings (SGD, momentum 0.9, weight decay 5e-4, cosine schedule),
 * validating on the defender's validation part each epoch; `masks` (1 = may move) keep pruned entries fixed.
 *
 * @example const { model } = await fineTune(ctx.model, ctx.defender.train, ctx);
 */
export async function fineTune(model: Model, data: Dataset, ctx: RepairContext, masks?: Map<string, Uint8Array>): Promise<TrainResult> {
  const t = ctx.training;
  return train(model, data, {
    epochs: t.epochs,
    batchSize: Math.min(t.batchSize, data.x.dims[0]),
    lr: t.lr,
    optimizer: { name: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
    schedule: { name: 'cosine' },
    seed: ctx.seed,
    frozenBatchNorm: t.frozenBatchNorm,
    masks,
    validation: ctx.defender.validation,
    signal: ctx.signal,
    runtime: ctx.runtime,
    onStep: (s) =>
      ctx.onProgress?.(
        `fine-tune ${s.epoch + 1}/${t.epochs}`,
        s.step - s.epoch * (s.totalSteps / t.epochs),
        s.totalSteps / t.epochs,
        `loss ${s.loss.toFixed(3)}`,
      ),
    onEpoch: (e) =>
      ctx.log?.(
        `fine-tune epoch ${e.epoch + 1}: train loss ${e.trainLoss.toFixed(4)}, defender validation accuracy ${((e.validationAccuracy ?? NaN) * 100).toFixed(2)}%`,
      ),
  });
}
