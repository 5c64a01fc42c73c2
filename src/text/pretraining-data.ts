// BERT's pre-training data, as Google's create_pretraining_data.py makes it
// (Devlin et al. 2019, §3.1 and Appendix A.1): documents split into
// sentences; sequence pairs that fill a maximum length (a shorter target, to
// match fine-tuning, with probability 0.1); segment B the actual next text
// half of the time and text from another document otherwise (next-sentence
// prediction); and the masked-LM selection: 15% of the tokens (at most
// maxPredictions, never [CLS], [SEP] or [PAD]), of which 80% become [MASK],
// 10% a random token and 10% stay as they are.
import type { Random } from '../data/random.js';
import type { BertTokenizer } from './bert-tokenizer.js';

/** A document as sentences of token ids. */
export type TokenizedDocument = number[][];

/** Sentences of a text, by Unicode's sentence boundaries (Intl.Segmenter), blank ones dropped. */
export function splitSentences(text: string): string[] {
  const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
  const sentences: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    const s = segment.trim();
    if (s.length > 0) sentences.push(s);
  }
  return sentences;
}

/** Documents as sentences of WordPiece ids; sentences with no tokens and documents with no sentences are dropped. */
export function tokenizeDocuments(texts: readonly string[], tokenizer: BertTokenizer): TokenizedDocument[] {
  return texts.map((text) => splitSentences(text).map((s) => tokenizer.encodeText(s)).filter((s) => s.length > 0)).filter((d) => d.length > 0);
}

/** One next-sentence-prediction pair: the two segments' ids and whether B was drawn from another document. */
export interface SentencePair {
  a: number[];
  b: number[];
  isRandomNext: boolean;
}

export interface PairOptions {
  /** Tokens per sequence, [CLS] and two [SEP] included (BERT: 128, then 512). */
  maxSeqLength: number;
  /** Probability of a shorter target length, uniform in [2, maxSeqLength − 3] (BERT: 0.1). */
  shortSeqProb?: number;
}

/**
 * Sentence pairs from every document, in document order (create_instances_from_document):
 * sentences are gathered until the target length; a random cut makes A; B is
 * the rest, or with probability ½ (always when the chunk is one sentence)
 * text from a random other document, the unused sentences going back to the
 * pool; the longer segment loses tokens from a random end until the pair fits.
 */
export function createSentencePairs(documents: readonly TokenizedDocument[], rng: Random, options: PairOptions): SentencePair[] {
  const maxTokens = options.maxSeqLength - 3;
  const shortSeqProb = options.shortSeqProb ?? 0.1;
  if (!Number.isInteger(options.maxSeqLength) || maxTokens < 2) throw new RangeError(`createSentencePairs: maxSeqLength must be an integer >= 5 ([CLS], two [SEP] and a token per segment), got ${options.maxSeqLength}`);
  if (!(shortSeqProb >= 0 && shortSeqProb <= 1)) throw new RangeError(`createSentencePairs: shortSeqProb must be in [0, 1], got ${shortSeqProb}`);
  if (documents.length < 2) throw new RangeError(`createSentencePairs: need at least 2 documents (segment B is sometimes drawn from another), got ${documents.length}`);
  const pairs: SentencePair[] = [];
  documents.forEach((document, index) => {
    const target = rng.float() < shortSeqProb ? 2 + rng.int(maxTokens - 1) : maxTokens;
    let chunk: number[][] = [];
    let length = 0;
    for (let i = 0; i < document.length; i++) {
      chunk.push(document[i]);
      length += document[i].length;
      if (i < document.length - 1 && length < target) continue;
      const aEnd = chunk.length >= 2 ? 1 + rng.int(chunk.length - 1) : 1;
      const a = chunk.slice(0, aEnd).flat();
      let b: number[] = [];
      let isRandomNext = false;
      if (chunk.length === 1 || rng.float() < 0.5) {
        isRandomNext = true;
        const targetB = target - a.length;
        let other = index;
        for (let tries = 0; tries < 10 && other === index; tries++) other = rng.int(documents.length);
        const random = documents[other];
        for (let j = rng.int(random.length); j < random.length; j++) {
          b.push(...random[j]);
          if (b.length >= targetB) break;
        }
        // The sentences not used go back to be read again.
        i -= chunk.length - aEnd;
      } else b = chunk.slice(aEnd).flat();
      truncatePair(a, b, maxTokens, rng);
      if (a.length > 0 && b.length > 0) pairs.push({ a, b, isRandomNext });
      chunk = [];
      length = 0;
    }
  });
  return pairs;
}

// Removes tokens from the front or the back (at random) of the longer segment until the pair fits.
function truncatePair(a: number[], b: number[], maxTokens: number, rng: Random): void {
  while (a.length + b.length > maxTokens) {
    const longer = a.length > b.length ? a : b;
    if (rng.float() < 0.5) longer.shift();
    else longer.pop();
  }
}

export interface MaskingOptions {
  /** Fraction of the tokens selected for prediction (BERT: 0.15). */
  maskProb?: number;
  /** At most this many per sequence (BERT: 20 at 128 tokens, 80 at 512). */
  maxPredictions: number;
  /** [MASK]'s id. */
  maskId: number;
  /** Ids never selected: [CLS], [SEP], [PAD]. */
  specialIds: readonly number[];
  /** The vocabulary size; random replacements are drawn from its non-special tokens. */
  vocabSize: number;
}

/** A sequence after masking: its ids, and the selected positions with their original ids. */
export interface MaskedSequence {
  inputIds: number[];
  positions: number[];
  labels: number[];
}

/**
 * BERT's masked-LM selection on one sequence (create_masked_lm_predictions):
 * round(15% of the length) positions (at least 1, at most maxPredictions),
 * never a special token, in random order; each becomes [MASK] with
 * probability 0.8, a random token with 0.1 (a non-special token: Google's
 * code may draw a special one, which only wastes the prediction), and stays
 * with 0.1. Positions are returned in increasing order.
 */
export function maskTokens(ids: readonly number[], rng: Random, options: MaskingOptions): MaskedSequence {
  const maskProb = options.maskProb ?? 0.15;
  if (!(maskProb > 0 && maskProb <= 1)) throw new RangeError(`maskTokens: maskProb must be in (0, 1], got ${maskProb}`);
  if (!Number.isInteger(options.maxPredictions) || options.maxPredictions < 1) throw new RangeError(`maskTokens: maxPredictions must be an integer >= 1, got ${options.maxPredictions}`);
  const special = new Set(options.specialIds);
  if (special.size >= options.vocabSize) throw new RangeError('maskTokens: the vocabulary has no token besides the special ones');
  const candidates = ids.flatMap((id, i) => (special.has(id) ? [] : [i]));
  // Fisher–Yates over the candidates, as rng.shuffle.
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  const count = Math.min(options.maxPredictions, Math.max(1, roundHalfEven(ids.length * maskProb)), candidates.length);
  const chosen = candidates.slice(0, count).sort((x, y) => x - y);
  const inputIds = [...ids];
  for (const i of chosen) {
    const r = rng.float();
    if (r < 0.8) inputIds[i] = options.maskId;
    else if (r < 0.9) {
      let token: number;
      do token = rng.int(options.vocabSize);
      while (special.has(token) || token === options.maskId);
      inputIds[i] = token;
    }
  }
  return { inputIds, positions: chosen, labels: chosen.map((i) => ids[i]) };
}

// Python's round(): halves go to the even neighbour (round(2.5) = 2), as in Google's code.
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
