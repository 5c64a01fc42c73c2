// Bad input to the distributed API: each case gets an error that says what
// was wrong, and nothing hangs (every multi-process case is bounded in time).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';

import { distributed as dist, nn, tensor, zeros } from '../../src/index.js';
import { DataLoader, TensorDataset } from '../../src/data/dataset.js';
import { DistributedSampler } from '../../src/data/sampler.js';
import { DistributedDataParallel } from '../../src/nn/parallel.js';
import { freePort, runRanks } from './ranks.js';

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.match(error.message, pattern);
    return true;
  });
}

const TCP = 'tcp://127.0.0.1:1';
const badOptions: [string, dist.InitOptions, RegExp][] = [
  ['a world size of 0', { initMethod: TCP, rank: 0, worldSize: 0 }, /worldSize must be an integer >= 1, got 0/],
  ['a rank equal to the world size', { initMethod: TCP, rank: 2, worldSize: 2 }, /rank 2 is not below the world size 2/],
  ['a negative rank', { initMethod: TCP, rank: -1, worldSize: 2 }, /rank must be an integer >= 0, got -1/],
  ['a fractional rank', { initMethod: TCP, rank: 0.5, worldSize: 2 }, /rank must be an integer >= 0, got 0.5/],
  ['an unknown backend', { backend: 'carrier-pigeon', initMethod: TCP, rank: 0, worldSize: 1 }, /unknown backend 'carrier-pigeon'; use 'gloo'/],
  ['NCCL without CUDA', { backend: 'nccl', initMethod: TCP, rank: 0, worldSize: 1 }, /'nccl' needs a CUDA build/],
  ['a tcp:// method without a port', { initMethod: 'tcp://127.0.0.1', rank: 0, worldSize: 1 }, /needs a host and a port from 1 to 65535/],
  ['a port past 65535', { initMethod: 'tcp://127.0.0.1:70000', rank: 0, worldSize: 1 }, /needs a host and a port/],
  ['an unknown init method', { initMethod: 'udp://127.0.0.1:5', rank: 0, worldSize: 1 }, /unknown init method 'udp:\/\/'/],
  ['an init method that is not a URL', { initMethod: '127.0.0.1:5', rank: 0, worldSize: 1 }, /is not a URL/],
  ['a file:// method without a path', { initMethod: 'file://', rank: 0, worldSize: 1 }, /names no file/],
  ['a timeout of 0', { initMethod: TCP, rank: 0, worldSize: 1, timeout: 0 }, /timeout must be a positive number of milliseconds/],
  ['a rank in the URL that is not a number', { initMethod: 'tcp://127.0.0.1:5?rank=x', worldSize: 1 }, /rank must be an integer >= 0, got 'x' \(from rank in/],
];
for (const [name, options, pattern] of badOptions) {
  test(`initProcessGroup refuses ${name} before touching the network`, async () => {
    await rejects(dist.initProcessGroup(options), pattern);
    assert.equal(dist.isInitialized(), false);
  });
}

test('env:// without MASTER_ADDR or WORLD_SIZE names the missing variable', async () => {
  const saved = { ...process.env };
  try {
    delete process.env.MASTER_ADDR;
    await rejects(dist.initProcessGroup({ rank: 0, worldSize: 1 }), /env:\/\/ rendezvous needs the environment variable MASTER_ADDR/);
    delete process.env.WORLD_SIZE;
    await rejects(dist.initProcessGroup({ rank: 0 }), /needs the environment variable WORLD_SIZE/);
  } finally {
    process.env = saved;
  }
});

test('GLOO_SOCKET_IFNAME: the loopback interface carries a group; an interface that does not exist is named in the error', async () => {
  const lo = await runRanks('collectives', 2, { args: { dtypes: ['float32'] }, timeoutMs: 60_000, ranks: [{ env: { GLOO_SOCKET_IFNAME: 'lo' } }, { env: { GLOO_SOCKET_IFNAME: 'lo' } }] });
  for (const r of lo) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lo[0].result.float32.sum, [3, 4, -3]);
  const env = { GLOO_SOCKET_IFNAME: 'nosuch0' };
  const bad = await runRanks('failures', 2, { args: { kind: 'join', timeout: 3000 }, timeoutMs: 30_000, ranks: [{ env }, { env }] });
  for (const r of bad) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.result.error ?? '', /nosuch0/, `rank ${r.rank}: ${JSON.stringify(r.result)}`);
  }
});

