// Greedy decoding and beam search on the paper's model: greedy equals the
// argmax of full forward passes; beam search wide enough to keep every
// hypothesis finds the best length-penalised one that brute force finds;
// batching over inputs changes nothing; bad options are refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { F, manualSeed, noGrad, scope, tensor } from '../../src/index.js';
import { beamSearch, greedyDecode, lengthPenalty } from '../../src/models/decoding.js';
import { TRANSFORMER_PRESETS, transformerConfig, TransformerModel } from '../../src/models/transformer.js';
import { assertThrowsWith } from '../helpers.js';

const [PAD, BOS, EOS] = [0, 1, 2];

// A small random model over a 5-token vocabulary (pad, bos, eos and two symbols), untied: a tied generator would mostly repeat its input token.
function tinyModel(seed: number): TransformerModel {
  manualSeed(seed);
  const model = new TransformerModel(
    transformerConfig(TRANSFORMER_PRESETS.transformer_base, { srcVocab: 5, tgtVocab: 5, dModel: 16, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 32, dropout: 0, maxLen: 16, shareEmbeddings: false, tieGenerator: false }),
  );
  model.eval();
  return model;
}

// log P(tokens | src) from one full forward pass over [bos, tokens…] (the last token's own probability included).
function logProbOf(model: TransformerModel, src: number[], tokens: number[]): number {
  return noGrad(() =>
    scope(() => {
      const input = tensor([[BOS, ...tokens.slice(0, -1)]], { dtype: 'int64' });
      const logp = F.logSoftmax(model.forward(tensor([src], { dtype: 'int64' }), input), -1).select(0, 0); // (L, V)
      return tokens.reduce((sum, token, i) => sum + logp.select(0, i).select(0, token).item(), 0);
    }),
  );
}

