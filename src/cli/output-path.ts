// Where a command may write: never over one of its inputs (a file, a trigger file named inside a spec, or anything
// under an input directory), only into an existing directory. cli/outputs.ts checks a command's outputs together.
import { statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { samePath } from '../onnx/model-io.js';
import { UsageError } from './command.js';

/** A command's inputs, by what they are: paths of files or directories (undefined entries are skipped). */
export type Inputs = Record<string, string | undefined>;

/**
 * The file a trigger spec or pattern reads, if any: `file:PATH`, `trigger:file:PATH`, `trigger:PATH` (locate's
 * --errors), `examples:PATH`.
 *
 * @example fileOfSpec('trigger:file:nc/label-0.safetensors') // 'nc/label-0.safetensors'
 */
export function fileOfSpec(spec: string | undefined): string | undefined {
  if (!spec) return undefined;
  const m = /^(?:trigger:|oracle-trigger:)?(?:file:|examples:)(.+)$/.exec(spec.trim()) ?? /^trigger:(?!patch:|blend:|mask:|token:)(.+)$/.exec(spec.trim());
  return m?.[1];
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Check that `out` may be written: it is none of `inputs` and lies under no input directory (never overwrite what was
 * read), and its directory exists.
 *
 * @example checkOutputPath('grads.safetensors', { model: 'mlp.onnx', data: 'mlp.safetensors' });
 */
export function checkOutputPath(out: string, inputs: Inputs, flag = '--out'): void {
  if (out.trim() === '') throw new UsageError(`${flag} needs a file name`);
  for (const [what, path] of Object.entries(inputs)) {
    if (!path) continue;
    if (samePath(out, path)) throw new Error(`refusing to overwrite the input ${what} file ${path} with the output (${flag} ${out})`);
    if (isDirectory(path) && resolve(out).startsWith(resolve(path) + sep))
      throw new Error(`refusing to write ${flag} ${out} inside the input ${what} directory ${path}`);
  }
  const dir = dirname(resolve(out));
  if (!isDirectory(dir)) throw new Error(`cannot write ${out}: directory ${dir} does not exist`);
  if (isDirectory(out)) throw new Error(`cannot write ${out}: it is a directory`);
}
