import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DataLoader, Random, TensorDataset, randomCrop, randomHorizontalFlip, type Dataset } from '../../src/data/index.js';
import { arange, liveTensors, manualSeed, rand, scope, tensor, Tensor } from '../../src/index.js';

// 103 examples: not a multiple of the batch size 10, so the last batch has 3.
const N = 103;

function ids(t: Tensor): number[] {
  return Array.from(t.toTypedArray() as BigInt64Array, Number);
}

/** The example ids of every batch of one epoch (the dataset's first field is arange(N)). */
function epochBatches(loader: Iterable<Tensor[]>): number[][] {
  const out: number[][] = [];
  for (const batch of loader) {
    out.push(ids(batch[0]));
    for (const t of batch) t.dispose();
  }
  return out;
}

async function epochBatchesAsync(loader: AsyncIterable<Tensor[]>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const batch of loader) {
    out.push(ids(batch[0]));
    for (const t of batch) t.dispose();
  }
  return out;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('TensorDataset serves rows and gathers batches', () => {
  const x = arange(12).reshape(6, 2);
  const y = arange(6).mul(10);
  const ds = new TensorDataset(x, y);
  assert.equal(ds.length, 6);
  assert.deepEqual(ds.get(2).map((t) => t.toArray()), [[4, 5], 20]);
  const [bx, by] = ds.getBatch(tensor([5, 0], { dtype: 'int64' }));
  assert.deepEqual(bx.toArray(), [[10, 11], [0, 1]]);
  assert.deepEqual(by.toArray(), [50, 0]);
  assert.throws(() => ds.get(6), /index 6 is out of range for a dataset of length 6/);
  assert.throws(() => new TensorDataset(x, arange(5)), /must share their first dimension/);
});

test('a shuffled epoch covers every index exactly once, and epochs differ', () => {
  const loader = new DataLoader(new TensorDataset(arange(N)), { batchSize: 10, shuffle: true, seed: 7 });
  assert.equal(loader.length, 11);
  const first = epochBatches(loader);
  assert.deepEqual(first.map((b) => b.length), [...new Array(10).fill(10), 3]);
  assert.deepEqual(sorted(first.flat()), range(N));
  assert.notDeepEqual(first.flat(), range(N), 'shuffled');
  const second = epochBatches(loader);
  assert.deepEqual(sorted(second.flat()), range(N));
  assert.notDeepEqual(second.flat(), first.flat(), 'a new order each epoch');
  assert.deepEqual(loader.stateDict(), { seed: 7, epoch: 2, batch: 0 });
  assert.deepEqual(first.flat(), Array.from(loader.epochOrder(0)));
});

test('the same seed gives the same order, another seed another', () => {
  const make = (seed: number) => new DataLoader(new TensorDataset(arange(N)), { batchSize: 16, shuffle: true, seed });
  assert.deepEqual(epochBatches(make(3)), epochBatches(make(3)));
  assert.notDeepEqual(epochBatches(make(3)), epochBatches(make(4)));
  // An unseeded loader draws its seed from libtorch's generator, so manualSeed fixes it.
  manualSeed(11);
  const a = new DataLoader(new TensorDataset(arange(N)), { shuffle: true }).stateDict().seed;
  manualSeed(11);
  assert.equal(new DataLoader(new TensorDataset(arange(N)), { shuffle: true }).stateDict().seed, a);
});

test('without shuffle the examples come in order', () => {
  const loader = new DataLoader(new TensorDataset(arange(N)), { batchSize: 25 });
  assert.deepEqual(epochBatches(loader).flat(), range(N));
});

test('dropLast leaves out the short last batch', () => {
  const loader = new DataLoader(new TensorDataset(arange(N)), { batchSize: 10, shuffle: true, seed: 1, dropLast: true });
  assert.equal(loader.length, 10);
  const batches = epochBatches(loader);
  assert.deepEqual(batches.map((b) => b.length), new Array(10).fill(10));
  const seen = batches.flat();
  assert.equal(new Set(seen).size, 100);
  // The 3 dropped examples are the last three of this epoch's order.
  assert.deepEqual(sorted(Array.from(loader.epochOrder(0).subarray(100))), sorted(range(N).filter((i) => !seen.includes(i))));
});

test('a loader restored from its state dict continues the epoch exactly, transform draws included', () => {
  const images = scope(() => rand([N, 1, 8, 8]).keep());
  const augment = ([x, id]: Tensor[], rng: Random) => [randomHorizontalFlip(randomCrop(x, 8, { padding: 2, rng }), { rng }), id];
  const make = () => new DataLoader(new TensorDataset(images, arange(N)), { batchSize: 10, shuffle: true, seed: 5, transform: augment });
  // The reference: epoch 0 and epoch 1, uninterrupted.
  const reference: Tensor[][] = [];
  const ref = make();
  for (let e = 0; e < 2; e++) for (const batch of ref) reference.push(batch);
  // Stop after 4 batches of epoch 1, save the state, resume in a new loader.
  const first = make();
  epochBatches(first);
  let saved = first.stateDict();
  let taken = 0;
  for (const batch of first) {
    for (const t of batch) t.dispose();
    if (++taken === 4) {
      saved = first.stateDict();
      break;
    }
  }
  assert.deepEqual(saved, { seed: 5, epoch: 1, batch: 4 });
  const resumed = make();
  resumed.loadStateDict(saved);
  let k = 11 + 4; // epoch 0's 11 batches, then 4 of epoch 1
  for (const [x, id] of resumed) {
    assert.deepEqual(ids(id), ids(reference[k][1]), `batch ${k} ids`);
    assert.ok(x.equal(reference[k][0]), `batch ${k} augmented images`);
    x.dispose();
    id.dispose();
    k++;
  }
  assert.equal(k, 22);
  for (const batch of reference) for (const t of batch) t.dispose();
  images.dispose();
});

