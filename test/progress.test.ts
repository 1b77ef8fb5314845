import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { progress } from '../src/cli/progress.js';

function logIO() {
  const lines: string[] = [];
  const io = { stdout: { write: () => true }, stderr: { write: (s: string) => (lines.push(s), true) } };
  return { io, lines };
}

test('progress in a log (stderr not a terminal): quiet for short work, a line every half minute for long work', () => {
  mock.timers.enable({ apis: ['Date'], now: 0 });
  try {
    const { io, lines } = logIO();
    const p = progress(io as never);
    p.update('epoch 1/2', 0, 100);
    for (let i = 1; i <= 10; i++) {
      mock.timers.tick(1000);
      p.update('epoch 1/2', i, 100, 'loss 0.5');
    }
    assert.deepEqual(lines, [], 'ten seconds of work prints nothing');
    for (let i = 11; i <= 40; i++) {
      mock.timers.tick(1000);
      p.update('epoch 1/2', i, 100, 'loss 0.4');
    }
    assert.deepEqual(lines, ['epoch 1/2: 30/100 loss 0.4 (30 s, about 70 s left)\n']);
    mock.timers.tick(60_000);
    p.update('epoch 1/2', 100, 100);
    assert.equal(lines.length, 1, 'completion itself prints nothing');
  } finally {
    mock.timers.reset();
  }
});
