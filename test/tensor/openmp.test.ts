// libtorch's idle OpenMP workers spin for a bounded time unless the user says
// otherwise (src/tensor/native.ts sets GOMP_SPINCOUNT while the addon loads
// libgomp). libgomp prints the settings it started with when
// OMP_DISPLAY_ENV=VERBOSE, so a child process shows what it chose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { OPENMP_SPIN_COUNT } from '../../src/tensor/native.js';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/** What libgomp started with in a process that loads NetLab under `settings`, and the environment after the load. */
function startWith(settings: { OMP_WAIT_POLICY?: string; GOMP_SPINCOUNT?: string }): { policy: string; spinCount: number; afterLoad: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_DISPLAY_ENV: 'VERBOSE' };
  delete env.OMP_WAIT_POLICY;
  delete env.GOMP_SPINCOUNT;
  Object.assign(env, settings);
  const script = `import(${JSON.stringify(INDEX)}).then(() => console.log('after load: ' + (process.env.GOMP_SPINCOUNT ?? 'unset')))`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env, timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const output = run.stdout + run.stderr;
  const policy = /OMP_WAIT_POLICY = '(\w+)'/.exec(output);
  const spin = /GOMP_SPINCOUNT = '(\d+)'/.exec(output);
  assert.ok(policy && spin, `libgomp did not print its settings:\n${output}`);
  return { policy: policy[1], spinCount: Number(spin[1]), afterLoad: /after load: (\w+)/.exec(output)![1] };
}

test("libgomp's workers spin 10,000 rounds, not 300,000, and the environment is left as it was", () => {
  assert.equal(OPENMP_SPIN_COUNT, 10_000);
  const started = startWith({});
  assert.equal(started.spinCount, OPENMP_SPIN_COUNT);
  assert.equal(started.afterLoad, 'unset');
});

test("a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins", () => {
  const active = startWith({ OMP_WAIT_POLICY: 'ACTIVE' });
  assert.equal(active.policy, 'ACTIVE');
  assert.ok(active.spinCount > 300_000, `spin count ${active.spinCount}`);
  assert.equal(startWith({ OMP_WAIT_POLICY: 'PASSIVE' }).spinCount, 0);
  assert.deepEqual(startWith({ GOMP_SPINCOUNT: '500' }), { policy: 'PASSIVE', spinCount: 500, afterLoad: '500' });
});
