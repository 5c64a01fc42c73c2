// BERT's pre-training: the batches (masks, labels, segments, padding),
// dynamic against static masking, the loss, and a small BERT that learns both
// objectives on a synthetic corpus whose masked tokens and next sentences can
// be inferred.
import { test } from 'node:test';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

import { F, liveTensors, manualSeed, scope, Tensor } from '../../src/index.js';
import { Random } from '../../src/data/random.js';
import { BertForPreTraining, BertForSequenceClassification, bertConfig } from '../../src/models/bert.js';
import { createSentencePairs, type SentencePair, type TokenizedDocument } from '../../src/text/pretraining-data.js';
import { classifySequences, evaluatePretraining, fineTuneBert, IGNORE, pretrainBert, pretrainingBatch, pretrainingLoader, pretrainingLoss, type ClassificationExample } from '../../src/train/bert.js';
import { assertClose, assertThrowsWith } from '../helpers.js';

const IDS = { pad: 0, cls: 2, sep: 3, mask: 4 };
const MASKING = { maxPredictions: 8, vocabSize: 100 };

test('a batch: [CLS] A [SEP] B [SEP], segments 0 then 1, padding masked out, labels only at the selected positions', () => {
  const pairs: SentencePair[] = [
    { a: [10, 11, 12], b: [13, 14], isRandomNext: false },
    { a: [20], b: [21, 22, 23, 24, 25, 26], isRandomNext: true },
  ];
  scope(() => {
    const [ids, types, mask, labels, next] = pretrainingBatch(pairs, IDS, MASKING, new Random(0));
    assert.deepEqual(ids.shape, [2, 10]);
    assert.deepEqual(types.toArray(), [
      [0, 0, 0, 0, 0, 1, 1, 1, 0, 0],
      [0, 0, 0, 1, 1, 1, 1, 1, 1, 1],
    ]);
    assert.deepEqual(mask.toArray(), [
      [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ]);
    assert.deepEqual(next.toArray(), [0, 1]);
    const original = [
      [2, 10, 11, 12, 3, 13, 14, 3, 0, 0],
      [2, 20, 3, 21, 22, 23, 24, 25, 26, 3],
    ];
    const [got, lab] = [ids.toArray() as number[][], labels.toArray() as number[][]];
    for (let r = 0; r < 2; r++) {
      // 8 and 10 tokens × 0.15 → 1 and 2 selections (Python's rounding).
      assert.equal(lab[r].filter((l) => l !== IGNORE).length, [1, 2][r]);
      got[r].forEach((id, i) => {
        if (lab[r][i] === IGNORE) assert.equal(id, original[r][i], `row ${r}, position ${i} is not selected and unchanged`);
        else assert.ok(lab[r][i] === original[r][i] && ![0, 2, 3].includes(original[r][i]), `row ${r}, position ${i}: the label is the original, never a special token`);
      });
    }
  });
});

test('dynamic masking masks each epoch anew; static masking gives each pair the same mask every epoch', () => {
  const pairs: SentencePair[] = Array.from({ length: 16 }, (_, i) => ({ a: Array.from({ length: 10 }, (_, k) => 10 + i + k), b: [60, 61, 62], isRandomNext: false }));
  for (const masking of ['dynamic', 'static'] as const) {
    const loader = pretrainingLoader(pairs, IDS, MASKING, { batchSize: 16, seed: 5, shuffle: false, masking });
    const epochs = [0, 1].map(() => {
      const [batch] = [...loader];
      const ids = batch[0].toArray();
      for (const t of batch) t.dispose();
      return ids;
    });
    if (masking === 'dynamic') assert.notDeepEqual(epochs[0], epochs[1]);
    else assert.deepEqual(epochs[0], epochs[1]);
  }
});

test('the loss is masked-LM cross-entropy over the selected positions plus next-sentence cross-entropy', () => {
  manualSeed(0);
  const model = new BertForPreTraining(bertConfig({ hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32 }, { vocabSize: 100, maxPositionEmbeddings: 32 }));
  model.eval();
  scope(() => {
    const batch = pretrainingBatch([{ a: [10, 11, 12, 13], b: [14, 15], isRandomNext: true }, { a: [30, 31], b: [32, 33, 34, 35, 36], isRandomNext: false }], IDS, MASKING, new Random(1));
    const [inputIds, tokenTypeIds, attentionMask, labels, next] = batch;
    const out = model.forward({ inputIds, tokenTypeIds, attentionMask });
    const selected = labels.ne(IGNORE);
    const expected = F.crossEntropy(out.predictionLogits.index(selected), labels.maskedSelect(selected)).add(F.crossEntropy(out.seqRelationshipLogits, next));
    assertClose(pretrainingLoss(model, inputIds, tokenTypeIds, attentionMask, labels, next), expected, { rtol: 1e-6 });
  });
  model.dispose();
});

// 150 documents, each on one of 6 topics: every sentence starts with its topic's marker (5 + topic), then runs of
// consecutive word ids from 20 on. A masked word follows from its neighbours, a marker from the other markers,
// and whether B is A's next sentence from whether their markers agree.
function syntheticCorpus(seed: number): TokenizedDocument[] {
  const rng = new Random(seed);
  return Array.from({ length: 150 }, (_, d) =>
    Array.from({ length: 12 }, () => {
      const start = 20 + rng.int(60);
      return [5 + (d % 6), ...Array.from({ length: 4 + rng.int(5) }, (_, k) => start + k)];
    }),
  );
}

test('a small BERT learns both objectives: held-out masked-LM accuracy over 3× the majority guess, next-sentence accuracy over 75%', (t) => {
  const before = liveTensors();
  manualSeed(0);
  const model = new BertForPreTraining(bertConfig({ hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 128 }, { vocabSize: 100, maxPositionEmbeddings: 64, hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 }));
  // Two passes over the documents (a dupe factor of 2): different cuts and different random segments B.
  const documents = syntheticCorpus(1);
  const train = [2, 5].flatMap((seed) => createSentencePairs(documents, new Random(seed), { maxSeqLength: 40 }));
  const heldout = createSentencePairs(syntheticCorpus(3), new Random(4), { maxSeqLength: 40 });
  const masking = { maxPredictions: 6, vocabSize: 100 };
  const untrained = evaluatePretraining(model, heldout, IDS, masking, { batchSize: 64, seed: 9 });
  const result = pretrainBert({ model, pairs: train, ids: IDS, masking, maskingMode: 'dynamic', batchSize: 32, epochs: 50, lr: 2e-3, warmup: 0.1, seed: 7 });
  const trained = evaluatePretraining(model, heldout, IDS, masking, { batchSize: 64, seed: 9 });
  t.diagnostic(`${result.losses.length} steps, loss ${result.losses[0].toFixed(2)} → ${result.losses.at(-1)!.toFixed(2)}; held-out MLM ${(100 * untrained.mlmAccuracy).toFixed(1)}% → ${(100 * trained.mlmAccuracy).toFixed(1)}% (majority ${(100 * trained.mlmMajorityAccuracy).toFixed(1)}%), NSP ${(100 * untrained.nspAccuracy).toFixed(1)}% → ${(100 * trained.nspAccuracy).toFixed(1)}%`);
  assert.ok(trained.mlmAccuracy > 3 * trained.mlmMajorityAccuracy, `MLM ${trained.mlmAccuracy} against majority ${trained.mlmMajorityAccuracy}`);
  assert.ok(trained.nspAccuracy > 0.75, `NSP ${trained.nspAccuracy}`);
  assert.ok(trained.mlmLoss < untrained.mlmLoss && trained.nspLoss < untrained.nspLoss);
  model.dispose();
  assert.equal(liveTensors(), before, 'no tensor leaked');
});

// Sequences of 4 to 20 words (ids 10…99); the class is 1 when the word 7 occurs in it.
function containsSeven(count: number, seed: number): ClassificationExample[] {
  const rng = new Random(seed);
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: 4 + rng.int(17) }, () => 10 + rng.int(90));
    const label = i % 2;
    if (label === 1) words[rng.int(words.length)] = 7;
    const inputIds = [IDS.cls, ...words, IDS.sep];
    return { inputIds, tokenTypeIds: inputIds.map(() => 0), label };
  });
}

