// libtorch's OpenMP workers wait passively unless the user says otherwise
// (src/tensor/native.ts sets OMP_WAIT_POLICY while the addon loads libgomp).
// libgomp prints the settings it started with when OMP_DISPLAY_ENV=VERBOSE,
// so a child process shows what it chose. Its OMP_WAIT_POLICY line reads
// PASSIVE even when the variable is unset and the workers spin; the spin
// count tells: 300,000 by default, 0 for passive waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));

function startWith(policy: string | undefined): { policy: string; spinCount: number; afterLoad: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_DISPLAY_ENV: 'VERBOSE', OMP_WAIT_POLICY: policy };
  if (policy === undefined) delete env.OMP_WAIT_POLICY;
  const script = `import(${JSON.stringify(INDEX)}).then(() => console.log('after load: ' + (process.env.OMP_WAIT_POLICY ?? 'unset')))`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const output = run.stdout + run.stderr;
  const started = /OMP_WAIT_POLICY = '(\w+)'/.exec(output);
  const spin = /GOMP_SPINCOUNT = '(\d+)'/.exec(output);
  assert.ok(started && spin, `libgomp did not print its settings:\n${output}`);
  return { policy: started[1], spinCount: Number(spin[1]), afterLoad: /after load: (\w+)/.exec(output)![1] };
}

test('libgomp starts with passive workers, and the environment is left as it was', () => {
  assert.deepEqual(startWith(undefined), { policy: 'PASSIVE', spinCount: 0, afterLoad: 'unset' });
});

test("a user's OMP_WAIT_POLICY wins", () => {
  const active = startWith('ACTIVE');
  assert.equal(active.policy, 'ACTIVE');
  assert.ok(active.spinCount > 0, `spin count ${active.spinCount}`);
  assert.equal(active.afterLoad, 'ACTIVE');
});
