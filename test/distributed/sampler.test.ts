// DistributedSampler: disjoint shards that cover the dataset, the same number
// of steps on every rank, a fresh order per epoch, and exact resumption.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { arange, scope } from '../../src/index.js';
import { DataLoader, TensorDataset } from '../../src/data/dataset.js';
import { DistributedSampler } from '../../src/data/sampler.js';

test('shards are disjoint, cover the dataset and pad with the order’s start (10 examples, 3 ranks)', () => {
  const shards = [0, 1, 2].map((rank) => new DistributedSampler({ length: 10 }, { numReplicas: 3, rank, seed: 5 }));
  const lists = shards.map((s) => [...s]);
  for (const l of lists) assert.equal(l.length, 4);
  const all = lists.flat();
  assert.deepEqual([...new Set(all)].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(all.length - new Set(all).size, 2, 'two indices repeat, as padding');
  const dropped = [0, 1, 2].map((rank) => [...new DistributedSampler({ length: 10 }, { numReplicas: 3, rank, seed: 5, dropLast: true })]);
  assert.deepEqual(dropped.map((l) => l.length), [3, 3, 3]);
  assert.equal(new Set(dropped.flat()).size, 9);
});

test('setEpoch reshuffles the same way on every rank; shuffle false keeps the order', () => {
  const s = new DistributedSampler({ length: 100 }, { numReplicas: 2, rank: 1, seed: 3 });
  const first = [...s];
  s.setEpoch(1);
  const second = [...s];
  assert.notDeepEqual(first, second);
  const again = new DistributedSampler({ length: 100 }, { numReplicas: 2, rank: 1, seed: 3 });
  again.setEpoch(1);
  assert.deepEqual([...again], second);
  const plain = new DistributedSampler({ length: 5 }, { numReplicas: 2, rank: 0, shuffle: false });
  assert.deepEqual([...plain], [0, 2, 4]);
});

test('a DataLoader with a sampler visits that shard, sets the epoch itself and resumes mid-epoch', () => {
  scope(() => {
    const data = new TensorDataset(arange(20));
    const sampler = new DistributedSampler(data, { numReplicas: 2, rank: 0, seed: 9 });
    const loader = new DataLoader(data, { batchSize: 4, sampler });
    assert.equal(loader.length, 3);
    const epoch0 = [...loader].map(([x]) => Array.from(x.toTypedArray(), Number));
    assert.deepEqual(epoch0.flat(), [...sampler.indices()].slice(0, 10).map((i) => i));
    const it = loader[Symbol.iterator]();
    const firstOfEpoch1 = Array.from(it.next().value![0].toTypedArray(), Number);
    const state = loader.stateDict();
    const rest = [...{ [Symbol.iterator]: () => it }].map(([x]) => Array.from(x.toTypedArray(), Number));
    assert.notDeepEqual([firstOfEpoch1, ...rest].flat(), epoch0.flat(), 'epoch 1 has another order');
    const resumed = new DataLoader(data, { batchSize: 4, sampler: new DistributedSampler(data, { numReplicas: 2, rank: 0, seed: 9 }) });
    resumed.loadStateDict(state);
    assert.deepEqual([...resumed].map(([x]) => Array.from(x.toTypedArray(), Number)), rest);
  });
});
