// Training the paper's model: the label-smoothed teacher-forced
// loss, the schedule, checkpoint averaging, perplexity, and a small model that
// learns real CMUdict pronunciations; pronounce() and the learned-position
// variant.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.js';
import * as F from '../../src/nn/functional.js';
import { encodePhonemes, encodeWord, G2P_VOCAB, loadCmudict } from '../../src/data/cmudict.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { pronounce } from '../../src/models/g2p.js';
import { transformerModel, transformerParameterCount, TRANSFORMER_PRESETS } from '../../src/models/transformer.js';
import { g2pPairs } from '../../src/experiments/transformer-g2p.js';
import { averageCheckpoints, sequenceLoss, sequencePerplexity, trainTransformer } from '../../src/train/seq2seq.js';
import { assertClose, assertThrowsWith } from '../helpers.js';

// transformer_g2p's vocabulary at a size that trains in seconds.
const TINY = { dModel: 64, nhead: 4, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 128, dropout: 0 };

let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), 'netlab-seq2seq-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the objective and the schedule', () => {
  test('sequenceLoss: the decoder reads tgt without its last token and predicts tgt without bos; ε-smoothed cross-entropy over non-padding tokens', () => {
    manualSeed(0);
    const model = transformerModel('transformer_g2p', TINY);
    model.eval();
    const src = tensor([[3, 4, 5, 2], [6, 2, 0, 0]], { dtype: 'int64' });
    const tgt = tensor([[1, 40, 41, 2], [1, 42, 2, 0]], { dtype: 'int64' });
    const eps = 0.1;
    noGrad(() =>
      scope(() => {
        const loss = sequenceLoss({ labelSmoothing: eps, padIdx: 0 })(model, src, tgt);
        // By hand: log-probabilities of the teacher-forced logits; (1 − ε)·NLL + ε·mean over the vocabulary of −log p, averaged over the 5 real targets.
        const logp = F.logSoftmax(model.forward(src, tgt.narrow(1, 0, 3)), -1).toArray() as number[][][];
        const targets = [[40, 41, 2], [42, 2, 0]];
        let sum = 0;
        let n = 0;
        targets.forEach((row, i) => row.forEach((y, t) => {
          if (y === 0) return;
          const p = logp[i][t];
          sum += (1 - eps) * -p[y] + (eps * -p.reduce((a, b) => a + b, 0)) / p.length;
          n++;
        }));
        assert.ok(Math.abs(loss.item() - sum / n) < 1e-5, `loss ${loss.item()} against ${sum / n} by hand`);
      }),
    );
    for (const t of [src, tgt]) t.dispose();
    model.dispose();
  });

  test('a small model learns 48 real pronunciations: the lr follows d^-0.5·min(s^-0.5, s·w^-1.5), the loss falls, greedy decoding spells them out, the last checkpoints are averaged', () => {
    const entries = loadCmudict({ split: 'train' }).filter((e) => e.references.length === 1 && e.word.length <= 6 && /^[A-Z]+$/.test(e.word)).slice(0, 48);
    manualSeed(0);
    const model = transformerModel('transformer_g2p', TINY);
    const snapshotDir = join(dir, 'snapshots');
    const optimizerLrs: number[] = []; // the optimizer's rate after each step: the next step's
    const run = trainTransformer({
      model, pairs: g2pPairs(entries), maxTokens: 512, epochs: 150, warmupSteps: 40, lrFactor: 0.25, labelSmoothing: 0.1, seed: 0,
      snapshotDir, snapshotSeconds: 1e-6, averageLast: 3, onStep: (info) => optimizerLrs.push(info.lr),
    });
    const rate = (s: number) => 0.25 * 64 ** -0.5 * Math.min(s ** -0.5, s * 40 ** -1.5);
    assert.equal(run.lrs.length, run.losses.length);
    run.lrs.forEach((lr, i) => assert.ok(Math.abs(lr - rate(i + 1)) < 1e-9, `step ${i + 1}: lr ${lr}`));
    optimizerLrs.forEach((lr, i) => assert.ok(Math.abs(lr - rate(i + 2)) < 1e-9, `after step ${i + 1}: the optimizer's lr ${lr}`));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(run.losses.slice(-20)) < 0.5 * mean(run.losses.slice(0, 20)), `loss ${mean(run.losses.slice(0, 20))} → ${mean(run.losses.slice(-20))}`);
    // Snapshots after every step: the newest three are kept and averaged into the model.
    assert.equal(run.averaged.length, 3);
    assert.deepEqual(readdirSync(snapshotDir).length, 3);
    const total = run.losses.length;
    assert.deepEqual(run.averaged.map((f) => Number(/step-(\d+)/.exec(f)![1])), [total - 2, total - 1, total]);
    const expected = averageCheckpoints(run.averaged);
    try {
      for (const [name, p] of model.stateDict()) assertClose(p, expected.get(name)!, { atol: 1e-6 }, name);
    } finally {
      for (const t of expected.values()) t.dispose();
    }
    const predictions = pronounce(model, entries.map((e) => e.word), { beamSize: 1 });
    const right = predictions.filter((p, i) => p.join(' ') === entries[i].references[0].join(' ')).length;
    assert.ok(right >= 40, `${right} of 48 training words pronounced right`);
    // Beam search finds hypotheses at least as probable under the length penalty: here, as many words right.
    const beam = pronounce(model, entries.map((e) => e.word), { beamSize: 4 });
    assert.ok(beam.filter((p, i) => p.join(' ') === entries[i].references[0].join(' ')).length >= right - 2);
    // Perplexity: exp of the mean NLL per target token, near 1 on memorised words.
    const { perplexity, nll, tokens } = sequencePerplexity(model, g2pPairs(entries), 512);
    assert.equal(tokens, entries.reduce((n, e) => n + e.references[0].length + 1, 0));
    assert.ok(Math.abs(perplexity - Math.exp(nll)) < 1e-9 && perplexity < 1.5, `perplexity ${perplexity}`);
    model.dispose();
  });

  test('averageCheckpoints is the element-wise mean, and refuses files that differ in their tensors', () => {
    const paths = [1, 2, 6].map((v, i) => {
      const path = join(dir, `avg-${i}.safetensors`);
      scope(() => saveSafetensors(path, { w: tensor([v, 2 * v]), n: tensor([v], { dtype: 'int64' }) }));
      return path;
    });
    const mean = averageCheckpoints(paths);
    assert.deepEqual(mean.get('w')!.toArray(), [3, 6]);
    assert.equal(mean.get('w')!.dtype, 'float32');
    for (const t of mean.values()) t.dispose();
    const other = join(dir, 'avg-other.safetensors');
    scope(() => saveSafetensors(other, { w: tensor([1, 2, 3]), n: tensor([1], { dtype: 'int64' }) }));
    assertThrowsWith(() => averageCheckpoints([paths[0], other]), /'w' is .*\[3\].* but .*\[2\]/);
    const renamed = join(dir, 'avg-renamed.safetensors');
    scope(() => saveSafetensors(renamed, { v: tensor([1, 2]), n: tensor([1], { dtype: 'int64' }) }));
    assertThrowsWith(() => averageCheckpoints([paths[0], renamed]), /holds other tensors/);
    assertThrowsWith(() => averageCheckpoints([]), /no checkpoint files/);
  });
});

