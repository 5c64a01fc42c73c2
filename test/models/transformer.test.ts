// The paper's model (src/models/transformer.ts) against the same composition
// built in PyTorch from torch.nn.Transformer (fixtures from
// test/fixtures/make_transformer_fixtures.py), tied and untied; the position
// encodings; the presets' parameter counts; tied weights in the state dict;
// bad input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { grad, noGrad, scope, tensor, zeros } from '../../src/index.js';
import {
  sinusoidalPositionEncoding,
  TRANSFORMER_PRESETS,
  transformerConfig,
  transformerModel,
  TransformerModel,
  transformerParameterCount,
} from '../../src/models/transformer.js';
import { assertClose, assertThrowsWith, fixtureFile, maxAbs } from '../helpers.js';

const file = fixtureFile('nn/transformer.safetensors', 'make_transformer_fixtures.py');
const { get: fixture, prefixed } = file;

const SMALL = { dModel: 16, nhead: 2, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 32, dropout: 0, padIdx: 0, maxLen: 64 };

function small(name: 'model_tied' | 'model_untied'): TransformerModel {
  const tied = name === 'model_tied';
  return new TransformerModel(transformerConfig(TRANSFORMER_PRESETS.transformer_base, { ...SMALL, srcVocab: 11, tgtVocab: tied ? 11 : 13, shareEmbeddings: tied, tieGenerator: tied }));
}

describe("the paper's model equals the same composition of torch.nn.Transformer in PyTorch", () => {
  for (const name of ['model_tied', 'model_untied'] as const) {
    test(`${name === 'model_tied' ? 'one vocabulary, all three matrices tied' : 'two vocabularies, nothing tied, generator with a bias'}: logits and gradients in training mode, logits in evaluation mode`, () => {
      const model = small(name);
      model.loadStateDict(prefixed(`${name}/sd/`));
      const [src, tgt] = [fixture(`${name}/in/src`), fixture(`${name}/in/tgt`)];
      scope(() => {
        model.train();
        const logits = model.forward(src, tgt);
        const scale = maxAbs(fixture(`${name}/train`));
        assertClose(logits, fixture(`${name}/train`), { rtol: 1e-5, atol: 1e-5 * scale }, 'train-mode logits');
        const params = model.namedParameters();
        const grads = grad(logits.mul(fixture(`${name}/cot`)).sum(), params.map(([, p]) => p));
        params.forEach(([key], i) => {
          const expected = fixture(`${name}/grad/${key}`);
          assertClose(grads[i]!, expected, { rtol: 1e-5, atol: 1e-5 * Math.max(maxAbs(expected), 1e-12) }, `grad of ${key}`);
        });
        assert.equal(params.length, [...file.tensors.keys()].filter((k) => k.startsWith(`${name}/grad/`)).length, 'PyTorch counts the same distinct parameters');
        model.eval();
        assertClose(noGrad(() => model.forward(src, tgt)), fixture(`${name}/eval`), { rtol: 1e-5, atol: 1e-5 * scale }, 'eval-mode logits');
      });
      model.dispose();
    });
  }

  test('the position encodings: sin at even and cos at odd dimensions, 10000^(2i/d_model)', () => {
    const pe = sinusoidalPositionEncoding(64, 16);
    assertClose(pe, fixture('position_encoding'), { rtol: 0, atol: 1e-6 });
    pe.dispose();
  });
});

describe('the presets and tied weights', () => {
  test('transformer_base and transformer_big: 63.1M and 214.2M parameters (the paper: 65M and 213M), tied matrices counted once', () => {
    assert.equal(transformerParameterCount(TRANSFORMER_PRESETS.transformer_base), 63_084_544);
    assert.equal(transformerParameterCount(TRANSFORMER_PRESETS.transformer_big), 214_249_472);
    const model = transformerModel('transformer_base');
    assert.equal(model.parameters().reduce((n, p) => n + p.numel(), 0), 63_084_544);
    const sd = model.stateDict();
    assert.deepEqual([...sd.keys()].slice(0, 3), ['src_embed.weight', 'tgt_embed.weight', 'transformer.encoder.layers.0.self_attn.in_proj_weight']);
    assert.ok(sd.has('generator.weight') && !sd.has('generator.bias') && sd.has('transformer.decoder.norm.weight'));
    assert.ok(sd.get('src_embed.weight')!.equal(sd.get('generator.weight')!), 'the tied copies are one matrix');
    for (const t of sd.values()) t.dispose();
    model.dispose();
    const untied = transformerConfig(TRANSFORMER_PRESETS.transformer_base, { tgtVocab: 30000, shareEmbeddings: false, tieGenerator: false });
    assert.equal(transformerParameterCount(untied), 63_084_544 + 30000 * 512 + 30000 * 512 + 30000);
  });

  test('loading refuses tied copies that disagree', () => {
    const model = small('model_tied');
    const sd = prefixed('model_tied/sd/');
    const changed = new Map(sd);
    changed.set('generator.weight', scope(() => sd.get('generator.weight')!.add(1)));
    assertThrowsWith(() => model.loadStateDict(changed), /'tgt_embed\.weight' and 'generator\.weight' are one tied matrix/);
    changed.get('generator.weight')!.dispose();
    model.dispose();
  });
});