test('fine-tuning trains every parameter of a sequence classifier; padded batches classify as single examples do', (t) => {
  const before = liveTensors();
  manualSeed(0);
  const model = new BertForSequenceClassification(bertConfig({ hiddenSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 64 }, { vocabSize: 100, maxPositionEmbeddings: 32, hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 }), 2);
  const test = containsSeven(200, 2);
  const untrained = classifySequences(model, test, IDS.pad);
  const embedding = model.bert.embeddings.word_embeddings.weight.clone();
  const result = fineTuneBert({ model, examples: containsSeven(400, 1), padId: IDS.pad, batchSize: 32, epochs: 15, lr: 3e-3, seed: 3 });
  const predictions = classifySequences(model, test, IDS.pad);
  const accuracy = predictions.filter((p, i) => p === test[i].label).length / test.length;
  t.diagnostic(`${result.losses.length} steps, loss ${result.losses[0].toFixed(3)} → ${result.losses.at(-1)!.toFixed(3)}; held-out accuracy ${(100 * accuracy).toFixed(1)}% (untrained ${(100 * untrained.filter((p, i) => p === test[i].label).length / test.length).toFixed(1)}%)`);
  assert.ok(accuracy >= 0.95, `held-out accuracy ${accuracy}`);
  assert.ok(scope(() => model.bert.embeddings.word_embeddings.weight.sub(embedding).abs().max().item()) > 1e-3, 'the encoder is trained too, not only the head');
  // The batches are sorted by length and padded: each prediction is still the one of its own example alone.
  const single = test.slice(0, 40).map((e) => classifySequences(model, [e], IDS.pad)[0]);
  assert.deepEqual(predictions.slice(0, 40), single);
  assert.ok(model.training, 'classifying leaves the model in the mode it was in');
  embedding.dispose();
  model.dispose();
  assert.equal(liveTensors(), before, 'no tensor leaked');
});

