// Where a command may write: never over one of its inputs, only into an existing directory.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { samePath } from '../onnx/model-io.js';

/**
 * Check that `out` may be written: it is none of `inputs` (never overwrite what was read) and its directory exists.
 *
 * @example checkOutputPath('grads.safetensors', { model: 'mlp.onnx', data: 'mlp.safetensors' });
 */
export function checkOutputPath(out: string, inputs: Record<string, string | undefined>, flag = '--out'): void {
  for (const [what, path] of Object.entries(inputs)) {
    if (path && samePath(out, path)) throw new Error(`refusing to overwrite the input ${what} file ${path} with the output (${flag} ${out})`);
  }
  const dir = dirname(resolve(out));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new Error(`cannot write ${out}: directory ${dir} does not exist`);
  try {
    if (statSync(out).isDirectory()) throw new Error(`cannot write ${out}: it is a directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
