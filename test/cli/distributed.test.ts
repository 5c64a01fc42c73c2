// `--nproc`: the launcher, data-parallel `netlab train`, and sharded `netlab
// eval` / `netlab attack` that print exactly what one process prints.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadSafetensors } from '../../src/io/safetensors.js';
import { freePort } from '../distributed/ranks.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'netlab-nproc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function netlab(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const weights = join(dir, 'madry.safetensors');

test('train --nproc 2: one epoch of DDP keeps the global batch, rank 0 alone reports and writes the weights', async () => {
  const port = String(await freePort());
  const run = netlab('train', '--nproc', '2', '--master-port', port, '--epochs', '1', '--out', weights, '--json');
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /launching ranks 0–1 of 2 \(1 thread each\)/);
  assert.match(run.stderr, /2 processes × batch 25/);
  assert.equal(run.stderr.match(/weights written to/g)?.length, 1);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON line, from rank 0');
  const result = JSON.parse(lines[0]);
  assert.equal(result.world_size, 2);
  assert.equal(result.history.length, 1);
  // One epoch of Adam at 1e-4 (the Madry preset) reaches about 97% in one process.
  assert.ok(result.test_accuracy >= 0.95, `test accuracy ${result.test_accuracy}`);
  const file = loadSafetensors(weights);
  assert.deepEqual([...file.tensors.keys()].sort(), ['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']);
  for (const t of file.tensors.values()) t.dispose();
});

// Everything but the timings (and the name of a saved file).
function results(report: any): unknown {
  const strip = (row: any) => ({ ...row, seconds: undefined });
  return { ...report, rows: report.rows?.map(strip), autoattack: report.autoattack && { ...report.autoattack, seconds: undefined, stages: report.autoattack.stages.map(strip) }, seconds: undefined, saved: undefined };
}

test('eval --nproc 2 prints the same accuracies, rows and AutoAttack stages as one process', async () => {
  const port = String(await freePort());
  const common = ['eval', '--weights', weights, '--n', '100', '--batch-size', '25', '--restarts', '2', '--eps', '0.3', '--json'];
  const one = netlab(...common, '--threads', '1');
  assert.equal(one.code, 0, one.stderr);
  const two = netlab(...common, '--nproc', '2', '--master-port', port);
  assert.equal(two.code, 0, two.stderr);
  assert.equal(two.stdout.trim().split('\n').length, 1);
  const [a, b] = [JSON.parse(one.stdout), JSON.parse(two.stdout)];
  assert.equal(a.rows.length, 5);
  assert.deepEqual(results(b), results(a));
  // The table printed on stderr agrees too, row by row, up to the time column.
  const table = (text: string) => text.split('\n').filter((l) => /^(FGSM|PGD|AutoAttack) /.test(l)).map((l) => l.replace(/\s+[\d.]+ s$/, ''));
  assert.deepEqual(table(two.stderr), table(one.stderr));
});

test('attack --nproc 2 saves the same adversarial batch as one process', async () => {
  const port = String(await freePort());
  const files = [join(dir, 'adv-1.safetensors'), join(dir, 'adv-2.safetensors')];
  const common = ['attack', '--weights', weights, '--attack', 'pgd', '--eps', '0.1', '--steps', '5', '--n', '30', '--batch-size', '8', '--json'];
  const one = netlab(...common, '--threads', '1', '--save-adv', files[0]);
  const two = netlab(...common, '--nproc', '2', '--master-port', port, '--save-adv', files[1]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.deepEqual(results(JSON.parse(two.stdout)), results(JSON.parse(one.stdout)));
  const [a, b] = files.map((f) => loadSafetensors(f));
  for (const key of ['adversarial', 'clean', 'labels']) assert.equal(a.tensors.get(key)!.sub(b.tensors.get(key)!).abs().max().item(), 0, key);
  for (const f of [a, b]) for (const t of f.tensors.values()) t.dispose();
});

const usage: [string, string[], RegExp][] = [
  ['zero processes', ['train', '--nproc', '0'], /--nproc must be >= 1, got 0/],
  ['a node rank past the nodes', ['train', '--nnodes', '2', '--node-rank', '2'], /--node-rank 2 must be below --nnodes 2/],
  ['a port past 65535', ['eval', '--weights', 'x.safetensors', '--nproc', '2', '--master-port', '70000'], /--master-port must be <= 65535, got 70000/],
  ['an empty master address', ['attack', '--weights', 'x.safetensors', '--nproc', '2', '--master-addr', ' '], /--master-addr needs a host name or address/],
];
for (const [name, args, pattern] of usage) {
  test(`a usage error for ${name}`, () => {
    const run = netlab(...args);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, pattern);
  });
}

