// BERT's tokenizer against Hugging Face's on tricky text (fixtures from
// test/fixtures/make_tokenizer_fixtures.mjs, which runs Hugging Face's
// tokenizers library), encoding and decoding, the WordPiece trainer, and bad
// vocabularies.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BertTokenizer, Vocabulary, wordPiece } from '../../src/text/bert-tokenizer.js';
import { trainWordPiece } from '../../src/text/wordpiece-trainer.js';
import { assertThrowsWith } from '../helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/text/', import.meta.url));
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer.json'), 'utf8')) as { cases: { text: string; lowercase: boolean; tokens: string[]; ids: number[] }[] };
const vocab = Vocabulary.fromFile(join(FIXTURES, 'vocab.txt'));

describe("equal to Hugging Face's BERT tokenizer on the same vocabulary", () => {
  for (const c of fixture.cases) {
    test(`${c.lowercase ? 'uncased' : 'cased'}: ${JSON.stringify(c.text.slice(0, 40))}`, () => {
      const tokenizer = new BertTokenizer(vocab, { doLowerCase: c.lowercase });
      const tokens = tokenizer.tokenize(c.text);
      // The Python BertTokenizer applies NFC before splitting, the Rust one (which wrote the fixture) does not: a
      // decomposed é (e + U+0301) is one character here, as in Python, and [UNK] there when cased.
      const expected = !c.lowercase && c.text.includes('e\u0301') ? c.tokens.map((t, i) => (t === '[UNK]' && c.tokens[i + 1] === 'decomposed' ? 'é' : t)) : c.tokens;
      assert.deepEqual(tokens, expected);
      assert.deepEqual(tokenizer.convertTokensToIds(tokens), expected.map((t) => vocab.id(t)));
    });
  }
});

describe('tokenizing, encoding and decoding', () => {
  const tokenizer = new BertTokenizer(vocab);
  const id = (t: string) => vocab.id(t)!;

  test('WordPiece: the longest piece first, ## continuations, [UNK] for a word with no match or over 100 code points', () => {
    assert.deepEqual(wordPiece('unaffable', vocab), ['un', '##aff', '##able']);
    assert.deepEqual(wordPiece('playing', vocab), ['play', '##ing']);
    assert.deepEqual(wordPiece('a' + 'b'.repeat(99), vocab).length, 100);
    assert.deepEqual(wordPiece('a' + 'b'.repeat(100), vocab), ['[UNK]']);
    // Code points, not UTF-16 units: 60 emoji are 120 units but 60 characters, each [UNK] by the vocabulary.
    assert.deepEqual(wordPiece('😀'.repeat(60), vocab), ['[UNK]']);
  });

  test('one segment: [CLS] A [SEP], segment 0, mask 1; padding to maxLength with [PAD], mask 0', () => {
    const e = tokenizer.encode('Hello, world!', null, { maxLength: 8, padToMaxLength: true });
    assert.deepEqual(e.inputIds, [id('[CLS]'), id('hello'), id(','), id('world'), id('!'), id('[SEP]'), id('[PAD]'), id('[PAD]')]);
    assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(e.attentionMask, [1, 1, 1, 1, 1, 1, 0, 0]);
  });

  test('two segments: [CLS] A [SEP] B [SEP] with types 0…0 1…1, truncated longest first (B loses the tie)', () => {
    const e = tokenizer.encode('the quick brown fox jumps', 'over the lazy dog', { maxLength: 9 });
    // 5 + 4 tokens and 3 specials = 12 > 9: A loses one (5 > 4), then B (4 = 4), then A (4 > 3).
    assert.deepEqual(tokenizer.convertIdsToTokens(e.inputIds), ['[CLS]', 'the', 'quick', 'brown', '[SEP]', 'over', 'the', 'lazy', '[SEP]']);
    assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert.deepEqual(e.attentionMask, Array(9).fill(1));
    const raw = tokenizer.encode([id('dog')], [id('fox')], { addSpecialTokens: false });
    assert.deepEqual(raw.inputIds, [id('dog'), id('fox')]);
    assert.deepEqual(raw.tokenTypeIds, [0, 1]);
  });

  test('decoding glues ## pieces, removes the spaces before punctuation and can skip special tokens', () => {
    const ids = tokenizer.encode("Hello, world! Mr. O'Neil's playing.").inputIds;
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), "hello, world! mr. o'neil's playing.");
    assert.equal(tokenizer.decode(ids), "[CLS] hello, world! mr. o'neil's playing. [SEP]");
    assert.equal(tokenizer.decode(tokenizer.encodeText('unplayable'), { cleanUpSpaces: false }), 'unplayable');
  });

  test('bad input: ids outside the vocabulary, a maxLength too short, padding without a length, not text', () => {
    assertThrowsWith(() => tokenizer.convertIdsToTokens([3, vocab.size]), new RegExp(`id ${vocab.size} \\(position 1\\) is outside the vocabulary of ${vocab.size}`));
    assertThrowsWith(() => tokenizer.decode([-1]), /id -1 \(position 0\) is outside the vocabulary/);
    assertThrowsWith(() => tokenizer.encode('a', 'b', { maxLength: 3 }), /maxLength must be an integer >= 4 \(the special tokens and one more\), got 3/);
    assertThrowsWith(() => tokenizer.encode('a', null, { padToMaxLength: true }), /padToMaxLength needs maxLength/);
    assertThrowsWith(() => tokenizer.tokenize(42 as never), /expected text, got number/);
  });
});

