// Decoding with the paper's model (Vaswani et al., 2017, §6.1): greedy, and
// beam search with the length penalty of Wu et al. (2016), lp(Y) =
// ((5 + |Y|)/6)^α, a maximum output length of the input's plus 50 and early
// termination — batched over inputs and beams, on the incremental decoder
// (each step one layer call per layer, the keys and values of earlier steps
// cached), so a sequence of T tokens costs O(T) layer calls.
import { noGrad } from '../tensor/autograd.js';
import { tensor } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import type { DecoderLayerCache } from '../nn/transformer.js';
import type { TransformerModel } from './transformer.js';

export interface DecodeOptions {
  /** The start-of-sequence token fed at position 0. */
  bos: number;
  /** The end-of-sequence token; decoding of a sequence stops when it is produced. */
  eos: number;
  /** The longest output, in tokens after bos, per input: the input's length (without padding) plus this (the paper: 50). */
  maxExtraLength?: number;
  /** A cap on every output's length as well (tokens after bos, eos included), e.g. a fixed budget of new tokens. */
  maxLength?: number;
  /**
   * The tokens the output may hold (eos is always allowed), when the target
   * side uses part of a shared vocabulary; by default every token but
   * padding and bos.
   */
  allowedTokens?: readonly number[];
}

export interface BeamSearchOptions extends DecodeOptions {
  /** Hypotheses kept per input (the paper: 4). */
  beamSize?: number;
  /** α of the length penalty ((5 + |Y|)/6)^α (the paper: 0.6); 0 for none. */
  alpha?: number;
}

export interface Hypothesis {
  /** The output tokens, without bos and eos. */
  tokens: number[];
  /** log P(Y | X) of the tokens and eos (or of the tokens when cut at the maximum length). */
  logProb: number;
  /** logProb / lp(Y), what beam search ranks by. */
  score: number;
}

/** ((5 + length)/6)^α, length counting the output tokens and eos. */
export function lengthPenalty(length: number, alpha: number): number {
  return ((5 + length) / 6) ** alpha;
}

function checkOptions(where: string, model: TransformerModel, src: Tensor, o: DecodeOptions): number[] {
  const vocab = model.config.tgtVocab;
  for (const key of ['bos', 'eos'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0 || o[key] >= vocab) throw new RangeError(`${where}: ${key} must be a target token id in [0, ${vocab}), got ${describeValue(o[key])}`);
  }
  if (o.allowedTokens !== undefined && (!Array.isArray(o.allowedTokens) || o.allowedTokens.some((t) => !Number.isInteger(t) || t < 0 || t >= vocab)))
    throw new RangeError(`${where}: allowedTokens must be target token ids in [0, ${vocab})`);
  const extra = o.maxExtraLength ?? 50;
  if (!Number.isInteger(extra) || extra < 1) throw new RangeError(`${where}: maxExtraLength must be a positive integer, got ${describeValue(extra)}`);
  const cap = o.maxLength ?? Infinity;
  if (cap !== Infinity && (!Number.isInteger(cap) || cap < 1)) throw new RangeError(`${where}: maxLength must be a positive integer, got ${describeValue(cap)}`);
  if (!(src instanceof Tensor) || src.ndim !== 2) throw new RangeError(`${where}: src must be [N, S] token ids, got ${describeValue(src)}`);
  // Each input's length without padding, plus the allowance, within the position encodings.
  const lengths = scope(() => src.ne(model.config.padIdx).sum(1).toArray() as number[]);
  return lengths.map((l) => Math.min(l + extra, cap, model.config.maxLen - 1));
}

/**
 * Greedy decoding: at each step the most probable allowed token, until eos
 * or the maximum length. src [N, S] → one hypothesis per input (the same as
 * beam search with a beam of 1 and no length penalty, without its
 * bookkeeping). Runs in evaluation mode without gradients.
 */
