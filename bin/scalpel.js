#!/usr/bin/env node
// The scalpel executable: the compiled CLI when built (dist/), else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
// `scalpel inspect model.onnx | head`: a closed pipe is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

let main;
if (existsSync(built)) {
  main = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  main = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
process.exitCode = await main.run(process.argv.slice(2));
