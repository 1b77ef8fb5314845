// Atomic file writes: the bytes go to a temporary file beside the target, which is then renamed over it.
import { closeSync, fsyncSync, openSync, promises as fs, renameSync, rmSync, writeSync } from 'node:fs';

function tempPath(path: string): string {
  return `${path}.${process.pid}.${Date.now()}.tmp`;
}

/**
 * Write `chunks` to `path` atomically; on any error the temporary file is removed and `path` is untouched.
 *
 * @example writeFileAtomicSync('/tmp/x.bin', [Uint8Array.of(1, 2, 3)]);
 */
export function writeFileAtomicSync(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = tempPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * The asynchronous form of `writeFileAtomicSync`.
 *
 * @example await writeFileAtomic('/tmp/x.bin', [Uint8Array.of(1, 2, 3)]);
 */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = tempPath(path);
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