describe('vocabulary files', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'netlab-vocab-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  test('one token per line, ids by line; CRLF line ends are accepted; a repeated token keeps its last id', () => {
    const v = Vocabulary.fromFile(file('crlf.txt', '[PAD]\r\n[UNK]\r\nx\r\nx\r\n'));
    assert.deepEqual(v.tokens, ['[PAD]', '[UNK]', 'x', 'x']);
    assert.equal(v.id('x'), 3);
    assert.equal(Vocabulary.fromFile(file('roundtrip.txt', vocab.toText())).size, vocab.size);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['a missing file', () => Vocabulary.fromFile(join(tmpdir(), 'netlab-no-such-vocab.txt')), /netlab-no-such-vocab.txt: file not found/],
    ['an empty file', () => Vocabulary.fromFile(file('empty.txt', '')), /empty.txt: the vocabulary is empty/],
    ['an empty line', () => Vocabulary.fromFile(file('hole.txt', '[PAD]\n\n[UNK]\n')), /hole.txt: line 2 of the vocabulary is empty/],
    ['a binary file', () => Vocabulary.fromFile(file('binary.txt', Buffer.from([0x5b, 0x00, 0x01, 0x0a]))), /binary.txt: not a vocabulary: the file holds NUL bytes/],
    ['a file that is not UTF-8', () => Vocabulary.fromFile(file('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]))), /latin1.txt: not a vocabulary: the file is not UTF-8 text/],
    ['a vocabulary without [UNK] or [CLS]', () => new BertTokenizer(new Vocabulary(['[PAD]', '[SEP]', '[MASK]', 'a'])), /the vocabulary lacks \[UNK\], \[CLS\]; a BERT vocabulary holds/],
    ['something that is not a vocabulary', () => new BertTokenizer(['[UNK]'] as never), /expected a Vocabulary/],
  ];
  for (const [what, run, message] of bad) test(what, () => assertThrowsWith(run, message));
});

describe('training a WordPiece vocabulary', () => {
  const corpus = ['the player played and the players are playing', 'a playful play; unplayable plays', 'The PLAYER plays.', 'café Café'];

  test('special tokens first, then the alphabet with and without ##, then merges, most frequent first; deterministic', () => {
    const t = trainWordPiece(corpus, { vocabSize: 90, minFrequency: 2 });
    assert.deepEqual(t.vocab.tokens.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    const alphabet = t.vocab.tokens.slice(5, 5 + t.alphabet);
    assert.ok(alphabet.includes('p') && alphabet.includes('##y') && alphabet.includes(';'), 'characters, continuations and punctuation');
    assert.ok(!alphabet.includes('P') && !alphabet.includes('é'), 'lower-cased and accents stripped, as the tokenizer will see the text');
    // "play" is in 8 of the words: its pieces merge into one token, and the tokenizer then keeps it whole.
    assert.ok(t.vocab.has('play'), t.vocab.tokens.slice(5 + t.alphabet).join(' '));
    assert.deepEqual(new BertTokenizer(t.vocab).tokenize('Play played')[0], 'play');
    assert.deepEqual(trainWordPiece(corpus, { vocabSize: 90, minFrequency: 2 }).vocab.tokens, t.vocab.tokens, 'the same corpus gives the same vocabulary');
    assert.equal(t.words, 20);
  });

  test('the size is reached exactly when pairs are frequent enough, and training stops early when they are not', () => {
    const text = Array(50).fill('abcd abce abcf').join(' ');
    const sized = trainWordPiece([text], { vocabSize: 5 + 12 + 2 });
    assert.equal(sized.vocab.size, 19);
    assert.equal(sized.stoppedBy, 'vocab-size');
    // (a, ##b) and (##b, ##c) both occur 150 times; the tie goes to the pair that sorts first.
    assert.deepEqual(sized.vocab.tokens.slice(-2), ['##bc', 'abc'], 'the most frequent pairs first');
    const rare = trainWordPiece(['abcd efgh'], { vocabSize: 100, minFrequency: 2 });
    assert.equal(rare.stoppedBy, 'min-frequency');
    assert.equal(rare.merges, 0);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['an empty corpus', () => trainWordPiece(['', '  \n'], { vocabSize: 100 }), /the corpus is empty/],
    ['a size below the special tokens', () => trainWordPiece(corpus, { vocabSize: 5 }), /vocabSize must be an integer above the 5 special tokens, got 5/],
    ['a minimum frequency of 0', () => trainWordPiece(corpus, { vocabSize: 50, minFrequency: 0 }), /minFrequency must be an integer >= 1, got 0/],
    ['repeated special tokens', () => trainWordPiece(corpus, { vocabSize: 50, specialTokens: ['[UNK]', '[UNK]'] }), /specialTokens must be distinct non-empty strings/],
    ['a corpus that is not text', () => trainWordPiece([42 as never], { vocabSize: 50 }), /the corpus must be strings, got number/],
  ];
  for (const [what, run, message] of bad) test(what, () => assertThrowsWith(run, message));
});
