// The Transformer layers against torch.nn 1.13 (fixtures from
// test/fixtures/make_transformer_fixtures.py): encoder and decoder layers and
// the whole Transformer, post-norm and pre-norm, sequence or batch first,
// with causal, padding and float masks, forward and gradients in training
// mode and the forward pass in evaluation mode; torch.nn's default keys and
// parameter count; bad input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { grad, manualSeed, noGrad, randn, scope, tensor, type Tensor, zeros } from '../../src/index.js';
import { LayerNorm } from '../../src/nn/layers.js';
import {
  generateSquareSubsequentMask,
  Transformer,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoderLayer,
  type TransformerLayerOptions,
} from '../../src/nn/transformer.js';
import type { Module } from '../../src/nn/module.js';
import { assertClose, assertThrowsWith, fixtureFile, maxAbs } from '../helpers.js';

const file = fixtureFile('nn/transformer.safetensors', 'make_transformer_fixtures.py');
const { get: fixture, prefixed } = file;

// float32 through a few layers against PyTorch: 1e-5 relative, with an absolute floor at 1e-5 of the output's scale.
function assertMatches(actual: Tensor, expected: Tensor, what: string): void {
  assertClose(actual, expected, { rtol: 1e-5, atol: 1e-5 * Math.max(maxAbs(expected), 1e-12) }, what);
}

// torch.nn's keyword options of a case, as NetLab's.
function optionsOf(name: string): TransformerLayerOptions & { dModel: number; nhead: number; numEncoderLayers?: number; numDecoderLayers?: number } {
  const o = JSON.parse(file.metadata[name]) as Record<string, unknown>;
  return {
    dModel: o.d_model as number,
    nhead: o.nhead as number,
    dimFeedforward: o.dim_feedforward as number,
    dropout: o.dropout as number,
    activation: (o.activation as 'relu' | 'gelu' | undefined) ?? 'relu',
    batchFirst: (o.batch_first as boolean | undefined) ?? false,
    normFirst: (o.norm_first as boolean | undefined) ?? false,
    numEncoderLayers: o.num_encoder_layers as number | undefined,
    numDecoderLayers: o.num_decoder_layers as number | undefined,
  };
}

type Call = (module: Module, inputs: Map<string, Tensor>) => Tensor;

const encoderCall: Call = (m, x) => (m as TransformerEncoderLayer).forward(x.get('src')!, { mask: x.get('mask'), srcKeyPaddingMask: x.get('src_key_padding_mask') });
const decoderCall: Call = (m, x) =>
  (m as TransformerDecoderLayer).forward(x.get('tgt')!, x.get('memory')!, {
    tgtMask: x.get('tgt_mask'),
    memoryMask: x.get('memory_mask'),
    tgtKeyPaddingMask: x.get('tgt_key_padding_mask'),
    memoryKeyPaddingMask: x.get('memory_key_padding_mask'),
  });
const transformerCall: Call = (m, x) =>
  (m as Transformer).forward(x.get('src')!, x.get('tgt')!, {
    tgtMask: x.get('tgt_mask'),
    srcKeyPaddingMask: x.get('src_key_padding_mask'),
    tgtKeyPaddingMask: x.get('tgt_key_padding_mask'),
    memoryKeyPaddingMask: x.get('memory_key_padding_mask'),
  });

function build(name: string): Module {
  const { dModel, nhead, ...o } = optionsOf(name);
  if (name.startsWith('encoder_layer')) return new TransformerEncoderLayer(dModel, nhead, o);
  if (name.startsWith('decoder_layer')) return new TransformerDecoderLayer(dModel, nhead, o);
  return new Transformer({ dModel, nhead, ...o });
}

function checkCase(name: string, call: Call): void {
  const module = build(name);
  module.loadStateDict(prefixed(`${name}/sd/`));
  const inputs = prefixed(`${name}/in/`);
  scope(() => {
    module.train();
    const differentiable = new Map([...inputs].map(([k, t]) => [k, ['src', 'tgt', 'memory'].includes(k) ? t.clone().requiresGrad_(true) : t]));
    const out = call(module, differentiable);
    assertMatches(out, fixture(`${name}/train`), `${name}: train-mode output`);
    const params = module.namedParameters();
    const wrt = [...params.map(([, p]) => p), ...[...differentiable].filter(([k]) => ['src', 'tgt', 'memory'].includes(k)).map(([, t]) => t)];
    const grads = grad(out.mul(fixture(`${name}/cot`)).sum(), wrt);
    params.forEach(([key], i) => assertMatches(grads[i]!, fixture(`${name}/grad/${key}`), `${name}: grad of ${key}`));
    [...differentiable].filter(([k]) => ['src', 'tgt', 'memory'].includes(k)).forEach(([k], j) => assertMatches(grads[params.length + j]!, fixture(`${name}/grad/in/${k}`), `${name}: grad of ${k}`));
    module.eval();
    assertMatches(noGrad(() => call(module, inputs)), fixture(`${name}/eval`), `${name}: eval-mode output`);
  });
  module.dispose();
}

