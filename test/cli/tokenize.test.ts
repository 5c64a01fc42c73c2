// netlab tokenize: ids per line with a vocab.txt (as the library gives them),
// training a vocabulary on a shipped corpus, and bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BertTokenizer, Vocabulary } from '../../src/text/bert-tokenizer.js';
import { loadCorpus } from '../../src/data/corpora.js';
import { netlab } from '../helpers.js';

const VOCAB = fileURLToPath(new URL('../../../test/fixtures/text/vocab.txt', import.meta.url));
let dir: string;
let input: string;
const LINES = ['Hello, world!', 'the [MASK] sat on the mat.', '', 'Unaffable PLAYERS, 我爱北京'];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-tokenize-'));
  input = join(dir, 'text.txt');
  writeFileSync(input, LINES.join('\r\n') + '\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('tokenize --json prints each line’s ids without special tokens, as the library tokenizes it; cased and uncased', () => {
  for (const cased of [false, true]) {
    const run = netlab('tokenize', '--vocab', VOCAB, '--input', input, '--json', ...(cased ? ['--cased'] : []));
    assert.equal(run.code, 0, run.stderr);
    const tokenizer = BertTokenizer.fromFile(VOCAB, { doLowerCase: !cased });
    assert.deepEqual(JSON.parse(run.stdout), { ids: LINES.map((line) => tokenizer.encodeText(line)) });
  }
  const plain = netlab('tokenize', '--vocab', VOCAB, '--input', input);
  assert.equal(plain.stdout.split('\n').length, LINES.length + 1, 'one line of ids per input line');
});

test('tokenize train writes a vocabulary of the size asked for from the training documents, which the tokenizer then reads', () => {
  const out = join(dir, 'vocab.txt');
  const run = netlab('tokenize', 'train', '--corpus', 'moby-dick', '--vocab-size', '3000', '--out', out, '--json');
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.vocabSize, 3000);
  assert.equal(result.stoppedBy, 'vocab-size');
  const vocab = Vocabulary.fromFile(out);
  assert.equal(vocab.size, 3000);
  assert.deepEqual(vocab.tokens.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  // Frequent words of the book are single tokens; the held-out chapters tokenize with few [UNK]s.
  for (const word of ['whale', 'ahab', 'the', 'sea']) assert.ok(vocab.has(word), word);
  const tokenizer = new BertTokenizer(vocab);
  const heldout = loadCorpus('moby-dick', { split: 'heldout' });
  assert.ok(heldout.length > 0 && heldout.length < 30, `${heldout.length} held-out documents`);
  const ids = heldout.flatMap((d) => tokenizer.encodeText(d.text));
  const unknown = ids.filter((id) => id === tokenizer.unkId).length / ids.length;
  assert.ok(unknown < 0.005, `[UNK] is ${(100 * unknown).toFixed(2)}% of the held-out tokens`);
});

test('tokenize refuses bad input with clear errors', () => {
  const binary = join(dir, 'binary.txt');
  writeFileSync(binary, Buffer.from([0xff, 0xfe, 0x00]));
  const cases: [string[], number, RegExp][] = [
    [['tokenize', '--input', input], 2, /--vocab FILE is required/],
    [['tokenize', '--vocab', VOCAB], 2, /--input FILE is required/],
    [['tokenize', '--vocab', join(dir, 'missing.txt'), '--input', input], 1, /missing.txt: file not found/],
    [['tokenize', '--vocab', binary, '--input', input], 1, /binary.txt: not a vocabulary/],
    [['tokenize', '--vocab', VOCAB, '--input', binary], 1, /binary.txt: not UTF-8 text/],
    [['tokenize', '--vocab', VOCAB, '--input', dir], 1, /is a folder, not a text file/],
    [['tokenize', '--vocab', VOCAB, '--input', input, '--vocab-size', '100'], 2, /--vocab-size is for training a vocabulary/],
    [['tokenize', 'train', '--vocab', VOCAB, '--out', join(dir, 'v.txt')], 2, /--vocab is for tokenizing/],
    [['tokenize', 'train', '--corpus', 'wikipedia', '--out', join(dir, 'v.txt')], 2, /--corpus takes sotu, moby-dick \(comma-separated\), got 'wikipedia'/],
    [['tokenize', 'train', '--vocab-size', '5', '--out', join(dir, 'v.txt')], 2, /--vocab-size must be >= 6/],
    [['tokenize', 'train', '--corpus', 'sotu'], 2, /--out FILE is required/],
    [['tokenize', 'encode', '--vocab', VOCAB, '--input', input], 2, /the only argument is 'train', got 'encode'/],
  ];
  for (const [args, code, message] of cases) {
    const run = netlab(...args);
    assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(' '));
  }
});
