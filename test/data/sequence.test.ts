// Sequences as tensors: padding, batches by token count, and their loader.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { padSequences, tokenBatches, TokenBatchDataset, tokenBatchLoader } from '../../src/data/sequence.js';
import { assertThrowsWith } from '../helpers.js';

test('tokenBatches: every pair once, padded tokens within the budget, similar lengths together', () => {
  const lengths = Array.from({ length: 500 }, (_, i) => ({ src: 2 + ((i * 7) % 13), tgt: 3 + ((i * 5) % 11) }));
  const batches = tokenBatches(lengths, 200);
  assert.deepEqual(batches.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
  for (const batch of batches) {
    const padded = batch.length * (Math.max(...batch.map((i) => lengths[i].src)) + Math.max(...batch.map((i) => lengths[i].tgt)));
    assert.ok(padded <= 200 || batch.length === 1, `a batch of ${batch.length} pairs pads to ${padded} tokens`);
  }
  const longest = (batch: number[]) => Math.max(...batch.map((i) => lengths[i].src));
  for (let j = 1; j < batches.length; j++) assert.ok(longest(batches[j - 1]) <= longest(batches[j]), `batch ${j} is shorter than batch ${j - 1}`);
  assertThrowsWith(() => tokenBatches(lengths, 0), /maxTokens must be a positive integer/);
});

test('padSequences right-pads with the padding id; TokenBatchDataset keeps every pair once within the token budget', () => {
  const padded = padSequences([[5, 6, 7], [8]], 0);
  assert.deepEqual(padded.toArray(), [[5, 6, 7], [8, 0, 0]]);
  padded.dispose();
  const pairs = Array.from({ length: 50 }, (_, i) => ({ src: Array.from({ length: 2 + (i % 7) }, () => 3), tgt: [1, ...Array.from({ length: 1 + (i % 5) }, () => 40), 2] }));
  const dataset = new TokenBatchDataset(pairs, 60);
  assert.deepEqual(dataset.batches.flat().sort((a, b) => a - b), pairs.map((_, i) => i));
  for (let i = 0; i < dataset.length; i++) {
    const [src, tgt] = dataset.get(i);
    assert.equal(src.dtype, 'int64');
    assert.equal(src.shape[0], tgt.shape[0]);
    assert.ok(src.shape[0] * (src.shape[1] + tgt.shape[1]) <= 60, `batch ${i}: ${src.shape} + ${tgt.shape} exceeds 60 tokens`);
    src.dispose();
    tgt.dispose();
  }
  assertThrowsWith(() => new TokenBatchDataset([{ src: [], tgt: [1, 2] }], 60), /pair 0 needs a non-empty source/);
  assertThrowsWith(() => dataset.get(dataset.length), /out of range/);
});

test('the loader hands out each batch once per epoch, in an order that changes between epochs', () => {
  const pairs = Array.from({ length: 40 }, (_, i) => ({ src: [3 + (i % 20)], tgt: [1, 40, 2] }));
  const loader = tokenBatchLoader(new TokenBatchDataset(pairs, 16), 0);
  const epoch = () => [...loader].map(([src, tgt]) => {
    const first = src.toArray() as number[][];
    src.dispose();
    tgt.dispose();
    return first.map((r) => r[0]).join(',');
  });
  const [a, b] = [epoch(), epoch()];
  assert.equal(a.length, loader.length);
  assert.deepEqual([...a].sort(), [...b].sort());
  assert.notDeepEqual(a, b);
});
