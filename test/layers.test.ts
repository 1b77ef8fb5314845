// docs/design.md's layering, checked on the sources: a folder imports only folders below it, and the method folders
// (one per paper or family) never import each other.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

/** Folders from the top layer down; folders in one entry are siblings. */
const LAYERS: string[][] = [
  ['cli'],
  ['report'],
  ['corruption', 'surgery', 'backdoor', 'lancet'],
  ['defence'],
  ['analysis'],
  ['train'],
  ['tasks'],
  ['params'],
  ['models', 'data'],
  ['autodiff', 'runtime'],
  ['onnx'],
  ['tensor', 'fs'],
];
/** Sibling imports that the design allows (autodiff measures lowerings on the runtime). */
const SIBLINGS_ALLOWED = new Set(['autodiff->runtime']);

const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every src/ folder imports only the layers below it; method folders do not import each other', () => {
  const problems: string[] = [];
  for (const folder of readdirSync('src')) {
    if (!statSync(join('src', folder)).isDirectory()) continue;
    const r = rank.get(folder);
    assert.ok(r !== undefined, `src/${folder} is not in docs/design.md's layer list (add it to this test and to the README)`);
    for (const file of files(join('src', folder))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/from '\.\.\/(?:\.\.\/)*([a-z-]+)\//g)) {
        const target = m[1];
        const t = rank.get(target);
        if (t === undefined || target === folder) continue;
        if (t < r || (t === r && !SIBLINGS_ALLOWED.has(`${folder}->${target}`))) problems.push(`${file} imports ${target}/`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
