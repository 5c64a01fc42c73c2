// Grapheme-to-phoneme conversion with a trained Transformer: words in, CMUdict
// phonemes out, by greedy decoding (beam 1) or beam search, in batches of
// words of similar length.
import { scope } from '../tensor/scope.js';
import { describeValue } from '../tensor/tensor.js';
import { decodePhonemes, encodeWord, G2P_SPECIALS, G2P_VOCAB, GRAPHEMES } from '../data/cmudict.js';
import { beamSearch, greedyDecode } from './decoding.js';
import type { TransformerModel } from './transformer.js';
import { padSequences } from '../data/sequence.js';

// The output is phonemes: the ids after the specials and the letters.
const PHONEME_TOKENS = G2P_VOCAB.map((_, id) => id).filter((id) => id >= G2P_SPECIALS.length + GRAPHEMES.length);

export interface PronounceOptions {
  /** 1 for greedy decoding; the paper's beam is 4 (the default). */
  beamSize?: number;
  /** α of the length penalty (the paper: 0.6). */
  alpha?: number;
  /** Words decoded together. */
  batchSize?: number;
  /** Called after each batch with the words done so far. */
  onBatch?: (done: number) => void;
}

/**
 * The pronunciations of `words` (each a list of CMUdict phonemes, in the
 * words' order). A word that is empty or has a character outside the G2P
 * alphabet is an error naming it, before any decoding.
 */
export function pronounce(model: TransformerModel, words: readonly string[], options: PronounceOptions = {}): string[][] {
  const beamSize = options.beamSize ?? 4;
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(beamSize) || beamSize < 1) throw new RangeError(`pronounce: the beam size must be a positive integer (1 for greedy decoding), got ${describeValue(beamSize)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`pronounce: batchSize must be a positive integer, got ${describeValue(batchSize)}`);
  if (model.config.srcVocab !== G2P_VOCAB.length || model.config.tgtVocab !== G2P_VOCAB.length)
    throw new RangeError(`pronounce: the model's vocabularies hold ${model.config.srcVocab} and ${model.config.tgtVocab} tokens, not the ${G2P_VOCAB.length} of the G2P vocabulary; is it a G2P model (transformer_g2p)?`);
  const encoded = words.map((w) => encodeWord(w));
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a].length - encoded[b].length || a - b);
  const out: string[][] = new Array(words.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    const hypotheses = scope(() => {
      const src = padSequences(batch.map((i) => encoded[i]), model.config.padIdx);
      const decode = { bos: 1, eos: 2, allowedTokens: PHONEME_TOKENS };
      return beamSize === 1 ? greedyDecode(model, src, decode) : beamSearch(model, src, { ...decode, beamSize, alpha: options.alpha ?? 0.6 });
    });
    batch.forEach((i, j) => (out[i] = decodePhonemes(hypotheses[j].tokens)));
    options.onBatch?.(Math.min(start + batchSize, order.length));
  }
  return out;
}