test('collectives, queries and DDP before initProcessGroup say to call it', () => {
  for (const call of [() => dist.allReduce(zeros([1])), () => dist.barrier(), () => dist.getRank(), () => dist.getWorldSize(), () => new DistributedDataParallel(new nn.Linear(2, 2))]) {
    assert.throws(call, /the default process group is not initialized; call initProcessGroup\(\) first/);
  }
});

test('a group of one: wrong tensors, ops and ranks are refused; after destroy, collectives fail', async () => {
  const port = await freePort();
  await dist.initProcessGroup({ initMethod: `tcp://127.0.0.1:${port}`, rank: 0, worldSize: 1, timeout: 10_000 });
  try {
    await rejects(dist.initProcessGroup({ initMethod: `tcp://127.0.0.1:${port}`, rank: 0, worldSize: 1 }), /already initialized; call destroyProcessGroup\(\) first/);
    const t = tensor([1, 2, 3]);
    await dist.allReduce(t);
    assert.deepEqual(Array.from(t.toTypedArray() as Float32Array), [1, 2, 3]);
    assert.throws(() => dist.allReduce(t, dist.ReduceOp.AVG), /ReduceOp.AVG is not supported by the Gloo backend/);
    assert.throws(() => dist.allReduce(t, 'mean' as never), /op must be one of sum, product, min, max, avg/);
    assert.throws(() => dist.allReduce(tensor([true, false])), /bool\[2\], but Gloo reduces float32, float64/);
    assert.throws(() => dist.allReduce([1, 2] as never), /the tensor must be a Tensor, got/);
    assert.throws(() => dist.allReduce(zeros([3, 4]).t()), /is not contiguous/);
    assert.throws(() => dist.broadcast(t, 1), /src must be a rank from 0 to 0, got number 1/);
    assert.throws(() => dist.allGather([zeros([3]), zeros([3])], t), /one tensor per rank \(1\), got 2/);
    assert.throws(() => dist.allGather([zeros([4])], t), /outputList\[0\] is float32\[4\] but the input is float32\[3\]/);
    assert.throws(() => dist.allGather([zeros([3], { dtype: 'int64' })], t), /outputList\[0\] is int64\[3\]/);
    assert.throws(() => dist.reduceScatter(zeros([3]), [zeros([3])]), /ProcessGroupGloo does not support reduce_scatter/);
    const disposed = zeros([2]);
    disposed.dispose();
    assert.throws(() => dist.allReduce(disposed), /has been disposed/);
  } finally {
    dist.destroyProcessGroup();
  }
  assert.throws(() => dist.allReduce(zeros([1])), /not initialized/);
  assert.throws(() => dist.destroyProcessGroup(), /not initialized/);
});

test('DistributedSampler and the DataLoader refuse bad arguments', () => {
  const data = { length: 10 };
  assert.throws(() => new DistributedSampler(data, { numReplicas: 0, rank: 0 }), /numReplicas must be a positive integer, got 0/);
  assert.throws(() => new DistributedSampler(data, { numReplicas: 2, rank: 2 }), /rank must be from 0 to 1, got 2/);
  assert.throws(() => new DistributedSampler(data, { numReplicas: 2, rank: 0, seed: -1 }), /seed must be a non-negative integer/);
  assert.throws(() => new DistributedSampler({ length: 1 }, { numReplicas: 2, rank: 0, dropLast: true }), /cannot give each of 2 ranks one/);
  assert.throws(() => new DistributedSampler(data, { numReplicas: 2, rank: 0 }).setEpoch(-1), /epoch must be a non-negative integer/);
  const set = new TensorDataset(zeros([10, 2]));
  assert.throws(() => new DataLoader(set, { sampler: new DistributedSampler(set, { numReplicas: 2, rank: 0 }), shuffle: true }), /sampler and shuffle exclude each other/);
});

