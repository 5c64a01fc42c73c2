// Evaluation split over the ranks of a process group so that the result
// equals a single process's: the examples are cut into chunks of a fixed
// size, every chunk is evaluated on its own from its own seed, rank r of W
// takes chunks r, r + W, r + 2W, …, and the chunks' results are merged in
// chunk order on every rank. A single process runs the same chunks itself.
import { allGatherObject, allReduce, isInitialized, getWorldSize } from './process-group.js';
import type { Tensor } from '../tensor/tensor.js';

export interface Chunk {
  index: number;
  start: number;
  length: number;
}

/** This rank's chunks of n examples cut every `size`. */
export function shardChunks(n: number, size: number, rank: number, worldSize: number): Chunk[] {
  const chunks: Chunk[] = [];
  for (let index = rank, start = rank * size; start < n; index += worldSize, start += worldSize * size) {
    chunks.push({ index, start, length: Math.min(size, n - start) });
  }
  return chunks;
}

/** The seed of chunk k of an evaluation seeded with `seed`. */
export function chunkSeed(seed: number, index: number): number {
  return seed * 1_000_003 + index;
}

/** Every chunk's value, in chunk order, on every rank (JSON between ranks). */
export async function gatherChunks<T>(mine: { index: number; value: T }[]): Promise<T[]> {
  let all = mine;
  if (isInitialized() && getWorldSize() > 1) {
    const lists: unknown[] = new Array(getWorldSize());
    await allGatherObject(lists, mine);
    all = (lists as { index: number; value: T }[][]).flat();
  }
  return [...all].sort((a, b) => a.index - b.index).map((c) => c.value);
}

/**
 * Completes a tensor whose rows each rank filled for its own chunks (zeros
 * elsewhere): summed over ranks, in place. Adding zeros is exact.
 */
export async function completeRows(t: Tensor): Promise<void> {
  if (isInitialized() && getWorldSize() > 1) await allReduce(t);
}
