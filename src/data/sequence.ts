// Sequences of token ids as tensors: right-padding, and batches by token
// count (Vaswani et al., 2017, §5.1), which every sequence-to-sequence and
// language-model task shares.
import { tensor } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { DataLoader, type Dataset } from './dataset.js';

/** A training pair: source token ids, and target ids from bos to eos. */
export interface SequencePair {
  src: readonly number[];
  tgt: readonly number[];
}

/** Sequences of ids as one int64 [N, L] tensor, right-padded with `padIdx`. */
export function padSequences(sequences: readonly (readonly number[])[], padIdx: number): Tensor {
  if (sequences.length === 0) throw new RangeError('padSequences: no sequences');
  const length = Math.max(...sequences.map((s) => s.length));
  if (length === 0) throw new RangeError('padSequences: every sequence is empty');
  const data = new Array<number>(sequences.length * length).fill(padIdx);
  sequences.forEach((s, i) => s.forEach((id, j) => (data[i * length + j] = id)));
  return tensor(data, { dtype: 'int64' }).view(sequences.length, length);
}

/**
 * Pairs in batches of about `maxTokens` padded source plus target tokens
 * (the paper's batching, §5.1): pairs of similar length together, each batch
 * one example of this dataset, so a DataLoader with batch size 1 shuffles the
 * batches' order every epoch and checkpoints where it stands. `get(i)` gives
 * [src [B, S], tgt [B, T]].
 */
export class TokenBatchDataset implements Dataset<Tensor[]> {
  readonly batches: readonly number[][];

  constructor(
    readonly pairs: readonly SequencePair[],
    readonly maxTokens: number,
    readonly padIdx = 0,
  ) {
    if (pairs.length === 0) throw new RangeError('TokenBatchDataset: no pairs');
    pairs.forEach((p, i) => {
      if (p.src.length === 0 || p.tgt.length < 2) throw new RangeError(`TokenBatchDataset: pair ${i} needs a non-empty source and a target of at least bos and eos, got ${p.src.length} and ${p.tgt.length} tokens`);
    });
    this.batches = tokenBatches(pairs.map((p) => ({ src: p.src.length, tgt: p.tgt.length })), maxTokens);
  }

  get length(): number {
    return this.batches.length;
  }

  get(index: number): Tensor[] {
    const batch = this.batches[index];
    if (batch === undefined) throw new RangeError(`TokenBatchDataset.get: index ${index} is out of range for ${this.batches.length} batches`);
    return [padSequences(batch.map((i) => this.pairs[i].src), this.padIdx), padSequences(batch.map((i) => this.pairs[i].tgt), this.padIdx)];
  }
}

/** A loader over the batches of a TokenBatchDataset, their order shuffled every epoch. */
export function tokenBatchLoader(dataset: TokenBatchDataset, seed: number): DataLoader {
  return new DataLoader(dataset, { batchSize: 1, shuffle: true, seed, collate: (items) => items[0] });
}

/**
 * Batches by token count (the paper's batching, §5.1): the pairs sorted by
 * length, cut into runs whose padded source plus target tokens stay within
 * `maxTokens`. Returns each batch's pair indices, shortest first.
 */
export function tokenBatches(lengths: readonly { src: number; tgt: number }[], maxTokens: number): number[][] {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`tokenBatches: maxTokens must be a positive integer, got ${maxTokens}`);
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a].src - lengths[b].src || lengths[a].tgt - lengths[b].tgt || a - b);
  const batches: number[][] = [];
  let batch: number[] = [];
  let [maxSrc, maxTgt] = [0, 0];
  for (const i of order) {
    const [s, t] = [Math.max(maxSrc, lengths[i].src), Math.max(maxTgt, lengths[i].tgt)];
    if (batch.length > 0 && (batch.length + 1) * (s + t) > maxTokens) {
      batches.push(batch);
      batch = [];
      [maxSrc, maxTgt] = [0, 0];
    }
    batch.push(i);
    maxSrc = Math.max(maxSrc, lengths[i].src);
    maxTgt = Math.max(maxTgt, lengths[i].tgt);
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