export function greedyDecode(model: TransformerModel, src: Tensor, options: DecodeOptions): Hypothesis[] {
  const maxLengths = checkOptions('greedyDecode', model, src, options);
  const { bos, eos } = options;
  const N = src.shape[0];
  const wasTraining = model.training;
  model.eval();
  const caches = model.newCache();
  const kept: Tensor[] = [];
  try {
    return noGrad(() => {
      const { memory, padding } = model.encode(src);
      const forbidden = forbiddenRow(model, options).keep();
      kept.push(memory.keep(), padding.keep(), forbidden);
      const out: Hypothesis[] = Array.from({ length: N }, () => ({ tokens: [], logProb: 0, score: 0 }));
      const done = new Array<boolean>(N).fill(false);
      let last = new Array<number>(N).fill(bos);
      for (let t = 0; done.some((d) => !d); t++) {
        const [values, indices] = scope(() => {
          const logits = model.decodeStep(tensor(last, { dtype: 'int64' }), t, memory, padding, caches); // (N, V)
          const best = F.logSoftmax(logits, -1).add(forbidden).max(1);
          return [best.values.toArray() as number[], best.indices.toArray() as number[]];
        });
        for (let n = 0; n < N; n++) {
          if (done[n]) continue;
          out[n].logProb += values[n];
          if (indices[n] === eos) done[n] = true;
          else out[n].tokens.push(indices[n]);
          if (t + 1 >= maxLengths[n]) done[n] = true;
        }
        last = indices;
      }
      for (const h of out) h.score = h.logProb;
      return out;
    });
  } finally {
    for (const cache of caches) cache.dispose();
    for (const t of kept) t.dispose();
    model.train(wasTraining);
  }
}

// An additive (V,) row: 0 at the tokens the output may hold, −∞ elsewhere (padding and bos unless allowedTokens says otherwise).
function forbiddenRow(model: TransformerModel, options: DecodeOptions): Tensor {
  const { bos, eos } = options;
  const allowed = options.allowedTokens === undefined ? null : new Set(options.allowedTokens);
  const forbids = (v: number) => v !== eos && (allowed === null ? v === model.config.padIdx || v === bos : !allowed.has(v));
  return tensor(Float32Array.from({ length: model.config.tgtVocab }, (_, v) => (forbids(v) ? -Infinity : 0)));
}

/**
 * Beam search as the paper's (beam 4, α 0.6 by default): each step extends
 * every live hypothesis of every input by every allowed token (all but padding and bos by default), keeps the beamSize
 * best live extensions per input and sets aside those ending in eos; an
 * input is done when its finished hypotheses fill the beam and no live one
 * can still beat the worst of them (its log-probability only falls, and
 * the length penalty is largest at the maximum length), or at the maximum
 * length. src [N, S] → the best hypothesis per input by logProb / lp.
 */