describe('Transformer layers equal torch.nn 1.13 on the same weights', () => {
  for (const norm of ['post', 'pre']) {
    for (const layout of ['sf', 'bf']) {
      const tag = `${norm}_${layout}`;
      const what = `${norm}-norm, ${layout === 'bf' ? 'batch first' : 'sequence first'}`;
      test(`TransformerEncoderLayer, ${what}, causal and padding masks`, () => checkCase(`encoder_layer_${tag}`, encoderCall));
      test(`TransformerEncoderLayer, ${what}, no masks`, () => checkCase(`encoder_layer_${tag}_nomask`, encoderCall));
      test(`TransformerDecoderLayer, ${what}, causal and padding masks`, () => checkCase(`decoder_layer_${tag}`, decoderCall));
      test(`Transformer (2 + 2 layers), ${what}, causal and padding masks`, () => checkCase(`transformer_${tag}`, transformerCall));
    }
  }
  test('TransformerDecoderLayer with a float memory mask and a per-head (N·heads, T, T) target mask', () => checkCase('decoder_layer_float_masks', decoderCall));
});

describe('Transformer: layout and masks', () => {
  test("torch.nn.Transformer()'s state-dict keys, shapes and parameter count", () => {
    const model = new Transformer();
    const sd = model.stateDict();
    assert.deepEqual([...sd].map(([k, t]) => [k, [...t.shape]]), JSON.parse(file.metadata.transformer_default_keys));
    assert.equal(model.parameters().reduce((n, p) => n + p.numel(), 0), Number(file.metadata.transformer_default_parameters));
    for (const t of sd.values()) t.dispose();
    model.dispose();
  });

  test('generateSquareSubsequentMask equals torch.nn.Transformer.generate_square_subsequent_mask', () => {
    const mask = generateSquareSubsequentMask(5);
    assert.deepEqual(mask.toArray(), fixture('causal5').toArray());
    mask.dispose();
  });
});

describe('Transformer: bad input', () => {
  test('dModel not divisible by the heads, and other impossible options', () => {
    assertThrowsWith(() => new TransformerEncoderLayer(10, 3), /nhead \(3\) must be a positive integer dividing dModel \(10\)/);
    assertThrowsWith(() => new Transformer({ dModel: 16, nhead: 5 }), /nhead \(5\) must be a positive integer dividing dModel \(16\)/);
    assertThrowsWith(() => new TransformerDecoderLayer(16, 2, { activation: 'tanh' as never }), /activation must be 'relu' or 'gelu'/);
    assertThrowsWith(() => new TransformerEncoderLayer(16, 2, { dropout: 1.5 }), /dropout must be in \[0, 1\]/);
    assertThrowsWith(() => new Transformer({ numEncoderLayers: 0 }), /numLayers must be a positive integer/);
  });

  test('masks of the wrong shape', () => {
    const layer = new TransformerEncoderLayer(16, 2, { dimFeedforward: 32 });
    const x = zeros([5, 3, 16]);
    assertThrowsWith(() => layer.forward(x, { mask: zeros([4, 4]) }), /attnMask must be \(5, 5\) or \(6, 5, 5\)/);
    assertThrowsWith(() => layer.forward(x, { srcKeyPaddingMask: zeros([3, 4], { dtype: 'bool' }) }), /keyPaddingMask must be \(3, 5\)/);
    layer.dispose();
    x.dispose();
  });

  test('masks of the wrong dtype', () => {
    const layer = new TransformerEncoderLayer(16, 2, { dimFeedforward: 32 });
    const x = zeros([5, 3, 16]);
    assertThrowsWith(() => layer.forward(x, { mask: zeros([5, 5], { dtype: 'int64' }) }), /attnMask must be bool .* or floating point/);
    assertThrowsWith(() => layer.forward(x, { srcKeyPaddingMask: zeros([3, 5], { dtype: 'int32' }) }), /keyPaddingMask must be bool .* or floating point/);
    layer.dispose();
    x.dispose();
  });

  test('inputs whose width is not dModel, or whose batch sizes differ', () => {
    const model = new Transformer({ dModel: 16, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 32 });
    assertThrowsWith(() => model.forward(zeros([5, 3, 12]), zeros([4, 3, 16])), /the feature number of src must be equal to dModel 16/);
    assertThrowsWith(() => model.forward(zeros([5, 3, 16]), zeros([4, 2, 16])), /the batch number of src .* and tgt .* must be equal/);
    assertThrowsWith(() => model.forward(zeros([5, 3, 16]), [1, 2] as never), /tgt must be a Tensor/);
    assertThrowsWith(() => generateSquareSubsequentMask(0), /size must be a positive integer/);
    model.dispose();
  });
});

