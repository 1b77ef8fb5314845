// --provider cuda without onnxruntime's CUDA libraries: one clear error before any work, naming the fix.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CUDA_INSTALL_COMMAND, checkProvider } from '../src/cli/provider-check.js';
import { cli } from './helpers/cli.js';

test(
  'checkProvider: missing CUDA libraries are named with the install command; present ones pass; cpu always passes',
  { skip: process.platform !== 'linux' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'scalpel-ort-'));
    try {
      assert.throws(
        () => checkProvider('cuda', dir),
        (e: Error) => e.message.includes('CUDA execution provider is not installed') && e.message.includes(CUDA_INSTALL_COMMAND),
      );
      writeFileSync(join(dir, 'libonnxruntime_providers_cuda.so'), '');
      checkProvider('cuda', dir);
      checkProvider('cpu', dir);
      checkProvider(undefined, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('scalpel --provider cuda on a CPU-only install: exit 1, one line, no onnxruntime log', { skip: process.platform !== 'linux' }, async () => {
  const r = await cli(['--provider', 'cuda', 'eval', 'models/lenet5-fashion.onnx']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^scalpel: error: the CUDA execution provider is not installed: .*--onnxruntime-node-install=cuda12/);
  assert.doesNotMatch(r.stderr, /\x1b\[|could not load the graph/);
});
