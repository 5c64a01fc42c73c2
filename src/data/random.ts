// A small seeded random number generator in JavaScript for the data pipeline:
// shuffling orders and augmentation draws that must repeat exactly, and that
// must not disturb (or be disturbed by) libtorch's default generator, which
// the model's own randomness (dropout, initialisation) draws from.
//
// The generator is xoshiro128** (Blackman & Vigna, "Scrambled linear
// pseudorandom number generators", 2018): four 32-bit words of state, fast
// with Math.imul, and good enough for shuffles and crop offsets. Seeds are
// spread over the state with SplitMix32-style mixing so that nearby seeds,
// or the same seed with different stream numbers, give unrelated sequences.

const TWO_32 = 4294967296;

// A 32-bit finaliser (a variant of MurmurHash3's fmix32): every input bit
// affects every output bit.
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function checkWord(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
}

/** The state of a `Random`, four unsigned 32-bit words, for checkpoints. */
export type RandomState = readonly [number, number, number, number];

/**
 * A seeded generator. `new Random(seed, ...stream)` gives one independent
 * sequence per (seed, stream) pair: a loader uses the stream numbers for the
 * epoch and the batch, so every batch's draws are known without replaying
 * the ones before it.
 */
export class Random {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed: number, ...stream: number[]) {
    checkWord('Random: seed', seed);
    for (const s of stream) checkWord('Random: stream numbers', s);
    // Absorb every 32-bit half of the seed and the stream numbers into a
    // running hash, then draw the four state words from it.
    let h = 0x9e3779b9;
    for (const value of [seed, ...stream]) {
      h = mix32(h ^ (value >>> 0));
      h = mix32((h + 0x9e3779b9 + Math.floor(value / TWO_32)) >>> 0);
    }
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      h = (h + 0x9e3779b9) >>> 0;
      words.push(mix32(h));
    }
    // xoshiro's only forbidden state is all zeros.
    if (!words.some((w) => w !== 0)) words[0] = 1;
    [this.s0, this.s1, this.s2, this.s3] = words;
  }

  /** A uniform integer in [0, 2³²). */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform number in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.uint32() / TWO_32;
  }

  /** A uniform integer in [0, n), without modulo bias; n at most 2³². */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) throw new RangeError(`Random.int: n must be an integer in [1, 2^32], got ${String(n)}`);
    // Reject the top partial copy of [0, n) so every residue is equally likely.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform random permutation of 0 … n−1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`Random.permutation: n must be an integer in [0, 2^31), got ${String(n)}`);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  /** A standard normal number (Box–Muller, two uniform draws per number). */
  normal(): number {
    const u = 1 - this.float(); // (0, 1], so the logarithm is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /**
   * A Gamma(shape, 1) number by Marsaglia and Tsang ("A simple method for
   * generating gamma variables", 2000); a shape below 1 is boosted with
   * Gamma(shape + 1)·U^(1/shape).
   */
  gamma(shape: number): number {
    if (!(shape > 0 && Number.isFinite(shape))) throw new RangeError(`Random.gamma: shape must be a finite number > 0, got ${String(shape)}`);
    if (shape < 1) return this.gamma(shape + 1) * (1 - this.float()) ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.float();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /** A Beta(a, b) number, as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    return x / (x + this.gamma(b));
  }

  /** The current state; `setState` on any `Random` continues the sequence from here. */
  getState(): RandomState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  setState(state: RandomState): void {
    if (!Array.isArray(state) || state.length !== 4 || state.some((w) => !Number.isInteger(w) || w < 0 || w >= TWO_32))
      throw new TypeError(`Random.setState: expected four unsigned 32-bit integers, got ${JSON.stringify(state)}`);
    if (!state.some((w) => w !== 0)) throw new RangeError('Random.setState: the all-zero state is not a valid xoshiro128** state');
    [this.s0, this.s1, this.s2, this.s3] = state;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