describe("torch.nn's fused encoder layer", () => {
  test('in evaluation mode without gradients the fused kernel gives the composed layers\' output, with and without a padding mask, post-norm and pre-norm, relu and gelu', () => {
    for (const options of [{ normFirst: false, activation: 'relu' as const }, { normFirst: true, activation: 'gelu' as const }]) {
      manualSeed(3);
      const layer = new TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true, ...options });
      layer.eval();
      const x = randn([3, 5, 16]);
      const padding = tensor([[false, false, false, false, false], [false, false, false, true, true], [false, true, true, true, true]]);
      const takesFastPath = (masks: object) => (layer as unknown as { fastPathApplies(x: Tensor, m: object): boolean }).fastPathApplies(x, masks);
      for (const masks of [{}, { srcKeyPaddingMask: padding }]) {
        assert.ok(noGrad(() => takesFastPath(masks)) && !takesFastPath(masks), 'the fused kernel runs without gradients only');
        const fused = noGrad(() => layer.forward(x, masks));
        const composed = layer.forward(x, masks); // parameters that require grad, with grad enabled: the composed path
        assert.ok(composed.requiresGrad, 'the composed path records the graph');
        assertClose(fused, composed.detach(), { atol: 1e-5, rtol: 1e-5 }, `${JSON.stringify(options)} ${'srcKeyPaddingMask' in masks ? 'padded' : 'unpadded'}`);
        fused.dispose();
        composed.dispose();
      }
      // An attention mask, a float padding mask or training mode keep the composed path, as in torch.nn.
      const causal = generateSquareSubsequentMask(5);
      const floatPadding = zeros([3, 5]);
      assert.ok(noGrad(() => !takesFastPath({ mask: causal }) && !takesFastPath({ srcKeyPaddingMask: floatPadding })));
      layer.train();
      assert.ok(noGrad(() => !takesFastPath({})));
      for (const t of [x, padding, causal, floatPadding]) t.dispose();
      layer.dispose();
    }
  });
});

describe('TransformerDecoder.forwardStep', () => {
  test('pre-norm and post-norm: step by step with cached keys and values equals the causal full pass, to 1e-5', () => {
    for (const normFirst of [false, true]) {
      manualSeed(7);
      const decoder = new TransformerDecoder(() => new TransformerDecoderLayer(16, 2, { dimFeedforward: 32, batchFirst: true, normFirst }), 2, new LayerNorm(16));
      decoder.eval();
      noGrad(() =>
        scope(() => {
          const tgt = randn([3, 5, 16]);
          const memory = randn([3, 4, 16]);
          const memoryPadding = tensor([[false, false, false, false], [false, false, false, true], [false, false, true, true]]);
          const full = decoder.forward(tgt, memory, { tgtMask: generateSquareSubsequentMask(5), memoryKeyPaddingMask: memoryPadding });
          const cache = decoder.newCache();
          for (let t = 0; t < 5; t++) {
            const step = decoder.forwardStep(tgt.narrow(1, t, 1), memory, cache, memoryPadding);
            assertClose(step.squeeze(1), full.select(1, t), { rtol: 1e-5, atol: 1e-5 * maxAbs(full) }, `${normFirst ? 'pre' : 'post'}-norm, position ${t}`);
          }
          for (const c of cache) c.dispose();
        }),
      );
      decoder.dispose();
    }
  });

  test('refuses a sequence-first layer and a cache of the wrong depth', () => {
    const layer = new TransformerDecoderLayer(16, 2, { dimFeedforward: 32 });
    const decoder = new TransformerDecoder(() => new TransformerDecoderLayer(16, 2, { dimFeedforward: 32, batchFirst: true }), 2);
    scope(() => {
      assertThrowsWith(() => layer.forwardStep(zeros([3, 1, 16]), zeros([3, 4, 16]), decoder.newCache()[0]), /works batch first/);
      assertThrowsWith(() => decoder.forwardStep(zeros([3, 1, 16]), zeros([3, 4, 16]), []), /expected a cache of 2 layers/);
    });
    layer.dispose();
    decoder.dispose();
  });
});
