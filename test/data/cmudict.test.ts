// CMUdict as a G2P task: the package's dictionary read, filtered and split
// as the issue states; FNV-1a against its published test vectors; WER and
// PER on hand-made cases; malformed files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { decodePhonemes, editDistance, encodePhonemes, encodeWord, fnv1a32, G2P_VOCAB, g2pScore, g2pSplitOf, loadCmudict, PHONEMES } from '../../src/data/cmudict.js';
import { assertThrowsWith } from '../helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-cmudict-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('FNV-1a 32-bit equals the reference test vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  assert.equal(fnv1a32('é'), fnv1a32('\u00e9'), 'UTF-8 bytes');
});

test("the package's dictionary: 124,890 usable words (of 125,005), 39 phonemes without stress, variants kept, split about 80/10/10 by word", () => {
  const all = loadCmudict();
  assert.equal(all.length, 124_890);
  const seen = new Set(all.flatMap((e) => e.references.flat()));
  assert.deepEqual([...seen].sort(), [...PHONEMES].sort());
  const a = all.find((e) => e.word === 'A')!;
  assert.deepEqual(a.references, [['AH'], ['EY']], "A and A(1), stress removed");
  assert.ok(all.every((e) => /^[A-Z'.-]+$/.test(e.word)), 'only letters, apostrophes, periods and hyphens');
  const testSplit = loadCmudict({ split: 'test' });
  const validation = loadCmudict({ split: 'validation' });
  assert.equal(testSplit.length, 12_518);
  assert.equal(validation.length, 12_517);
  assert.ok(testSplit.every((e) => g2pSplitOf(e.word) === 'test' && fnv1a32(e.word) % 10 === 0));
  // Variants never straddle splits: a word's entries all land with the word.
  const testWords = new Set(testSplit.map((e) => e.word));
  assert.ok(validation.every((e) => !testWords.has(e.word)));
});

test('WER counts a word right when the output equals any reference; PER divides the edits to the closest reference by its length', () => {
  assert.equal(editDistance(['K', 'AE', 'T'], ['K', 'AH', 'T', 'S']), 2);
  assert.equal(editDistance([], ['A', 'B']), 2);
  const references = [[['AH'], ['EY']], [['K', 'AE', 'T']], [['D', 'AO', 'G'], ['D', 'AA', 'G']]];
  const score = g2pScore([['EY'], ['K', 'AE', 'D'], ['D', 'AO']], references);
  assert.equal(score.wer, 2 / 3);
  // Edits 0 + 1 + 1 over lengths 1 + 3 + 3 (both references of the third word are one edit away; the first of equal length counts).
  assert.equal(score.per, 2 / 7);
  assertThrowsWith(() => g2pScore([['A']], []), /1 predictions for 0 words/);
  assertThrowsWith(() => g2pScore([['A']], [[]]), /word 0 has no reference/);
});

test('malformed dictionary files are refused with the line named', () => {
  const file = join(dir, 'dict.txt');
  writeFileSync(file, 'CAT  K AE1 T\nDOG\n');
  assertThrowsWith(() => loadCmudict({ file }), /line 2 is not 'WORD {2}PHONEMES'/);
  writeFileSync(file, 'CAT  K AE1 T\nDOG  D Q G\n');
  assertThrowsWith(() => loadCmudict({ file }), /line 2 \(DOG\) has the phoneme 'Q', not one of CMUdict's 39/);
  assertThrowsWith(() => loadCmudict({ file: join(dir, 'missing.txt') }), /missing\.txt: cannot be read/);
  writeFileSync(file, ';;; comment\nCAT  K AE1 T\nCAT(1)  K AE2 T\nR2D2  AA1 R\n');
  assert.deepEqual(loadCmudict({ file }), [{ word: 'CAT', references: [['K', 'AE', 'T']] }]);
});

test('the G2P vocabulary: words to letter ids and eos, phonemes to bos, ids and eos, and back', () => {
  assert.equal(G2P_VOCAB.length, 3 + 29 + 39);
  assert.deepEqual(encodeWord("o'k"), [3 + 14, 3 + 26, 3 + 10, 2]);
  const ids = encodePhonemes(['K', 'AE', 'T']);
  assert.equal(ids[0], 1);
  assert.equal(ids.at(-1), 2);
  assert.deepEqual(decodePhonemes([...ids.slice(1), 0, 0]), ['K', 'AE', 'T']);
  assertThrowsWith(() => encodeWord(''), /expected a word, got ""/);
  assertThrowsWith(() => encodeWord('caf3'), /has the character "3"/);
  assertThrowsWith(() => encodeWord('naïve'), /has the character "Ï"/);
  assertThrowsWith(() => encodePhonemes(['K', 'Q']), /'Q' is not one of CMUdict's 39 phonemes/);
  assertThrowsWith(() => decodePhonemes([1, 5, 2]), /token 5 \(C\) is not a phoneme/);
});
