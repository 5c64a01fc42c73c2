// BERT's tokenizer (Devlin et al. 2019; Google's tokenization.py), as Hugging
// Face's BertTokenizer runs it on the same vocab.txt: text cleaning (NUL,
// U+FFFD and control characters removed, whitespace made a space), spaces
// around CJK ideographs, NFC, whitespace splitting, lower-casing and accent
// stripping for uncased vocabularies, punctuation split off (ASCII symbols and
// every Unicode P* character), then greedy longest-match-first WordPiece with
// `##` continuations, [UNK] for a word longer than 100 code points or with
// no match. Special tokens written in the text ("[MASK]") stay whole.
import { readFileSync } from 'node:fs';

import { DataFileError } from '../data/errors.js';

/** The special tokens of BERT's vocabularies. */
export const BERT_SPECIAL_TOKENS = { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' } as const;

/** A WordPiece vocabulary: tokens in id order, as in vocab.txt (one per line). */
export class Vocabulary {
  readonly tokens: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(tokens: readonly string[]) {
    if (!Array.isArray(tokens) || tokens.length === 0) throw new RangeError('Vocabulary: no tokens');
    this.tokens = [...tokens];
    this.ids = new Map();
    tokens.forEach((token, id) => {
      if (typeof token !== 'string' || token.length === 0) throw new RangeError(`Vocabulary: token ${id} is empty`);
      // As Hugging Face's load_vocab, a repeated token keeps its last id.
      this.ids.set(token, id);
    });
  }

  /** Reads vocab.txt: one token per line, its line number (from 0) its id. */
  static fromFile(path: string): Vocabulary {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      throw new DataFileError(path, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message);
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new DataFileError(path, 'not a vocabulary: the file is not UTF-8 text');
    }
    if (text.includes('\0')) throw new DataFileError(path, 'not a vocabulary: the file holds NUL bytes (a binary file?)');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const tokens = lines.map((line) => line.replace(/\r$/, ''));
    const empty = tokens.findIndex((t) => t.length === 0);
    if (tokens.length === 0) throw new DataFileError(path, 'the vocabulary is empty');
    if (empty >= 0) throw new DataFileError(path, `line ${empty + 1} of the vocabulary is empty`);
    return new Vocabulary(tokens);
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.ids.has(token);
  }

  /** The id of a token, or undefined. */
  id(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** The tokens, one per line, for vocab.txt. */
  toText(): string {
    return this.tokens.map((t) => `${t}\n`).join('');
  }
}

// The character classes of Google's tokenization.py, over Unicode categories.
const CONTROL = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
const PUNCTUATION = /^\p{P}$/u;
const NONSPACING_MARK = /\p{Mn}/gu;

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || SPACE_SEPARATOR.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return CONTROL.test(ch);
}

/** ASCII symbols count as punctuation too ("$", "^", "`"), as in BERT's code. */
export function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return PUNCTUATION.test(ch);
}

/** The CJK Unified Ideographs blocks (not Hiragana, Katakana or Hangul, which are written with spaces). */
export function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function stripAccents(text: string): string {
  return text.normalize('NFD').replace(NONSPACING_MARK, '');
}

export interface BasicTokenizerOptions {
  /** Lower-case (the uncased vocabularies). */
  doLowerCase?: boolean;
  /** Strip accents; by default, when lower-casing (Hugging Face's strip_accents=None). */
  stripAccents?: boolean | null;
  /** Put spaces around CJK ideographs, so each is a word. */
  tokenizeChineseChars?: boolean;
}

/**
 * Splits text into words and punctuation: cleaning, CJK spacing, NFC,
 * whitespace, case and accents, punctuation. Tokens in `neverSplit` are kept
 * as they are.
 */
export function basicTokenize(text: string, options: BasicTokenizerOptions = {}, neverSplit: ReadonlySet<string> = new Set()): string[] {
  const lower = options.doLowerCase ?? true;
  const strip = options.stripAccents ?? null;
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) cleaned += ' ';
    else if ((options.tokenizeChineseChars ?? true) && isCjk(cp)) cleaned += ` ${ch} `;
    else cleaned += ch;
  }
  const out: string[] = [];
  for (let word of whitespaceSplit(cleaned.normalize('NFC'))) {
    if (!neverSplit.has(word)) {
      if (lower) {
        word = word.toLowerCase();
        if (strip !== false) word = stripAccents(word);
      } else if (strip === true) word = stripAccents(word);
      out.push(...splitOnPunctuation(word));
    } else out.push(word);
  }
  return whitespaceSplit(out.join(' '));
}

