import { promises as fs } from 'node:fs';

/**
 * Write a file atomically: the bytes go to `path + '.<pid>.tmp'`, which is then renamed over `path`.
 * On any error the temporary file is removed and the error is rethrown; `path` is never left half-written.
 *
 * @param path destination file
 * @param chunks byte chunks written in order
 *
 * @example
 * await writeFileAtomic('/tmp/x.bin', [Uint8Array.of(1, 2, 3)]);
 */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await fs.open(tmp, 'w');
    try {
      for (const c of chunks) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