describe('the G2P model', () => {
  test('learned positions (Table 3, row E): one more matrix, position_embedding.weight, in the count and the state dict', () => {
    const sinusoidal = transformerModel('transformer_g2p', TINY);
    const learned = transformerModel('transformer_g2p', { ...TINY, positionEncoding: 'learned' });
    const keys = (m: typeof learned) => [...m.stateDict().keys()];
    assert.ok(!keys(sinusoidal).some((k) => k.startsWith('position')), 'the sinusoids are not in the state dict');
    assert.ok(keys(learned).includes('position_embedding.weight'));
    const count = (m: typeof learned) => m.parameters().reduce((n, p) => n + p.numel(), 0);
    assert.equal(count(learned) - count(sinusoidal), TRANSFORMER_PRESETS.transformer_g2p.maxLen * 64);
    assert.equal(count(learned), transformerParameterCount(learned.config));
    assertThrowsWith(() => transformerModel('transformer_g2p', { positionEncoding: 'rotary' as 'learned' }), /positionEncoding must be 'sinusoidal' or 'learned', got string rotary/);
    sinusoidal.dispose();
    learned.dispose();
  });

  test("crossAttention: each output row is a distribution over the source, nothing on padding", () => {
    manualSeed(1);
    const model = transformerModel('transformer_g2p', TINY);
    const src = tensor([[3, 4, 5, 2], [6, 2, 0, 0]], { dtype: 'int64' });
    const tgt = tensor([[1, 40, 41], [1, 42, 0]], { dtype: 'int64' });
    const w = model.crossAttention(src, tgt);
    assert.deepEqual(w.shape, [2, 3, 4]);
    scope(() => assertClose(w.sum(-1), tensor([[1, 1, 1], [1, 1, 1]]), { atol: 1e-5 }));
    const rows = w.toArray() as number[][][];
    assert.ok(rows[1].every((r) => r[2] === 0 && r[3] === 0), 'the padded source positions get no attention');
    assert.ok(model.training, 'the mode is restored');
    assertThrowsWith(() => model.crossAttention(src, tgt, 3), /layer 3 is not one of the 1 layers/);
    for (const t of [src, tgt, w]) t.dispose();
    model.dispose();
  });

  test('pronounce refuses beam 0, words outside the alphabet, an empty word and a model of another vocabulary', () => {
    const model = transformerModel('transformer_g2p', TINY);
    assertThrowsWith(() => pronounce(model, ['HELLO'], { beamSize: 0 }), /beam size must be a positive integer \(1 for greedy decoding\), got number 0/);
    assertThrowsWith(() => pronounce(model, ['HELLO', 'WORLD2']), /'WORLD2' has the character "2"/);
    assertThrowsWith(() => pronounce(model, ['']), /expected a word, got ""/);
    const other = transformerModel('transformer_base', { ...TINY, srcVocab: 100, tgtVocab: 100 });
    assertThrowsWith(() => pronounce(other, ['HELLO']), /hold 100 and 100 tokens, not the 71 of the G2P vocabulary/);
    other.dispose();
    // An untrained model still only says phonemes: the output is restricted to them.
    const [p] = pronounce(model, ['QUEUE'], { beamSize: 2 });
    assert.ok(p.every((ph) => G2P_VOCAB.indexOf(ph) >= 32), p.join(' '));
    model.dispose();
  });

  test('the G2P pairs: letters and eos to bos, phonemes, eos; one pair per pronunciation', () => {
    const pairs = g2pPairs([{ word: 'READ', references: [['R', 'IY', 'D'], ['R', 'EH', 'D']] }]);
    assert.deepEqual(pairs, [
      { src: encodeWord('READ'), tgt: encodePhonemes(['R', 'IY', 'D']) },
      { src: encodeWord('READ'), tgt: encodePhonemes(['R', 'EH', 'D']) },
    ]);
  });
});
