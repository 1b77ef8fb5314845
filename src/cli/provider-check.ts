// Check, before any work, that the execution provider asked for with --provider is installed.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The provider libraries onnxruntime-node's install script downloads (they are not in its npm package). */
const DOWNLOADED: Record<string, string> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

/** How a user installs the CUDA providers (also in the README, "GPU (CUDA)"). */
export const CUDA_INSTALL_COMMAND = 'node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12';

/**
 * Throw a clear error when `provider` needs libraries that onnxruntime-node's install script downloads and they are
 * missing (scalpel's own install skips that download so that it works offline). `binDir` overrides where
 * onnxruntime-node keeps its native libraries (for tests).
 *
 * @example checkProvider('cuda'); // throws "the CUDA execution provider is not installed: …" on a CPU-only install
 */
export function checkProvider(provider: string | undefined, binDir?: string): void {
  const lib = provider && DOWNLOADED[provider.toLowerCase()];
  if (!lib || process.platform !== 'linux') return;
  let dir = binDir;
  if (!dir) {
    try {
      const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
      dir = join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
    } catch {
      return; // onnxruntime-node cannot be located; let onnxruntime report the problem
    }
  }
  if (existsSync(join(dir, lib))) return;
  const name = provider.toLowerCase() === 'cuda' ? 'CUDA' : 'TensorRT';
  throw new Error(
    `the ${name} execution provider is not installed: onnxruntime-node's npm package ships the CPU build only, and scalpel's install skips ` +
      `the download of its GPU libraries (${lib} is missing from ${dir}). With CUDA 12 and cuDNN 9 on this machine, get them with ` +
      `'${CUDA_INSTALL_COMMAND}' (needs internet), or drop --provider to run on the CPU`,
  );
}