describe('decoding', () => {
  test('greedy decoding takes the argmax of the full forward pass at every step, until eos or the maximum length', () => {
    const model = tinyModel(1);
    const src = [3, 4, 3];
    const [hypothesis] = greedyDecode(model, tensor([src], { dtype: 'int64' }), { bos: BOS, eos: EOS, maxExtraLength: 4 });
    const expected: number[] = [];
    noGrad(() =>
      scope(() => {
        for (let t = 0; t < 7; t++) {
          const logits = model.forward(tensor([src], { dtype: 'int64' }), tensor([[BOS, ...expected]], { dtype: 'int64' }));
          const next = logits.select(0, 0).select(0, t).add(tensor([-Infinity, -Infinity, 0, 0, 0])).argmax().item(); // never padding or bos
          if (next === EOS) break;
          expected.push(next);
        }
      }),
    );
    assert.deepEqual(hypothesis.tokens, expected);
    // maxLength caps the output, eos included; allowedTokens restricts it.
    const [capped] = greedyDecode(model, tensor([src], { dtype: 'int64' }), { bos: BOS, eos: EOS, maxLength: 2 });
    assert.deepEqual(capped.tokens, expected.slice(0, 2));
    for (const token of [3, 4]) {
      const [only] = greedyDecode(model, tensor([src], { dtype: 'int64' }), { bos: BOS, eos: EOS, maxLength: 5, allowedTokens: [token] });
      assert.ok(only.tokens.every((t) => t === token), `${only.tokens} holds only ${token} (and eos ends it)`);
    }
    const ended = hypothesis.tokens.length < 7;
    assert.ok(Math.abs(hypothesis.logProb - logProbOf(model, src, ended ? [...expected, EOS] : expected)) < 1e-4);
    model.dispose();
  });

  test('beam search wide enough to keep every hypothesis finds the best length-penalised output that brute force finds', () => {
    for (const seed of [2, 3, 6, 13]) {
      const model = tinyModel(seed);
      const src = [4];
      const maxLength = 3; // one source token plus maxExtraLength 2
      // Every output: ended by eos before the limit, or cut at it.
      const outputs: { tokens: number[]; ended: boolean }[] = [];
      const symbols = [3, 4]; // padding and bos are never generated
      const grow = (prefix: number[]) => {
        if (prefix.length < maxLength - 1) outputs.push({ tokens: [...prefix, EOS], ended: true });
        if (prefix.length === maxLength - 1) for (const last of [...symbols, EOS]) outputs.push({ tokens: [...prefix, last], ended: last === EOS });
        else for (const s of symbols) grow([...prefix, s]);
      };
      grow([]);
      assert.equal(outputs.length, 1 + 2 + 2 * 2 * 3);
      const alpha = 0.6;
      const scored = outputs.map(({ tokens, ended }) => ({ tokens: ended ? tokens.slice(0, -1) : tokens, score: logProbOf(model, src, tokens) / lengthPenalty(tokens.length, alpha) }));
      scored.sort((a, b) => b.score - a.score);
      const [best] = beamSearch(model, tensor([src], { dtype: 'int64' }), { bos: BOS, eos: EOS, maxExtraLength: 2, beamSize: 8, alpha });
      assert.deepEqual(best.tokens, scored[0].tokens, `seed ${seed}`);
      assert.ok(Math.abs(best.score - scored[0].score) < 1e-4, `seed ${seed}: ${best.score} vs ${scored[0].score}`);
      model.dispose();
    }
  });

  test('batched over inputs of different lengths, each input gets what it gets alone; beam 4 is no worse than greedy', () => {
    const model = tinyModel(5);
    const inputs = [[3, 4, 3, 4], [4, 3, PAD, PAD], [3, PAD, PAD, PAD]];
    const options = { bos: BOS, eos: EOS, maxExtraLength: 5, beamSize: 4, alpha: 0.6 };
    const batched = beamSearch(model, tensor(inputs, { dtype: 'int64' }), options);
    inputs.forEach((row, n) => {
      const [alone] = beamSearch(model, tensor([row.filter((t) => t !== PAD)], { dtype: 'int64' }), options);
      assert.deepEqual(batched[n].tokens, alone.tokens, `input ${n}`);
      assert.ok(Math.abs(batched[n].score - alone.score) < 1e-4);
      const [greedy] = beamSearch(model, tensor([row], { dtype: 'int64' }), { ...options, beamSize: 1 });
      assert.ok(batched[n].score >= greedy.score - 1e-6, `input ${n}: beam ${batched[n].score} < greedy ${greedy.score}`);
    });
    model.dispose();
  });

  test('bad options are refused', () => {
    const model = tinyModel(6);
    const src = tensor([[3, 4]], { dtype: 'int64' });
    assertThrowsWith(() => beamSearch(model, src, { bos: BOS, eos: EOS, beamSize: 0 }), /beamSize must be a positive integer, got number 0|beamSize must be a positive integer/);
    assertThrowsWith(() => beamSearch(model, src, { bos: BOS, eos: 9 }), /eos must be a target token id in \[0, 5\)/);
    assertThrowsWith(() => beamSearch(model, src, { bos: BOS, eos: EOS, alpha: -1 }), /alpha must be ≥ 0/);
    assertThrowsWith(() => greedyDecode(model, tensor([3, 4], { dtype: 'int64' }), { bos: BOS, eos: EOS }), /src must be \[N, S\] token ids/);
    assertThrowsWith(() => greedyDecode(model, tensor([[3, 7]], { dtype: 'int64' }), { bos: BOS, eos: EOS }), /src holds token ids in \[3, 7\], outside the vocabulary of 5/);
    assertThrowsWith(() => greedyDecode(model, src, { bos: BOS, eos: EOS, maxLength: 0 }), /maxLength must be a positive integer/);
    assertThrowsWith(() => greedyDecode(model, src, { bos: BOS, eos: EOS, allowedTokens: [3, 5] }), /allowedTokens must be target token ids in \[0, 5\)/);
    src.dispose();
    model.dispose();
  });
});