test('tensors of different shapes across ranks, under TORCH_DISTRIBUTED_DEBUG=DETAIL: every rank gets an error naming both shapes, no hang', async () => {
  const env = { TORCH_DISTRIBUTED_DEBUG: 'DETAIL' };
  const results = await runRanks('failures', 2, { args: { kind: 'shapes', timeout: 5000 }, timeoutMs: 30_000, ranks: [{ env }, { env }] });
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.result.error ?? '', /allReduce.*mismatch.*TensorShape=\[2\].*TensorShape=\[3\]|allReduce.*mismatch.*TensorShape=\[3\].*TensorShape=\[2\]/s, `rank ${r.rank}: ${JSON.stringify(r.result)}`);
  }
});

test('a peer that dies: the survivor fails within the timeout, naming its rank', async () => {
  const [zero, one] = await runRanks('failures', 2, { args: { kind: 'dead-peer', timeout: 5000 }, timeoutMs: 30_000 });
  assert.equal(one.code, 3);
  assert.equal(zero.code, 0, zero.stderr);
  assert.match(zero.result.error ?? '', /allReduce failed on rank 0: .*(closed|reset|peer|Timed out)/i, JSON.stringify(zero.result));
  assert.ok(zero.result.seconds < 8, `took ${zero.result.seconds} s`);
});

test('a peer that never joins the collective: the other fails after the timeout (2 s)', async () => {
  const [zero] = await runRanks('failures', 2, { args: { kind: 'silent-peer', timeout: 2000 }, timeoutMs: 30_000 });
  assert.equal(zero.code, 0, zero.stderr);
  assert.match(zero.result.error ?? '', /allReduce failed on rank 0: .*Timed out/i, JSON.stringify(zero.result));
  assert.ok(zero.result.seconds >= 1.5 && zero.result.seconds < 6, `took ${zero.result.seconds} s`);
});

test('an unreachable master: rank 1 gives up after the timeout and says where it looked', async () => {
  const port = await freePort();
  const [zero, one] = await runRanks('failures', 2, { args: { kind: 'join', timeout: 2000 }, timeoutMs: 30_000, port, ranks: [{ env: { MASTER_PORT: String(port), RANK: '1' } }, { env: { RANK: '1' } }] });
  for (const r of [zero, one]) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.result.error ?? '', new RegExp(`rank 1 could not reach the master at 127.0.0.1:${port} within 2 s`), JSON.stringify(r.result));
    assert.ok(r.result.seconds < 10, `took ${r.result.seconds} s`);
  }
});

test('a port already in use: rank 0 says so', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const { port } = server.address() as { port: number };
  try {
    const [zero] = await runRanks('failures', 1, { args: { kind: 'join', timeout: 2000 }, timeoutMs: 30_000, port });
    assert.equal(zero.code, 0, zero.stderr);
    assert.match(zero.result.error ?? '', new RegExp(`port ${port} on 127.0.0.1 is already in use`), JSON.stringify(zero.result));
  } finally {
    server.close();
  }
});

test('DDP over models that differ between ranks is refused on every rank', async () => {
  const results = await runRanks('failures', 2, { args: { kind: 'ddp-models', timeout: 5000 }, timeoutMs: 30_000 });
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.match(results[1].result.error ?? '', /verifyParams: .*(shape|size)/i, `rank 1: ${JSON.stringify(results[1].result)}`);
  assert.match(results[0].result.error ?? '', /DistributedDataParallel: copying rank 0's parameters .* failed; a rank whose model differs/, `rank 0: ${JSON.stringify(results[0].result)}`);
});
