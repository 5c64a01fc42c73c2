// Training a WordPiece vocabulary over a corpus, as Hugging Face's
// WordPieceTrainer does it: the words of BERT's basic tokenizer are split into
// characters (every character after the first marked `##`), and the most
// frequent adjacent pair of pieces is merged, again and again, until the
// vocabulary has the size asked for or no pair occurs `minFrequency` times.
// The vocabulary is the special tokens, the characters, then the merged
// pieces in the order they were made. (No library trains WordPiece in this
// environment: the pure-JS @huggingface/tokenizers cannot train, and the
// native `tokenizers` binding trains without a vocabulary size or special
// tokens.)
import { basicTokenize, BERT_SPECIAL_TOKENS, Vocabulary, type BasicTokenizerOptions } from './bert-tokenizer.js';

export interface WordPieceTrainerOptions extends BasicTokenizerOptions {
  /** Tokens in the vocabulary, special tokens and characters included. */
  vocabSize: number;
  /** A pair is merged only if it occurs at least this often (default 2). */
  minFrequency?: number;
  /** Tokens placed first, in this order (default BERT's: [PAD], [UNK], [CLS], [SEP], [MASK]). */
  specialTokens?: readonly string[];
  /** Characters seen in fewer words than this are left out of the alphabet (default 1: all). */
  minCharFrequency?: number;
}

export interface WordPieceTraining {
  vocab: Vocabulary;
  /** Words in the corpus (basic-tokenizer words, with repeats) and distinct words. */
  words: number;
  distinctWords: number;
  /** Characters of the alphabet (each with and without ##) and merges made. */
  alphabet: number;
  merges: number;
  /** Why training stopped: the size was reached, or no pair was frequent enough. */
  stoppedBy: 'vocab-size' | 'min-frequency';
}

const CONTINUATION = '##';

// A max-heap of pair counts with lazy deletion: an entry is stale when its count no longer matches the pair's.
class PairHeap {
  private readonly items: { key: string; count: number }[] = [];

  push(key: string, count: number): void {
    const items = this.items;
    items.push({ key, count });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!PairHeap.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): { key: string; count: number } | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let best = i;
        if (l < items.length && PairHeap.before(items[l], items[best])) best = l;
        if (r < items.length && PairHeap.before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }

  // Higher count first; among equal counts, the pair that sorts first (a deterministic order).
  private static before(a: { key: string; count: number }, b: { key: string; count: number }): boolean {
    return a.count > b.count || (a.count === b.count && a.key < b.key);
  }
}

// Pairs are keyed "left\u0000right" (NUL never survives the basic tokenizer's cleaning).
const SEPARATOR = '\u0000';

/** Trains a vocabulary over `texts` (documents or lines). */
export function trainWordPiece(texts: Iterable<string>, options: WordPieceTrainerOptions): WordPieceTraining {
  const specials = [...(options.specialTokens ?? Object.values(BERT_SPECIAL_TOKENS))];
  const minFrequency = options.minFrequency ?? 2;
  const minCharFrequency = options.minCharFrequency ?? 1;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < specials.length + 1) throw new RangeError(`trainWordPiece: vocabSize must be an integer above the ${specials.length} special tokens, got ${options.vocabSize}`);
  if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new RangeError(`trainWordPiece: minFrequency must be an integer >= 1, got ${minFrequency}`);
  if (!Number.isInteger(minCharFrequency) || minCharFrequency < 1) throw new RangeError(`trainWordPiece: minCharFrequency must be an integer >= 1, got ${minCharFrequency}`);
  if (new Set(specials).size !== specials.length || specials.some((t) => typeof t !== 'string' || t.length === 0)) throw new RangeError(`trainWordPiece: specialTokens must be distinct non-empty strings, got ${JSON.stringify(specials)}`);

  // Word counts over the corpus.
  const counts = new Map<string, number>();
  let words = 0;
  const basic = { doLowerCase: options.doLowerCase, stripAccents: options.stripAccents, tokenizeChineseChars: options.tokenizeChineseChars };
  for (const text of texts) {
    if (typeof text !== 'string') throw new TypeError(`trainWordPiece: the corpus must be strings, got ${typeof text}`);
    for (const word of basicTokenize(text, basic, new Set(specials))) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
      words++;
    }
  }
  if (words === 0) throw new RangeError('trainWordPiece: the corpus is empty (no words after tokenization)');

  // The alphabet: characters in enough words, as word starts and as ## continuations.
  const charCounts = new Map<string, number>();
  for (const [word, n] of counts) for (const ch of new Set(word)) charCounts.set(ch, (charCounts.get(ch) ?? 0) + n);
  const alphabetChars = [...charCounts].filter(([, n]) => n >= minCharFrequency).map(([ch]) => ch).sort();
  const known = new Set(alphabetChars);
  const vocab: string[] = [...specials];
  const inVocab = new Set(vocab);
  const add = (token: string) => {
    if (!inVocab.has(token)) {
      inVocab.add(token);
      vocab.push(token);
    }
  };
  for (const ch of alphabetChars) add(ch);
  for (const ch of alphabetChars) add(CONTINUATION + ch);
  const alphabet = vocab.length - specials.length;
  if (vocab.length > options.vocabSize) vocab.length = options.vocabSize;

  // Each distinct word as pieces; words with a character outside the alphabet take no part in merges.
  const pieces: string[][] = [];
  const frequency: number[] = [];
  for (const [word, n] of counts) {
    const chars = [...word];
    if (!chars.every((c) => known.has(c))) continue;
    pieces.push(chars.map((c, i) => (i === 0 ? c : CONTINUATION + c)));
    frequency.push(n);
  }

  // Pair counts and, per pair, the words it occurs in.
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1) => {
    const p = pieces[w];
    for (let i = 0; i + 1 < p.length; i++) {
      const key = p[i] + SEPARATOR + p[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * frequency[w]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  pieces.forEach((_, w) => addPairs(w, 1));
  const heap = new PairHeap();
  for (const [key, n] of pairCount) heap.push(key, n);

  let merges = 0;
  let stoppedBy: WordPieceTraining['stoppedBy'] = 'vocab-size';
  while (vocab.length < options.vocabSize) {
    const top = heap.pop();
    if (top === undefined || top.count < minFrequency) {
      stoppedBy = 'min-frequency';
      break;
    }
    if (pairCount.get(top.key) !== top.count) continue; // stale
    const [left, right] = top.key.split(SEPARATOR);
    const merged = left + (right.startsWith(CONTINUATION) ? right.slice(CONTINUATION.length) : right);
    merges++;
    add(merged);
    const touched = new Set<string>();
    for (const w of pairWords.get(top.key) ?? []) {
      const p = pieces[w];
      // Every pair of the word before and after the merge has a new count.
      for (let i = 0; i + 1 < p.length; i++) touched.add(p[i] + SEPARATOR + p[i + 1]);
      addPairs(w, -1);
      const next: string[] = [];
      for (let i = 0; i < p.length; i++) {
        if (i + 1 < p.length && p[i] === left && p[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(p[i]);
      }
      pieces[w] = next;
      addPairs(w, 1);
      for (let i = 0; i + 1 < next.length; i++) touched.add(next[i] + SEPARATOR + next[i + 1]);
    }
    pairCount.delete(top.key);
    pairWords.delete(top.key);
    touched.delete(top.key);
    for (const key of touched) {
      const n = pairCount.get(key) ?? 0;
      if (n > 0) heap.push(key, n);
    }
  }
  return { vocab: new Vocabulary(vocab), words, distinctWords: counts.size, alphabet, merges, stoppedBy };
}