function whitespaceSplit(text: string): string[] {
  const trimmed = text.trim();
  return trimmed.length === 0 ? [] : trimmed.split(/\s+/u);
}

function splitOnPunctuation(word: string): string[] {
  const pieces: string[] = [];
  let current = '';
  for (const ch of word) {
    if (isPunctuation(ch)) {
      if (current) pieces.push(current);
      pieces.push(ch);
      current = '';
    } else current += ch;
  }
  if (current) pieces.push(current);
  return pieces;
}

/** Words longer than this (in code points) become [UNK] whole, as in BERT's code. */
export const MAX_WORD_CHARS = 100;

/** Greedy longest-match-first WordPiece of one word: its pieces, or [unk] when some part matches nothing. */
export function wordPiece(word: string, vocab: Vocabulary, unk: string = BERT_SPECIAL_TOKENS.unk): string[] {
  const chars = [...word];
  if (chars.length > MAX_WORD_CHARS) return [unk];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: string | null = null;
    while (start < end) {
      const piece = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      if (vocab.has(piece)) {
        found = piece;
        break;
      }
      end--;
    }
    if (found === null) return [unk];
    pieces.push(found);
    start = end;
  }
  return pieces;
}

export interface EncodeOptions {
  /** Add [CLS] … [SEP] (… [SEP]) (default true). */
  addSpecialTokens?: boolean;
  /** Truncate to this many tokens, special tokens included, by removing from the longer segment (longest first). */
  maxLength?: number;
  /** Pad with [PAD] to maxLength (attention mask 0 there). */
  padToMaxLength?: boolean;
}

/** One encoded sequence, as Hugging Face's tokenizer returns it. */
export interface Encoding {
  inputIds: number[];
  /** 0 for [CLS], segment A and its [SEP]; 1 for segment B and its [SEP]; 0 for padding. */
  tokenTypeIds: number[];
  /** 1 for tokens, 0 for padding. */
  attentionMask: number[];
}

export interface BertTokenizerOptions extends BasicTokenizerOptions {}

/** BERT's tokenizer over a vocabulary: text → WordPiece tokens → ids, one or two segments, and back. */
export class BertTokenizer {
  readonly vocab: Vocabulary;
  readonly options: Required<Omit<BasicTokenizerOptions, 'stripAccents'>> & { stripAccents: boolean | null };
  /** Ids of the special tokens. */
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly maskId: number;
  private readonly specials: readonly string[];
  private readonly specialPattern: RegExp;

  constructor(vocab: Vocabulary, options: BertTokenizerOptions = {}) {
    if (!(vocab instanceof Vocabulary)) throw new TypeError('BertTokenizer: expected a Vocabulary (Vocabulary.fromFile(path) reads vocab.txt)');
    this.vocab = vocab;
    this.options = { doLowerCase: options.doLowerCase ?? true, stripAccents: options.stripAccents ?? null, tokenizeChineseChars: options.tokenizeChineseChars ?? true };
    const missing = Object.values(BERT_SPECIAL_TOKENS).filter((t) => !vocab.has(t));
    if (missing.length > 0) throw new RangeError(`BertTokenizer: the vocabulary lacks ${missing.join(', ')}; a BERT vocabulary holds ${Object.values(BERT_SPECIAL_TOKENS).join(', ')}`);
    const id = (t: string) => vocab.id(t)!;
    [this.unkId, this.clsId, this.sepId, this.padId, this.maskId] = [id('[UNK]'), id('[CLS]'), id('[SEP]'), id('[PAD]'), id('[MASK]')];
    this.specials = Object.values(BERT_SPECIAL_TOKENS);
    this.specialPattern = new RegExp(`(${this.specials.map((t) => t.replace(/[[\]]/g, '\\$&')).join('|')})`);
  }