test('a global batch the processes cannot share is one usage error, from rank 0', async () => {
  const run = netlab('train', '--nproc', '2', '--master-port', String(await freePort()), '--batch-size', '25', '--epochs', '0');
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr.match(/--batch-size 25 must divide evenly among the 2 processes/g)?.length, 1, run.stderr);
  // Every rank fails alike; whichever exits first is named.
  assert.match(run.stderr, /rank [01] exited with code 2; stopping the other ranks/);
});

test('a master port already in use: rank 0 says so and the launcher stops the others', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const { port } = server.address() as { port: number };
  try {
    const run = netlab('eval', '--weights', weights, '--n', '10', '--nproc', '2', '--master-port', String(port));
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`rank 0: initProcessGroup: port ${port} on 127.0.0.1 is already in use`));
    assert.match(run.stderr, /rank 0 exited with code 1; stopping the other ranks/);
  } finally {
    server.close();
  }
});

// Starts a long training under the launcher and waits until both workers run.
async function startTraining(): Promise<{ launcher: ReturnType<typeof spawn>; workers: number[]; stderr: () => string; exit: Promise<{ code: number | null; seconds: number }> }> {
  const launcher = spawn(process.execPath, [MAIN, 'train', '--nproc', '2', '--master-port', String(await freePort()), '--epochs', '5'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  launcher.stderr!.on('data', (d) => (stderr += d));
  let stopped = 0;
  const exit = new Promise<{ code: number | null; seconds: number }>((resolve) => launcher.on('exit', (code) => resolve({ code, seconds: (performance.now() - stopped) / 1000 })));
  let workers: number[] = [];
  for (let i = 0; i < 200 && !/epoch 1: /.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
  workers = spawnSync('ps', ['-o', 'pid=', '--ppid', String(launcher.pid)], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
  assert.equal(workers.length, 2, `workers of ${launcher.pid}: ${workers}; ${stderr}`);
  stopped = performance.now();
  return { launcher, workers, stderr: () => stderr, exit };
}

const alive = (pid: number) => spawnSync('kill', ['-0', String(pid)]).status === 0;

test('a rank that dies stops the job: the launcher names it and stops the other rank', async () => {
  const job = await startTraining();
  process.kill(job.workers[1], 'SIGKILL');
  const { code, seconds } = await job.exit;
  assert.notEqual(code, 0);
  assert.ok(seconds < 15, `took ${seconds} s`);
  assert.match(job.stderr(), /rank 1 was killed by SIGKILL; stopping the other ranks/);
  assert.ok(!job.workers.some(alive), 'no worker is left running');
});

test('Ctrl-C on the launcher stops every worker, exit code 130', async () => {
  const job = await startTraining();
  job.launcher.kill('SIGINT');
  const { code, seconds } = await job.exit;
  assert.equal(code, 130, job.stderr());
  assert.ok(seconds < 15, `took ${seconds} s`);
  assert.match(job.stderr(), /SIGINT: stopping every rank/);
  assert.ok(!job.workers.some(alive), 'no worker is left running');
});