describe("the paper's model: bad input", () => {
  const model = small('model_untied');

  test('d_model not divisible by the heads, and other impossible configurations', () => {
    assertThrowsWith(() => transformerConfig(TRANSFORMER_PRESETS.transformer_base, { nhead: 7 }), /d_model 512 is not divisible by the 7 heads/);
    assertThrowsWith(() => transformerConfig(TRANSFORMER_PRESETS.transformer_base, { tgtVocab: 100 }), /shared embeddings need one vocabulary/);
    assertThrowsWith(() => transformerConfig(TRANSFORMER_PRESETS.transformer_base, { padIdx: 40000 }), /padIdx must be a token id/);
    assertThrowsWith(() => transformerConfig(TRANSFORMER_PRESETS.transformer_base, { heads: 8 } as never), /unknown configuration field 'heads'/);
  });

  test('token ids outside the vocabulary, of a float dtype, or of the wrong rank', () => {
    const src = tensor([[1, 2, 3]], { dtype: 'int64' });
    assertThrowsWith(() => model.forward(src, tensor([[1, 13]], { dtype: 'int64' })), /tgt holds token ids in \[1, 13\], outside the vocabulary of 13/);
    assertThrowsWith(() => model.forward(tensor([[-1, 2]], { dtype: 'int64' }), tensor([[1]], { dtype: 'int64' })), /src holds token ids in \[-1, 2\]/);
    assertThrowsWith(() => model.forward(zeros([1, 3]), tensor([[1]], { dtype: 'int64' })), /src must hold integer token ids/);
    assertThrowsWith(() => model.forward(tensor([1, 2], { dtype: 'int64' }), tensor([[1]], { dtype: 'int64' })), /src must be \[N, L\] token ids/);
    assertThrowsWith(() => model.forward(src, tensor([[1], [2]], { dtype: 'int64' })), /must hold the same number of sequences/);
    assertThrowsWith(() => model.forward(zeros([1, 65], { dtype: 'int64' }), tensor([[1]], { dtype: 'int64' })), /src reaches position 65; the position encodings cover 64/);
    src.dispose();
  });

  test('weights of another preset', () => {
    const other = small('model_tied');
    const sd = other.stateDict();
    assertThrowsWith(() => model.loadStateDict(sd), /size mismatch for 'tgt_embed\.weight'|missing keys: 'generator\.bias'/);
    for (const t of sd.values()) t.dispose();
    other.dispose();
  });
});

describe('incremental decoding', () => {
  test("decodeStep with cached keys and values gives forward's logits at every position, to 1e-5", () => {
    for (const name of ['model_tied', 'model_untied'] as const) {
      const model = small(name);
      model.loadStateDict(prefixed(`${name}/sd/`));
      model.eval();
      const [src, tgt] = [fixture(`${name}/in/src`), fixture(`${name}/in/tgt`)];
      noGrad(() =>
        scope(() => {
          const full = model.forward(src, tgt); // [N, T, V]
          const { memory, padding } = model.encode(src);
          const cache = model.newCache();
          const tokens = tgt.toArray() as number[][];
          for (let t = 0; t < tgt.shape[1]; t++) {
            const logits = model.decodeStep(tgt.select(1, t), t, memory, padding, cache);
            // A padded target position is hidden from itself in the full pass (tgt's key padding mask); decoding has no padding.
            tokens.forEach((row, n) => {
              if (row[t] !== 0) assertClose(logits.select(0, n), full.select(1, t).select(0, n), { rtol: 1e-5, atol: 1e-5 * maxAbs(full) }, `${name}, sequence ${n}, position ${t}`);
            });
          }
          assert.deepEqual(cache[0].keys!.shape, [3, 2, tgt.shape[1], 8]);
          for (const c of cache) c.dispose();
        }),
      );
      model.dispose();
    }
  });

  test('decodeStep refuses a position the cache does not expect', () => {
    const model = small('model_untied');
    model.eval();
    noGrad(() =>
      scope(() => {
        const src = tensor([[3, 4, 5]], { dtype: 'int64' });
        const { memory, padding } = model.encode(src);
        const cache = model.newCache();
        assertThrowsWith(() => model.decodeStep(tensor([1], { dtype: 'int64' }), 2, memory, padding, cache), /the cache holds 0 positions, so the next is 0, not 2/);
        for (const c of cache) c.dispose();
      }),
    );
    model.dispose();
  });
});
