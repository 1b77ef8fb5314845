/**
 * Regenerate data/fashion-mnist-subset/ from the full Fashion-MNIST set: the first 4000 training and first
 * 1000 test examples (deterministic first-N selection), written as gzipped IDX files.
 *
 * Usage: node --import tsx scripts/make-subset.ts [fullDir] [outDir]
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { takeRows } from '../src/data/batches.js';
import { DEFAULT_FULL_DATASET_DIR, findIdxFile } from '../src/data/fashion-mnist.js';
import { readIdx, writeIdx } from '../src/data/idx.js';

const COUNTS = { train: 4000, test: 1000 } as const;
const fullDir = process.argv[2] ?? DEFAULT_FULL_DATASET_DIR;
const outDir = process.argv[3] ?? fileURLToPath(new URL('../data/fashion-mnist-subset/', import.meta.url));
mkdirSync(outDir, { recursive: true });

for (const split of ['train', 'test'] as const) {
  const prefix = split === 'train' ? 'train' : 't10k';
  for (const kind of ['images', 'labels'] as const) {
    const src = readIdx(findIdxFile(fullDir, split, kind));
    const n = COUNTS[split];
    const rows = Array.from({ length: n }, (_, i) => i);
    const out = join(outDir, `${prefix}-${kind}-idx${kind === 'images' ? 3 : 1}-ubyte.gz`);
    await writeIdx(out, takeRows(src, rows));
    console.log(`${out}: ${n} of ${src.dims[0]}, ${statSync(out).size} bytes`);
  }
}