  static fromFile(path: string, options: BertTokenizerOptions = {}): BertTokenizer {
    return new BertTokenizer(Vocabulary.fromFile(path), options);
  }

  /** WordPiece tokens of a text, special tokens written in it kept whole. */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw new TypeError(`BertTokenizer: expected text, got ${typeof text}`);
    const never = new Set(this.specials);
    const tokens: string[] = [];
    for (const part of text.split(this.specialPattern)) {
      if (never.has(part)) tokens.push(part);
      else for (const word of basicTokenize(part, this.options, never)) tokens.push(...wordPiece(word, this.vocab));
    }
    return tokens;
  }

  /** Ids of tokens ([UNK]'s for tokens outside the vocabulary). */
  convertTokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.vocab.id(t) ?? this.unkId);
  }

  /** Tokens of ids; an id outside the vocabulary is an error. */
  convertIdsToTokens(ids: readonly number[]): string[] {
    return ids.map((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocab.size) throw new RangeError(`BertTokenizer: id ${id} (position ${i}) is outside the vocabulary of ${this.vocab.size}`);
      return this.vocab.tokens[id];
    });
  }

  /** The ids of a text without special tokens. */
  encodeText(text: string): number[] {
    return this.convertTokensToIds(this.tokenize(text));
  }

  /**
   * One or two segments as model inputs: [CLS] A [SEP] (B [SEP]), truncated
   * longest-first to maxLength (a token off the longer segment at a time, off
   * B when they are equal, as BERT's _truncate_seq_pair), and padded when asked.
   */
  encode(a: string | readonly number[], b: string | readonly number[] | null = null, options: EncodeOptions = {}): Encoding {
    const special = options.addSpecialTokens ?? true;
    let first = typeof a === 'string' ? this.encodeText(a) : [...a];
    let second = b === null ? null : typeof b === 'string' ? this.encodeText(b) : [...b];
    const extra = special ? (second === null ? 2 : 3) : 0;
    const max = options.maxLength;
    if (max !== undefined) {
      if (!Number.isInteger(max) || max < extra + 1) throw new RangeError(`BertTokenizer: maxLength must be an integer >= ${extra + 1} (the special tokens and one more), got ${max}`);
      while (first.length + (second?.length ?? 0) + extra > max) {
        if (second === null || first.length > second.length) first = first.slice(0, -1);
        else second = second.slice(0, -1);
      }
    }
    const ids = special ? [this.clsId, ...first, this.sepId, ...(second === null ? [] : [...second, this.sepId])] : [...first, ...(second ?? [])];
    const typeA = special ? first.length + 2 : first.length;
    const types = ids.map((_, i) => (i < typeA ? 0 : 1));
    const mask = ids.map(() => 1);
    if (options.padToMaxLength) {
      if (max === undefined) throw new RangeError('BertTokenizer: padToMaxLength needs maxLength');
      while (ids.length < max) {
        ids.push(this.padId);
        types.push(0);
        mask.push(0);
      }
    }
    return { inputIds: ids, tokenTypeIds: types, attentionMask: mask };
  }

  /**
   * Ids back to text: tokens joined by spaces, `##` continuations glued on,
   * and the spaces before punctuation and English contractions removed (Hugging
   * Face's clean_up_tokenization_spaces).
   */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean; cleanUpSpaces?: boolean } = {}): string {
    // Hugging Face's skip_special_tokens drops all five, [UNK] and [MASK] included.
    const specials = new Set([this.unkId, this.clsId, this.sepId, this.padId, this.maskId]);
    const tokens = this.convertIdsToTokens(ids).filter((_, i) => !(options.skipSpecialTokens && specials.has(ids[i])));
    let text = tokens.join(' ').replace(/ ##/g, '').trim();
    if (options.cleanUpSpaces ?? true) {
      text = text
        .replace(/ \./g, '.')
        .replace(/ \?/g, '?')
        .replace(/ !/g, '!')
        .replace(/ ,/g, ',')
        .replace(/ ' /g, "'")
        .replace(/ n't/g, "n't")
        .replace(/ 'm/g, "'m")
        .replace(/ 's/g, "'s")
        .replace(/ 've/g, "'ve")
        .replace(/ 're/g, "'re");
    }
    return text;
  }
}
