// Which examples each process of a distributed run visits, as
// torch.utils.data.distributed.DistributedSampler.
import { Random } from './random.js';

/** An order over a dataset's indices for one epoch; the DataLoader takes one as `sampler`. */
export interface Sampler extends Iterable<number> {
  /** Indices per epoch. */
  readonly length: number;
  /** Chooses the epoch whose order iteration yields; the DataLoader calls it at the start of every epoch. */
  setEpoch(epoch: number): void;
}

export interface DistributedSamplerOptions {
  /** Processes sharing the dataset (default: the default group's world size). */
  numReplicas: number;
  /** This process's shard, 0 … numReplicas−1. */
  rank: number;
  /** A fresh order every epoch, the same on every rank (default true). */
  shuffle?: boolean;
  /** Seeds the order; must be the same on every rank (default 0). */
  seed?: number;
  /**
   * Drops the tail so that every rank gets ⌊n / numReplicas⌋ indices; by
   * default the order is padded with its own first indices up to a multiple
   * of numReplicas, so every rank gets ⌈n / numReplicas⌉ and runs the same
   * number of steps.
   */
  dropLast?: boolean;
}

// The stream of the epoch orders, apart from the DataLoader's own streams.
const SAMPLER_STREAM = 2;

/**
 * Splits a dataset into `numReplicas` disjoint shards: every epoch one order
 * over all n indices (a permutation drawn from (seed, epoch) when shuffling),
 * padded or cut to a multiple of numReplicas, and rank r takes positions
 * r, r + numReplicas, r + 2·numReplicas, … of it. The shards of one epoch
 * are disjoint (up to the padding) and together cover the dataset.
 */
export class DistributedSampler implements Sampler {
  readonly numReplicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  private readonly size: number;
  private epoch = 0;

  constructor(dataset: { length: number }, options: DistributedSamplerOptions) {
    const { numReplicas, rank } = options ?? ({} as DistributedSamplerOptions);
    if (typeof dataset !== 'object' || dataset === null || !Number.isInteger(dataset.length) || dataset.length < 0)
      throw new TypeError('DistributedSampler: expected a dataset with an integer length');
    if (!Number.isInteger(numReplicas) || numReplicas < 1) throw new RangeError(`DistributedSampler: numReplicas must be a positive integer, got ${String(numReplicas)}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= numReplicas) throw new RangeError(`DistributedSampler: rank must be from 0 to ${numReplicas - 1}, got ${String(rank)}`);
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`DistributedSampler: seed must be a non-negative integer, got ${String(seed)}`);
    this.numReplicas = numReplicas;
    this.rank = rank;
    this.shuffle = options.shuffle ?? true;
    this.seed = seed;
    this.dropLast = options.dropLast ?? false;
    this.size = dataset.length;
    if (this.dropLast && this.size < numReplicas) throw new RangeError(`DistributedSampler: ${this.size} examples cannot give each of ${numReplicas} ranks one with dropLast`);
  }

  get length(): number {
    return this.dropLast ? Math.floor(this.size / this.numReplicas) : Math.ceil(this.size / this.numReplicas);
  }

  setEpoch(epoch: number): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`DistributedSampler.setEpoch: epoch must be a non-negative integer, got ${String(epoch)}`);
    this.epoch = epoch;
  }

  /** This rank's indices for the epoch last set. */
  indices(): Int32Array {
    const n = this.size;
    const order = this.shuffle ? new Random(this.seed, SAMPLER_STREAM, this.epoch).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const out = new Int32Array(this.length);
    // Position p of the padded order is order[p mod n]: padding repeats the order's start.
    for (let i = 0; i < out.length; i++) out[i] = order[(this.rank + i * this.numReplicas) % n];
    return out;
  }

  [Symbol.iterator](): Iterator<number> {
    return this.indices()[Symbol.iterator]();
  }
}
