// Read a tensor file given to a command (--data): safetensors or NumPy .npz, checked for damage and non-finite values.
import { statSync } from 'node:fs';
import type { HostTensor } from '../tensor/host-tensor.js';
import { checkFinite } from './check-finite.js';
import { readNpz } from './npy.js';
import { readSafetensors } from './safetensors.js';

/** The tensor-file extensions --data accepts, for messages. */
export const TENSOR_FILE_KINDS = '.safetensors or .npz (NumPy: np.savez(path, x=…, y=…))';

/**
 * Read a .npz or safetensors data file (any other name is read as safetensors), with a clear error when it is missing, of another kind, malformed, or holds
 * a NaN or an infinity.
 *
 * @example const data = await loadData('test/fixtures/torch/mlp.safetensors'); data.get('x')
 */
export async function loadData(path: string): Promise<Map<string, HostTensor>> {
  try {
    statSync(path);
  } catch {
    throw new Error(`data file not found: ${path}`);
  }
  const lower = path.toLowerCase();
  let data: Map<string, HostTensor>;
  if (lower.endsWith('.npz')) {
    data = readNpz(path);
  } else if (lower.endsWith('.npy')) {
    throw new Error(`${path}: a .npy file holds one unnamed array, but the data must name a tensor per model input and the labels; save them together as ${TENSOR_FILE_KINDS}`);
  } else {
    // .safetensors, or any other name: read as safetensors, whose header check names a file of another kind.
    try {
      data = await readSafetensors(path);
    } catch (e) {
      const msg = (e as Error).message;
      const prefix = `safetensors ${path}: `;
      throw new Error(msg.startsWith(prefix) ? `${path} is not a valid safetensors file (${msg.slice(prefix.length)}); data files are ${TENSOR_FILE_KINDS}` : msg);
    }
  }
  checkFinite(data, path);
  return data;
}