test('breaking out ends the epoch; the next loop starts the next one', () => {
  const loader = new DataLoader(new TensorDataset(arange(N)), { batchSize: 10, shuffle: true, seed: 2 });
  for (const batch of loader) {
    for (const t of batch) t.dispose();
    break;
  }
  assert.deepEqual(loader.stateDict(), { seed: 2, epoch: 1, batch: 0 });
  assert.deepEqual(epochBatches(loader).flat(), Array.from(loader.epochOrder(1)));
});

test('the async iterator gives the same batches as the sync one', async () => {
  const make = () => new DataLoader(new TensorDataset(arange(N)), { batchSize: 10, shuffle: true, seed: 9 });
  assert.deepEqual(await epochBatchesAsync(make()), epochBatches(make()));
  const dropping = new DataLoader(new TensorDataset(arange(N)), { batchSize: 10, dropLast: true });
  assert.deepEqual((await epochBatchesAsync(dropping)).flat(), range(100));
});

test('the async iterator prepares the next batch while the consumer awaits I/O, and frees it on break', async () => {
  const inner = new TensorDataset(arange(N));
  let gathered = 0;
  const counting = { length: inner.length, get: (i: number) => inner.get(i), getBatch: (idx: Tensor) => (gathered++, inner.getBatch(idx)) };
  const loader = new DataLoader(counting, { batchSize: 10 });
  const before = liveTensors();
  let step = 0;
  for await (const [x] of loader) {
    assert.equal(gathered, step + 1, 'only the batch in hand has been made');
    // A timer stands in for awaited I/O: the prefetch runs meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(gathered, step + 2, 'the next batch was made while the consumer waited');
    x.dispose();
    if (++step === 3) break;
  }
  // The prefetched fourth batch was disposed by the break.
  assert.equal(liveTensors(), before);
});

test('an epoch leaves no tensor behind once its batches are disposed', () => {
  const data = new TensorDataset(rand([N, 3]), arange(N));
  const loader = new DataLoader(data, { batchSize: 8, shuffle: true, seed: 4 });
  const before = liveTensors();
  epochBatches(loader);
  assert.equal(liveTensors(), before);
});

test('a dataset without getBatch is read example by example and stacked', () => {
  const data = new TensorDataset(arange(N), arange(N).mul(2));
  const plain: Dataset = { length: data.length, get: (i) => data.get(i) };
  const fast = new DataLoader(data, { batchSize: 10, shuffle: true, seed: 6 });
  const slow = new DataLoader(plain, { batchSize: 10, shuffle: true, seed: 6 });
  const a = [...slow];
  const b = [...fast];
  assert.equal(a.length, b.length);
  a.forEach((batch, k) => batch.forEach((t, f) => assert.ok(t.equal(b[k][f]), `batch ${k} field ${f}`)));
  const numbers: Dataset<number[]> = { length: 3, get: (i) => [i] };
  assert.throws(() => [...new DataLoader(numbers)], /field 0 of example 0 in this batch is not a Tensor; pass a collate function/);
});

test('bad options and states are refused', () => {
  const data = new TensorDataset(arange(N));
  assert.throws(() => new DataLoader(data, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  assert.throws(() => new DataLoader(data, { seed: -1 }), /seed must be a non-negative integer/);
  assert.throws(() => new DataLoader({} as Dataset), /expected a dataset with an integer length and a get\(index\) method/);
  const loader = new DataLoader(data, { batchSize: 10 });
  assert.throws(() => loader.loadStateDict({ seed: 1, epoch: 0, batch: 12 }), /batch 12 is past the 11 batches of an epoch/);
  assert.throws(() => loader.loadStateDict({ seed: 1, epoch: -1, batch: 0 }), /epoch must be a non-negative integer/);
});

test('Random: a seed and stream repeat, the state restores, draws are in range', () => {
  const a = new Random(123, 4);
  const b = new Random(123, 4);
  const xs = Array.from({ length: 5 }, () => a.uint32());
  assert.deepEqual(Array.from({ length: 5 }, () => b.uint32()), xs);
  assert.notDeepEqual(Array.from({ length: 5 }, () => new Random(123, 5).uint32()), xs);
  const state = a.getState();
  const next = [a.float(), a.int(7)];
  const c = new Random(0);
  c.setState(state);
  assert.deepEqual([c.float(), c.int(7)], next);
  // 7,000 draws of int(7): each value's count has sd sqrt(7000·(1/7)·(6/7)) ≈ 29; 1000 ± 150 is 5 sd.
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 7000; i++) counts[c.int(7)]++;
  for (const n of counts) assert.ok(Math.abs(n - 1000) < 150, `counts ${counts}`);
  assert.deepEqual(sorted(Array.from(c.permutation(50))), range(50));
});
