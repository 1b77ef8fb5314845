#!/usr/bin/env node
// The scalpel executable: runs the compiled CLI (dist/, built by `npm run build`, which `npm ci`, `npm pack` and
// `npm publish` run through the `prepare` script). In a checkout whose src/ is newer than dist/ (sources edited
// since the last build), it runs the TypeScript sources through tsx instead, so that a stale build never runs.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
const sources = new URL('../src/', import.meta.url);
// `scalpel inspect model.onnx | head`: a closed pipe is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

/** Newest modification time of a .ts file under `dir` (0 when there is none). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs);
  }
  return newest;
}

const hasBuild = existsSync(built);
const hasSources = existsSync(sources);
const stale = hasBuild && hasSources && newestSource(fileURLToPath(sources)) > statSync(built).mtimeMs;
let main;
if (hasBuild && !stale) {
  main = await import(built.href);
} else if (hasSources) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`scalpel: error: ${hasBuild ? 'dist/ is older than src/' : 'dist/ is not built'} and tsx is not installed: run 'npm run build'\n`);
    process.exit(1);
  }
  register();
  main = await import(new URL('cli/main.ts', sources).href);
} else {
  process.stderr.write("scalpel: error: this installation has no compiled code (dist/ is missing): reinstall scalpel\n");
  process.exit(1);
}
process.exitCode = await main.run(process.argv.slice(2));