export function beamSearch(model: TransformerModel, src: Tensor, options: BeamSearchOptions): Hypothesis[] {
  const where = 'beamSearch';
  const maxLengths = checkOptions(where, model, src, options);
  const K = options.beamSize ?? 4;
  const alpha = options.alpha ?? 0.6;
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`${where}: beamSize must be a positive integer, got ${describeValue(K)}`);
  if (!(alpha >= 0)) throw new RangeError(`${where}: alpha must be ≥ 0, got ${describeValue(alpha)}`);
  const { bos, eos } = options;
  const N = src.shape[0];
  const V = model.config.tgtVocab;
  const wasTraining = model.training;
  model.eval();
  const caches: DecoderLayerCache[] = model.newCache();
  const kept: Tensor[] = [];
  try {
    return noGrad(() => {
      // Every input's memory repeated for its K beams: row n·K + k.
      const encoded = model.encode(src);
      const memory = scope(() => encoded.memory.repeatInterleave(K, 0)).keep();
      const padding = scope(() => encoded.padding.repeatInterleave(K, 0)).keep();
      encoded.memory.dispose();
      encoded.padding.dispose();
      kept.push(memory, padding);
      let alive: { tokens: number[]; logProb: number }[][] = Array.from({ length: N }, () =>
        Array.from({ length: K }, (_, k) => ({ tokens: [], logProb: k === 0 ? 0 : -Infinity })),
      );
      const finished: Hypothesis[][] = Array.from({ length: N }, () => []);
      const done = new Array<boolean>(N).fill(false);
      let last = Array.from({ length: N * K }, () => bos);
      const longest = Math.max(...maxLengths);
      const forbidden = forbiddenRow(model, options).keep();
      kept.push(forbidden);
      for (let t = 0; t < longest && done.some((d) => !d); t++) {
        // The 2K best extensions per input (at most K of them end in eos, one per beam, so K live ones remain).
        const width = Math.min(2 * K, K * V);
        const [values, indices] = scope(() => {
          const logits = model.decodeStep(tensor(last, { dtype: 'int64' }), t, memory, padding, caches); // (N·K, V)
          // Forbidden tokens are never generated (their log-probabilities set to −∞ after the softmax).
          const logp = F.logSoftmax(logits, -1).add(forbidden);
          const total = logp.add(tensor(alive.flat().map((h) => h.logProb)).unsqueeze(1)).view(N, K * V);
          const best = total.topk(width, { dim: 1 });
          return [best.values.toArray() as number[][], best.indices.toArray() as number[][]];
        });
        const nextAlive: typeof alive = [];
        const origins: number[] = [];
        const nextLast: number[] = [];
        for (let n = 0; n < N; n++) {
          const candidates = done[n] ? [] : values[n].map((logProb, j) => ({ beam: Math.floor(indices[n][j] / V), token: indices[n][j] % V, logProb })).filter((c) => c.logProb > -Infinity);
          const beams: { tokens: number[]; logProb: number }[] = [];
          const atLimit = t + 1 >= maxLengths[n];
          for (const c of candidates) {
            if (beams.length === K) break;
            const tokens = [...alive[n][c.beam].tokens, c.token];
            if (c.token === eos || atLimit) {
              // Ends here: with eos, or cut at the maximum length (then scored as it stands).
              finished[n].push({ tokens: c.token === eos ? tokens.slice(0, -1) : tokens, logProb: c.logProb, score: c.logProb / lengthPenalty(tokens.length, alpha) });
              if (atLimit && finished[n].length >= K) break;
              continue;
            }
            beams.push({ tokens, logProb: c.logProb });
            origins.push(n * K + c.beam);
            nextLast.push(c.token);
          }
          finished[n].sort((a, b) => b.score - a.score);
          finished[n].splice(K);
          // Pad the beam with dead hypotheses so every input keeps K rows.
          while (beams.length < K) {
            beams.push({ tokens: [], logProb: -Infinity });
            origins.push(n * K);
            nextLast.push(eos);
          }
          nextAlive.push(beams);
          const bestAlive = beams[0].logProb;
          const bound = bestAlive / lengthPenalty(maxLengths[n], alpha); // the best score a live hypothesis could still reach (log-probabilities are ≤ 0)
          if (atLimit || bestAlive === -Infinity || (finished[n].length >= K && bound <= finished[n][K - 1].score)) done[n] = true;
        }
        alive = nextAlive;
        last = nextLast;
        const index = tensor(origins, { dtype: 'int64' });
        for (const cache of caches) cache.select(index);
        index.dispose();
      }
      return finished.map((hypotheses, n) => {
        if (hypotheses.length > 0) return hypotheses[0];
        const best = alive[n][0];
        return { tokens: best.tokens, logProb: best.logProb, score: best.logProb / lengthPenalty(best.tokens.length, alpha) };
      });
    });
  } finally {
    for (const cache of caches) cache.dispose();
    for (const t of kept) t.dispose();
    model.train(wasTraining);
  }
}
