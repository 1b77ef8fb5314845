// How commands open a model file: load it (opset conversion, batch freeing), check a conversion against onnxruntime,
// and print one note line per change on stderr.
import { verifyUpgrade } from '../analysis/verify-upgrade.js';
import { openModel, type LoadedModel } from '../onnx/load-model.js';
import type { CommandContext } from './command.js';

/** A loaded model with the verdict of the conversion check, when the file needed a conversion. */
export interface OpenedModel extends LoadedModel {
  conversion?: { ok: boolean; maxError: number; reason?: string };
}

/**
 * Open `path` for a command. A converted opset is checked against onnxruntime's outputs on the original; a failed
 * check is an error unless `allowFailedConversion` (inspect reports it instead). Notes go to stderr unless `quiet`.
 *
 * @example const { model } = await openForCommand(ctx, 'cnn-opset11.onnx');
 */
export async function openForCommand(ctx: CommandContext, path: string, opts: { allowFailedConversion?: boolean; quiet?: boolean } = {}): Promise<OpenedModel> {
  const loaded: OpenedModel = openModel(path);
  if (loaded.upgrade) {
    loaded.conversion = await verifyUpgrade(loaded.original, loaded.upgrade.model, { runtime: ctx.runtime });
    if (!loaded.conversion.ok && !opts.allowFailedConversion) {
      throw new Error(`${path}: the conversion from opset ${loaded.upgrade.from} to ${loaded.upgrade.to} does not reproduce onnxruntime's outputs on the original (${loaded.conversion.reason}); re-export the model at opset 13 or later`);
    }
  }
  if (!opts.quiet) for (const n of loaded.notes) ctx.io.stderr.write(`scalpel: note: ${path}: ${n}\n`);
  return loaded;
}