test('fine-tuning and classification refuse bad examples with clear errors', () => {
  const model = new BertForSequenceClassification(bertConfig({ hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32 }, { vocabSize: 100, maxPositionEmbeddings: 32 }), 2);
  const good = containsSeven(4, 0);
  const options = { model, padId: IDS.pad, batchSize: 2, epochs: 1, lr: 1e-3, seed: 0 };
  assertThrowsWith(() => fineTuneBert({ ...options, examples: [] }), /fineTuneBert: no examples/);
  assertThrowsWith(() => fineTuneBert({ ...options, examples: [...good, { ...good[0], label: 2 }] }), /fineTuneBert: example 4 has label 2, outside 0…1/);
  assertThrowsWith(() => classifySequences(model, [{ inputIds: [2, 10, 3], tokenTypeIds: [0, 0], label: 0 }], IDS.pad), /classifySequences: example 0 has 3 input ids and 2 token type ids/);
  model.dispose();
});

test('pre-training resumes exactly from a checkpoint inside an epoch: the same masks, dropout and steps as the uninterrupted run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-bert-resume-'));
  const config = bertConfig({ hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32 }, { vocabSize: 100, maxPositionEmbeddings: 64 });
  const pairs = createSentencePairs(syntheticCorpus(5).slice(0, 30), new Random(6), { maxSeqLength: 40 });
  const options = { pairs, ids: IDS, masking: { maxPredictions: 6, vocabSize: 100 }, maskingMode: 'dynamic' as const, batchSize: 16, epochs: 2, lr: 1e-3, warmup: 0.2, seed: 4 };
  const [path, midway] = [join(dir, 'checkpoint.safetensors'), join(dir, 'midway.safetensors')];
  try {
    manualSeed(1);
    const straight = new BertForPreTraining(config);
    const stepsPerEpoch = Math.ceil(pairs.length / 16);
    // A checkpoint every 2 steps; the copy taken during step 5 holds the state after step 4, inside the first epoch.
    const full = pretrainBert({ ...options, model: straight, checkpointPath: path, checkpointEvery: 2, onStep: (s) => s.globalStep === 5 && copyFileSync(path, midway) });
    assert.ok(stepsPerEpoch > 5, `${stepsPerEpoch} steps per epoch`);
    manualSeed(99);
    const resumed = new BertForPreTraining(config);
    const fromMidway = pretrainBert({ ...options, model: resumed, checkpointPath: midway, resume: true });
    assert.deepEqual(fromMidway.resumedFrom, { epoch: 0, step: 4 });
    assert.deepEqual(fromMidway.losses, full.losses, 'bit-for-bit equal losses');
    const [a, b] = [straight.stateDict(), resumed.stateDict()];
    for (const [key, value] of a) assertClose(b.get(key)!, value, { rtol: 0, atol: 0 }, key);
    straight.dispose();
    resumed.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
