// BERT's pre-training data: sentence pairs for next-sentence prediction and
// the masked-LM selection, checked on their rules and, over 100,000
// selections, on their proportions.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Random } from '../../src/data/random.js';
import { createSentencePairs, maskTokens, splitSentences, type TokenizedDocument } from '../../src/text/pretraining-data.js';
import { assertThrowsWith } from '../helpers.js';

// Ids: specials 0 [PAD], 1 [UNK], 2 [CLS], 3 [SEP], 4 [MASK]; words from 5.
const [PAD, CLS, SEP, MASK] = [0, 2, 3, 4];
const OPTIONS = { maxPredictions: 20, maskId: MASK, specialIds: [PAD, CLS, SEP], vocabSize: 1000 };

test('sentences by Unicode boundaries: abbreviations are not ends, blank text gives none', () => {
  assert.deepEqual(splitSentences('Call me Ishmael. Some years ago—never mind how long—I went to sea!  Why? \n\n'), ['Call me Ishmael.', 'Some years ago—never mind how long—I went to sea!', 'Why?']);
  assert.deepEqual(splitSentences(' \n '), []);
});

test('masking: 15% of the tokens, never a special one, positions sorted, 80% [MASK], 10% random, 10% kept (within 1% over 100,000 selections)', () => {
  const rng = new Random(1);
  const ids = [CLS, ...Array.from({ length: 60 }, (_, i) => 5 + i), SEP, ...Array.from({ length: 64 }, (_, i) => 100 + i), SEP, PAD, PAD];
  let selections = 0;
  let masked = 0;
  let kept = 0;
  let replaced = 0;
  while (selections < 100_000) {
    const m = maskTokens(ids, rng, OPTIONS);
    // 128 tokens × 0.15 = 19.2 → 19, under the cap of 20.
    assert.equal(m.positions.length, 19);
    assert.deepEqual(m.positions, [...m.positions].sort((x, y) => x - y));
    m.positions.forEach((p, k) => {
      assert.ok(![PAD, CLS, SEP].includes(ids[p]), `position ${p} holds a special token`);
      assert.equal(m.labels[k], ids[p]);
      const now = m.inputIds[p];
      if (now === MASK) masked++;
      else if (now === ids[p]) kept++;
      else {
        replaced++;
        assert.ok(now >= 0 && now < 1000 && ![PAD, CLS, SEP, MASK].includes(now), `random token ${now}`);
      }
    });
    m.inputIds.forEach((id, i) => m.positions.includes(i) || assert.equal(id, ids[i]));
    selections += m.positions.length;
  }
  const share = (n: number) => n / selections;
  assert.ok(Math.abs(share(masked) - 0.8) < 0.01, `[MASK] ${share(masked)}`);
  assert.ok(Math.abs(share(replaced) - 0.1) < 0.01, `random ${share(replaced)}`);
  // A random token can equal the original (1 in 995), which counts as kept here.
  assert.ok(Math.abs(share(kept) - 0.1) < 0.01, `kept ${share(kept)}`);
});

test('masking caps the selections at maxPredictions, selects at least one, and rounds as Python (half to even)', () => {
  const rng = new Random(2);
  const long = [CLS, ...Array.from({ length: 500 }, (_, i) => 5 + i), SEP];
  // 502 × 0.15 = 75.3 → 75, capped at 70.
  assert.equal(maskTokens(long, rng, { ...OPTIONS, maxPredictions: 70 }).positions.length, 70);
  assert.equal(maskTokens([CLS, 7, SEP], rng, OPTIONS).positions.length, 1);
  // 30 tokens × 0.15 = 4.5 → 4 (Python's round), 50 × 0.15 = 7.5 → 8.
  assert.equal(maskTokens(Array.from({ length: 30 }, (_, i) => 5 + i), rng, OPTIONS).positions.length, 4);
  assert.equal(maskTokens(Array.from({ length: 50 }, (_, i) => 5 + i), rng, OPTIONS).positions.length, 8);
});

test('sentence pairs fill the length, B follows A half the time and comes from another document otherwise', () => {
  const rng = new Random(3);
  // 40 documents of 30 sentences of 5–14 tokens; each token says which document and sentence it is from.
  const docs: TokenizedDocument[] = Array.from({ length: 40 }, (_, d) => Array.from({ length: 30 }, (_, s) => Array.from({ length: 5 + ((d * 7 + s * 3) % 10) }, () => 10_000 + d * 100 + s)));
  const pairs = createSentencePairs(docs, rng, { maxSeqLength: 64 });
  const doc = (id: number) => Math.floor((id - 10_000) / 100);
  const sentence = (id: number) => (id - 10_000) % 100;
  let random = 0;
  let full = 0;
  for (const p of pairs) {
    assert.ok(p.a.length >= 1 && p.b.length >= 1 && p.a.length + p.b.length <= 61, `${p.a.length} + ${p.b.length} tokens`);
    if (p.a.length + p.b.length >= 55) full++;
    if (p.isRandomNext) {
      random++;
      assert.notEqual(doc(p.b[0]), doc(p.a[0]), 'a random B comes from another document');
    } else {
      assert.equal(doc(p.b[0]), doc(p.a[0]));
      assert.ok(sentence(p.b[0]) > sentence(p.a[p.a.length - 1]) || sentence(p.b[0]) === sentence(p.a[p.a.length - 1]) + 1, 'the actual next text');
    }
  }
  const share = random / pairs.length;
  assert.ok(pairs.length > 300, `${pairs.length} pairs`);
  assert.ok(Math.abs(share - 0.5) < 0.06, `${(100 * share).toFixed(1)}% random next`);
  assert.ok(full / pairs.length > 0.6, `${full} of ${pairs.length} pairs fill the length`);
});

test('bad options get clear errors', () => {
  const rng = new Random(4);
  assertThrowsWith(() => createSentencePairs([[[5, 6]], [[7]]], rng, { maxSeqLength: 4 }), /maxSeqLength must be an integer >= 5/);
  assertThrowsWith(() => createSentencePairs([[[5, 6]]], rng, { maxSeqLength: 16 }), /need at least 2 documents/);
  assertThrowsWith(() => createSentencePairs([[[5]], [[6]]], rng, { maxSeqLength: 16, shortSeqProb: 2 }), /shortSeqProb must be in \[0, 1\], got 2/);
  assertThrowsWith(() => maskTokens([5, 6], rng, { ...OPTIONS, maskProb: 0 }), /maskProb must be in \(0, 1\], got 0/);
  assertThrowsWith(() => maskTokens([5, 6], rng, { ...OPTIONS, maxPredictions: 0 }), /maxPredictions must be an integer >= 1, got 0/);
  assertThrowsWith(() => maskTokens([5, 6], rng, { ...OPTIONS, vocabSize: 3 }), /no token besides the special ones/);
});
