// The package as a user gets it: `npm pack`, install the tarball in an empty directory (offline, as the README says),
// then `npx scalpel demo`, the README's library example and one example per capability (examples/) run from the
// installed copy, without tsx or the sources.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
let dir = '';
const npmMajor = Number(execFileSync('npm', ['--version'], { encoding: 'utf8' }).split('.')[0]);
// The README's setup: npm 11 installs offline when the installing project denies onnxruntime-node's download
// script (allowScripts); npm 10 ignores allowScripts and needs ONNXRUNTIME_NODE_INSTALL=skip.
const env: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
delete env.ONNXRUNTIME_NODE_INSTALL;
if (npmMajor < 11) env.ONNXRUNTIME_NODE_INSTALL = 'skip';
const sh = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** stdout and stderr of a command that succeeds. */
const run2 = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, stderr: r.stderr };
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-pack-'));
  // `npm pack` runs the `prepare` script, which compiles dist/ with its .d.ts files.
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', dir], root)) as { filename: string; files: { path: string }[] }[];
  const files = packed[0].files.map((f) => f.path);
  assert.ok(
    files.includes('dist/index.js') && files.includes('dist/index.d.ts') && files.includes('dist/onnx/onnx.proto'),
    'the tarball holds the compiled code and its types',
  );
  assert.ok(files.includes('models/lenet5-fashion.onnx') && files.some((f) => f.startsWith('data/fashion-mnist-subset/')));
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/')), 'no sources or tests in the tarball');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'user-project', version: '1.0.0', private: true, type: 'module', allowScripts: { 'onnxruntime-node': false } }),
  );
  sh('npm', ['install', '--prefer-offline', join(dir, packed[0].filename)], dir);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the installed package has no TypeScript toolchain and runs its compiled code', () => {
  const installed = readdirSync(join(dir, 'node_modules'));
  for (const dev of ['typescript', 'tsx']) assert.ok(!installed.includes(dev), `${dev} is a devDependency, not installed for users`);
  assert.ok(!existsSync(join(dir, 'node_modules/scalpel/src')));
  const out = sh('npx', ['scalpel', '--version'], dir);
  assert.equal(out.trim(), (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
});

test('npx scalpel demo works from the installed tarball', () => {
  const { stdout, stderr } = run2('npx', ['scalpel', '--threads', '1', 'demo', '--out', 'demo.html'], dir);
  assert.match(stdout, /gradient-based/);
  assert.match(stderr, /wrote demo\.html/);
  assert.match(readFileSync(join(dir, 'demo.html'), 'utf8'), /^<!doctype html>/i);
});

test("the README's library example runs against the installed package", () => {
  copyFileSync(join(root, 'examples/gradient.mjs'), join(dir, 'gradient.mjs'));
  const out = sh('node', ['gradient.mjs'], dir);
  assert.match(out, /^loss \d+\.\d{4} on 16 images$/m);
  assert.match(out, /d loss \/ d conv1\.weight: float32 \[6, 1, 5, 5\], L2 norm \d\.\d{3}e[-+]\d+/);
  assert.match(out, /d loss \/ d fc1\.weight: float32 \[120, 400\], L2 norm /);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes(readFileSync(join(root, 'examples/gradient.mjs'), 'utf8')), 'the README shows examples/gradient.mjs verbatim');
});

/** One runnable example per capability, each run from the installed package, with what its output must show. */
const EXAMPLES: [file: string, expect: RegExp[]][] = [
  ['inject.mjs', [/^changed \d+ of 61706 parameters$/m, /^pattern success [\d.]+% -> [\d.]+%$/m, /of predictions unchanged$/m]],
  ['diff-apply.mjs', [/^applied \d+ entries: the hardened parameters exactly$/m, /^reverted: the original parameters exactly$/m]],
  ['reconstruct-repair.mjs', [/^mask L1 per label: (\d+ ){9}\d+; flagged: /m]],
  ['locate-flip.mjs', [/^ORACLE: located \d+ weights of layer fc1/m, /^ORACLE: flipped \d+ weights; ASR /m]],
];
for (const [file, expect] of EXAMPLES) {
  test(`examples/${file} runs against the installed package`, () => {
    copyFileSync(join(root, 'examples', file), join(dir, file));
    const out = sh('node', [file], dir);
    for (const re of expect) assert.match(out, re, out);
  });
}

test("a checkout needs no network and no unknown npm config: onnxruntime-node's download is denied in package.json", () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    allowScripts: Record<string, boolean>;
    devDependencies: Record<string, string>;
  };
  assert.equal(pkg.allowScripts['onnxruntime-node'], false);
  for (const dev of ['typescript', 'tsx', '@types/node']) assert.ok(dev in pkg.devDependencies);
  // No project .npmrc key npm does not know: `npx scalpel` in the checkout prints no "Unknown project config" warning.
  assert.ok(!existsSync(join(root, '.npmrc')) || !/onnxruntime/.test(readFileSync(join(root, '.npmrc'), 'utf8')));
  const r = spawnSync('npx', ['scalpel', '--version'], { cwd: root, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Unknown (project|cli|env) config/);
});
