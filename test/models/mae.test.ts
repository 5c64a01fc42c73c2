// The masked autoencoder against the official models_mae.py (fixtures from
// test/fixtures/make_mae_fixtures.py): a small model with random weights at
// three settings, mae_vit_base_patch16 with formula weights, the 2-D
// sine-cosine position embeddings, every preset's keys and parameter count;
// the invariants of masking and the loss; the encoder in NetLab's ViT; and
// bad inputs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { arange, grad, manualSeed, rand, randint, scope, Tensor, zeros } from '../../src/index.js';
import { getModel, getModelEntry, listModels, parameterCount } from '../../src/models/registry.js';
import { get2dSincosPosEmbed, lenKeep, MAE_PRESETS, maeConfig, maeParameterCount, maskedAutoencoder, MaskedAutoencoderViT, type MaeConfig, type MaePreset } from '../../src/models/mae.js';
import { visionTransformer } from '../../src/models/vit.js';
import { layerDecayGroups, loadMaeEncoder, weightDecayGroups } from '../../src/train/mae.js';
import { LARS } from '../../src/optim/lars.js';
import { assertClose, assertThrowsWith, fixtureFile, maxAbs } from '../helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/models/', import.meta.url));
const file = fixtureFile('models/mae.safetensors', 'make_mae_fixtures.py');
const { get: fixture, prefixed } = file;
const presets = (JSON.parse(readFileSync(`${FIXTURES}mae_presets.json`, 'utf8')) as { presets: Record<string, { learnable_parameters: number; state_dict: [string, number[]][] }> }).presets;

// The fixture script's small configuration.
const SMALL: MaeConfig = maeConfig(MAE_PRESETS.mae_vit_base_patch16, {
  imageSize: 16, patchSize: 4, inChannels: 3, embedDim: 16, depth: 2, numHeads: 2, decoderEmbedDim: 12, decoderDepth: 1, decoderNumHeads: 2, mlpRatio: 2,
});




/** float32 through a dozen layers, against PyTorch: 1e-4 of the output's scale, as the issue states. */
function assertMatches(actual: Tensor, expected: Tensor, what: string): void {
  assertClose(actual, expected, { rtol: 1e-4, atol: 1e-4 * Math.max(maxAbs(expected), 1e-12) }, what);
}

describe('MAE: 2-D sine-cosine position embeddings', () => {
  for (const [dim, grid] of [[16, 4], [12, 4], [64, 4], [768, 14]]) {
    test(`equal the official get_2d_sincos_pos_embed(${dim}, ${grid}, cls_token=True) to 1e-6`, () => {
      const ours = get2dSincosPosEmbed(dim, grid, true);
      assertClose(ours, fixture(`pos/d${dim}_g${grid}`), { rtol: 0, atol: 1e-6 });
      ours.dispose();
    });
  }

  test('are fixed buffers of the model, not parameters, under the official keys', () => {
    const model = new MaskedAutoencoderViT(SMALL);
    const names = model.namedParameters().map(([n]) => n);
    assert.ok(!names.includes('pos_embed') && !names.includes('decoder_pos_embed'));
    const sd = model.stateDict();
    assert.deepEqual(sd.get('pos_embed')!.shape, [1, 17, 16]);
    assert.deepEqual(sd.get('decoder_pos_embed')!.shape, [1, 17, 12]);
    for (const t of sd.values()) t.dispose();
    model.dispose();
  });
});

describe('MAE: parity with the official models_mae.py (small model, random weights)', () => {
  const cases = [
    ['r75', 0.75, false],
    ['r50', 0.5, false],
    ['r75_normpix', 0.75, true],
  ] as const;
  for (const [name, ratio, normPix] of cases) {
    test(`${name}: loss, pred, mask, latent, ids_restore and every gradient`, () => {
      const model = new MaskedAutoencoderViT({ ...SMALL, normPixLoss: normPix });
      model.loadStateDict(prefixed('small/sd/'));
      const imgs = fixture('small/imgs');
      const noise = fixture('small/noise');
      scope(() => {
        const { latent, mask, idsRestore } = model.forwardEncoder(imgs, ratio, noise);
        assertMatches(latent, fixture(`small/${name}/latent`), 'latent');
        assert.deepEqual(idsRestore.toArray(), fixture(`small/${name}/ids_restore`).toArray());
        assert.deepEqual(mask.toArray(), fixture(`small/${name}/mask`).toArray());
        const out = model.forward(imgs, { maskRatio: ratio, noise });
        assertMatches(out.loss, fixture(`small/${name}/loss`), 'loss');
        assertMatches(out.pred, fixture(`small/${name}/pred`), 'pred');
        const params = model.namedParameters();
        const grads = grad(out.loss, params.map(([, p]) => p)).map((g) => g!);
        params.forEach(([key], i) => assertMatches(grads[i], fixture(`small/${name}/grad/${key}`), `grad ${key}`));
        assert.equal(params.length, [...file.tensors.keys()].filter((k) => k.startsWith(`small/${name}/grad/`)).length, 'one gradient per learnable parameter');
      });
      model.dispose();
    });
  }
});

// The fixture script's formula weights: key k of the state dict (in order), flat index i:
// 0.02·sin(0.7·i + 1.3·k), computed in float64, stored as float32; LayerNorm weights 1 + that.
function formulaWeights(model: MaskedAutoencoderViT): void {
  const weights = new Map<string, Tensor>();
  const sd = model.stateDict();
  [...sd].forEach(([key, t], k) => {
    if (key === 'pos_embed' || key === 'decoder_pos_embed') return weights.set(key, t.clone());
    const v = scope(() => arange(t.numel(), { dtype: 'float64' }).mul(0.7).add(1.3 * k).sin().mul(0.02));
    const w = scope(() => (/(^|\.|_)norm\d?\.weight$/.test(key) ? v.add(1) : v).reshape(...t.shape).float());
    v.dispose();
    weights.set(key, w);
  });
  model.loadStateDict(weights);
  for (const t of [...sd.values(), ...weights.values()]) t.dispose();
}

describe('MAE: parity with the official models_mae.py (mae_vit_base_patch16)', () => {
  test('the same formula weights, images and noise give the same loss, mask, predictions and gradients', () => {
    const model = maskedAutoencoder('mae_vit_base_patch16');
    formulaWeights(model);
    scope(() => {
      const imgs = arange(2 * 3 * 224 * 224, { dtype: 'float64' }).mul(0.0137).sin().float().reshape(2, 3, 224, 224);
      const out = model.forward(imgs, { maskRatio: 0.75, noise: fixture('base/noise') });
      assertMatches(out.loss, fixture('base/loss'), 'loss');
      assert.deepEqual(out.mask.toArray(), fixture('base/mask').toArray());
      assertMatches(out.pred.narrow(1, 0, 8), fixture('base/pred_head'), 'pred[:, :8]');
      assertMatches(out.pred.sum(-1), fixture('base/pred_sum'), 'pred.sum(-1)');
      assertMatches(out.pred.abs().sum(-1), fixture('base/pred_abs_sum'), 'pred.abs().sum(-1)');
      const params = model.namedParameters();
      const grads = grad(out.loss, params.map(([, p]) => p)).map((g) => g!);
      // The formula's rank-2 matrices make the encoder's gradients tiny (1e-12 to 1e-8) but real; compare them relatively (a float64 run of the
      // official code agrees with its float32 run to 9e-5 relative at worst).
      params.forEach(([key], i) => {
        const norm = grads[i].double().norm().item();
        const expected = fixture(`base/grad_norm/${key}`).item();
        assert.ok(Math.abs(norm - expected) <= 1e-3 * expected + 1e-20, `grad norm of ${key}: ${norm} vs ${expected}`);
      });
      for (const key of ['cls_token', 'mask_token', 'norm.weight', 'decoder_pred.bias', 'blocks.11.norm2.bias']) {
        const i = params.findIndex(([k]) => k === key);
        assertClose(grads[i], fixture(`base/grad/${key}`), { rtol: 1e-3, atol: 1e-3 * maxAbs(fixture(`base/grad/${key}`)) }, `grad ${key}`);
      }
    });
    model.dispose();
  });
});

describe('MAE: presets', () => {
  for (const name of ['mae_vit_base_patch16', 'mae_vit_large_patch16', 'mae_vit_huge_patch14'] as const) {
    test(`${name}: the official state-dict keys and shapes, and its learnable parameter count`, () => {
      const reference = presets[name];
      const config = maeConfig(MAE_PRESETS[name]);
      assert.equal(maeParameterCount(config), reference.learnable_parameters);
      assert.equal(getModelEntry(name, 'masked-image-modeling').parameterCount, reference.learnable_parameters);
      if (name === 'mae_vit_base_patch16') {
        const model = getModel(name);
        const sd = model.stateDict();
        assert.deepEqual([...sd].map(([k, t]) => [k, [...t.shape]]), reference.state_dict);
        assert.equal(parameterCount(model), reference.learnable_parameters);
        for (const t of sd.values()) t.dispose();
        model.dispose();
      }
    });
  }

  test('the registry lists the MAE presets under their task, with the ViT each encoder loads into', () => {
    assert.deepEqual(listModels('masked-image-modeling'), ['mae_vit_base_patch16', 'mae_vit_huge_patch14', 'mae_vit_large_patch16', 'mae_vit_tiny_mnist']);
    const entry = getModelEntry('mae_vit_tiny_mnist', 'masked-image-modeling');
    assert.equal(entry.encoder, 'vit_tiny_mnist');
    assert.deepEqual(entry.inputSize, [1, 28, 28]);
    assert.equal(entry.patchSize, 7);
  });

  test('the official initialisation: xavier-uniform linears and patch projection, N(0, 0.02²) tokens, zero biases', () => {
    manualSeed(0);
    const model = maskedAutoencoder('mae_vit_base_patch16', { depth: 1, decoderDepth: 1 });
    const std = (t: Tensor) => scope(() => t.std().item());
    const fc1 = (model.blocks.children()[0] as any).mlp.fc1.weight as Tensor; // 3072 × 768
    assert.ok(Math.abs(std(fc1) - Math.sqrt(2 / (768 + 3072))) < 0.02 * Math.sqrt(2 / (768 + 3072)));
    const proj = model.patch_embed.proj.weight; // xavier over (768, 3·16·16)
    assert.ok(Math.abs(std(proj) - Math.sqrt(2 / (768 + 768))) < 0.02 * Math.sqrt(2 / 1536));
    assert.ok(Math.abs(std(model.cls_token) - 0.02) < 0.005 && Math.abs(std(model.mask_token) - 0.02) < 0.005);
    assert.equal(maxAbs(model.decoder_pred.bias!), 0);
    model.dispose();
  });
});

describe('MAE: invariants', () => {
  const model = maskedAutoencoder('mae_vit_tiny_mnist');

  test('exactly ⌊L·(1 − ratio)⌋ patches are kept per sample, for every ratio', () => {
    for (const ratio of [0, 0.25, 0.5, 0.6, 0.75, 0.9, 0.99]) {
      scope(() => {
        const x = rand([5, 16, 8]);
        const { xMasked, mask } = model.randomMasking(x, ratio);
        const keep = lenKeep(16, ratio);
        assert.deepEqual(xMasked.shape, [5, keep, 8]);
        assert.deepEqual(mask.sum(1).toArray(), Array(5).fill(16 - keep));
      });
    }
  });

  test('the kept tokens are those of the smallest noise, in order of their noise, and idsRestore undoes the shuffle', () => {
    scope(() => {
      const x = arange(16, { dtype: 'float32' }).reshape(1, 16, 1);
      const noise = rand([1, 16]);
      const { xMasked, mask, idsRestore } = model.randomMasking(x, 0.75, noise);
      const order = noise.argsort({ dim: 1 }).narrow(1, 0, 4).float().reshape(1, 4, 1);
      assert.deepEqual(xMasked.toArray(), order.toArray());
      assert.deepEqual(noise.argsort({ dim: 1 }).gather(1, idsRestore).toArray(), [Array.from({ length: 16 }, (_, i) => i)]);
      assert.deepEqual(mask.toArray(), [Array.from({ length: 16 }, (_, i) => (order.flatten().toArray() as number[]).includes(i) ? 0 : 1)]);
    });
  });

  test('unpatchify(patchify(x)) equals x, and a patch holds its pixels row by row', () => {
    scope(() => {
      const x = rand([3, 1, 28, 28]);
      assert.ok(model.unpatchify(model.patchify(x)).equal(x));
      const first = model.patchify(x).select(1, 1).select(0, 0); // patch (0, 1): rows 0–6, columns 7–13
      assert.ok(first.equal(x.select(0, 0).select(0, 0).narrow(0, 0, 7).narrow(1, 7, 7).flatten()));
      const base = maskedAutoencoder('mae_vit_base_patch16', { depth: 1, decoderDepth: 1 });
      const rgb = rand([2, 3, 224, 224]);
      assert.ok(base.unpatchify(base.patchify(rgb)).equal(rgb));
      // (row, column, channel) order within a patch, as the official einsum 'nchpwq->nhwpqc'.
      assert.ok(base.patchify(rgb).select(1, 0).select(0, 0).narrow(0, 0, 3).equal(rgb.select(0, 0).select(1, 0).select(1, 0)));
      base.dispose();
    });
  });

  test('the loss ignores visible patches: changing a visible patch changes neither the loss nor its gradient', () => {
    scope(() => {
      manualSeed(3);
      const imgs = rand([2, 1, 28, 28]);
      const noise = rand([2, 16]);
      const { loss, mask, pred } = model.forward(imgs, { maskRatio: 0.75, noise });
      // The loss read with a target changed on the kept patches only.
      const patches = model.patchify(imgs);
      const visible = mask.neg().add(1).unsqueeze(-1); // 1 where kept
      const changedTarget = model.unpatchify(patches.add(visible.mul(rand(patches.shape))));
      const again = model.forwardLoss(changedTarget, pred, mask);
      assert.equal(again.item(), loss.item());
      // And it moves when a removed patch's target changes.
      const removedChanged = model.unpatchify(patches.add(mask.unsqueeze(-1).mul(0.5)));
      assert.notEqual(model.forwardLoss(removedChanged, pred, mask).item(), loss.item());
    });
  });

  test('the same noise gives the same masking and outputs; other noise another', () => {
    scope(() => {
      const imgs = rand([2, 1, 28, 28]);
      const noise = rand([2, 16]);
      model.eval();
      const a = model.forward(imgs, { noise });
      const b = model.forward(imgs, { noise });
      assert.ok(a.pred.equal(b.pred) && a.mask.equal(b.mask));
      const c = model.forward(imgs, { noise: rand([2, 16]) });
      assert.ok(!c.mask.equal(a.mask));
    });
  });
});

describe('MAE: the encoder as a classifier', () => {
  test("loadMaeEncoder puts the MAE encoder's weights into NetLab's ViT, which then computes the encoder's function", () => {
    manualSeed(1);
    const mae = maskedAutoencoder('mae_vit_tiny_mnist');
    const vit = visionTransformer('vit_tiny_mnist');
    loadMaeEncoder(vit, mae);
    scope(() => {
      const imgs = rand([3, 1, 28, 28]);
      // With nothing removed (ratio 0) the MAE encoder sees every patch in the order of the noise; the identity order keeps them in place.
      const noise = arange(16, { dtype: 'float32' }).div(16).unsqueeze(0).expand(3, 16).contiguous();
      const { latent } = mae.forwardEncoder(imgs, 0, noise);
      const { tokens } = vit.forwardFeatures(imgs);
      assertClose(tokens, latent, { rtol: 1e-5, atol: 1e-5 });
    });
    mae.dispose();
    vit.dispose();
  });

  test('layer-wise lr decay: the stem at lr·d^(L+1), block i at lr·d^(L−i), the head at lr; no decay for 1-D weights and tokens', () => {
    const vit = visionTransformer('vit_tiny_mnist');
    const groups = layerDecayGroups(vit, { lr: 1, weightDecay: 0.05, layerDecay: 0.5 });
    const lrOf = (p: Tensor) => groups.find((g) => g.params.includes(p as never))!;
    assert.equal(lrOf(vit.conv_proj.weight).lr, 0.5 ** 5);
    assert.equal(lrOf(vit.class_token).lr, 0.5 ** 5);
    assert.equal(lrOf(vit.class_token).weightDecay, 0);
    assert.equal(lrOf(vit.encoder.blocks()[0].mlp.parameters()[0]).lr, 0.5 ** 4);
    assert.equal(lrOf(vit.encoder.blocks()[3].ln_1.weight!).lr, 0.5);
    assert.equal(lrOf(vit.encoder.blocks()[3].ln_1.weight!).weightDecay, 0);
    assert.equal(lrOf(vit.heads.head.weight).lr, 1);
    assert.equal(lrOf(vit.heads.head.weight).weightDecay, 0.05);
    assert.equal(groups.reduce((n, g) => n + g.params.length, 0), vit.parameters().length);
    const mae = maskedAutoencoder('mae_vit_tiny_mnist');
    const [decay, noDecay] = weightDecayGroups(mae, 0.05);
    assert.ok(decay.params.includes(mae.cls_token) && noDecay.params.includes(mae.norm.weight!) && noDecay.params.includes(mae.decoder_pred.bias!));
    vit.dispose();
    mae.dispose();
  });
});

describe('MAE: bad input', () => {
  const model = maskedAutoencoder('mae_vit_tiny_mnist');
  const imgs = zeros([2, 1, 28, 28]);

  test('a mask ratio outside [0, 1)', () => {
    for (const ratio of [1, -0.1, 1.5, Number.NaN]) assertThrowsWith(() => model.forward(imgs, { maskRatio: ratio }), /mask ratio must be a number in \[0, 1\)/);
    assertThrowsWith(() => model.forward(imgs, { maskRatio: '0.5' as never }), /mask ratio must be a number/);
  });

  test('an image size the patch does not divide, or another size than the position embeddings', () => {
    assertThrowsWith(() => model.forward(zeros([2, 1, 30, 30])), /square with a side the patch size 7 divides, got 30×30/);
    assertThrowsWith(() => model.forward(zeros([2, 1, 35, 35])), /position embeddings are for 28×28 images, got 35×35/);
    assertThrowsWith(() => model.forward(zeros([2, 1, 28, 21])), /must be square/);
    assertThrowsWith(() => maeConfig(MAE_PRESETS.mae_vit_tiny_mnist, { imageSize: 30 }), /patchSize 7 must divide imageSize 30/);
  });

  test('noise of the wrong shape or dtype', () => {
    assertThrowsWith(() => model.forward(imgs, { noise: rand([2, 15]) }), /noise must be \[N, L\] = \[2, 16\]/);
    assertThrowsWith(() => model.forward(imgs, { noise: rand([3, 16]) }), /noise must be \[N, L\] = \[2, 16\]/);
    assertThrowsWith(() => model.forward(imgs, { noise: randint(0, 5, [2, 16]) }), /noise must be floating point/);
  });

  test('a non-float image, a wrong channel count, a missing batch dimension, not a tensor', () => {
    assertThrowsWith(() => model.forward(zeros([2, 1, 28, 28], { dtype: 'uint8' })), /images must be floating point/);
    assertThrowsWith(() => model.forward(zeros([2, 3, 28, 28])), /expected images \[N, 1, 28, 28\]/);
    assertThrowsWith(() => model.forward(zeros([1, 28, 28])), /expected images \[N, 1, 28, 28\]/);
    assertThrowsWith(() => model.forward([1, 2, 3] as never), /expected images as a Tensor/);
  });

  test('weights of another preset', () => {
    const base = maskedAutoencoder('mae_vit_base_patch16', { depth: 1, decoderDepth: 1 });
    const sd = base.stateDict();
    assertThrowsWith(() => model.loadStateDict(sd), /size mismatch for 'cls_token'/, /missing keys: .*blocks\.1\./);
    for (const t of sd.values()) t.dispose();
    base.dispose();
  });

  test('configurations that cannot work', () => {
    assertThrowsWith(() => maeConfig(MAE_PRESETS.mae_vit_tiny_mnist, { numHeads: 5 }), /numHeads 5 must divide embedDim 64/);
    assertThrowsWith(() => maeConfig(MAE_PRESETS.mae_vit_tiny_mnist, { embedDim: 66, numHeads: 2 }), /embedDim must be a multiple of 4/);
    assertThrowsWith(() => maeConfig(MAE_PRESETS.mae_vit_tiny_mnist, { decoderDepht: 2 } as never), /unknown configuration field 'decoderDepht'/);
    assertThrowsWith(() => maskedAutoencoder('mae_vit_small' as MaePreset), /unknown preset 'mae_vit_small'/);
    assertThrowsWith(() => get2dSincosPosEmbed(10, 4), /multiple of 4/);
  });

  test('unpatchify of patches of the wrong width', () => {
    assertThrowsWith(() => model.unpatchify(zeros([2, 16, 48])), /expected patches \[N, L, 49\]/);
    assertThrowsWith(() => model.unpatchify(zeros([2, 15, 49])), /L a square/);
  });
});

describe('LARS (the official util/lars.py)', () => {
  test('four steps on a weight matrix, a bias and a zero matrix equal the official optimizer', () => {
    const params = [0, 1, 2].map((i) => fixture(`lars/init/${i}`).clone().requiresGrad_(true));
    const optimizer = new LARS(params, { lr: 0.5, weightDecay: 0.01, momentum: 0.9, trustCoefficient: 0.001 });
    for (let step = 0; step < 4; step++) {
      params.forEach((p, i) => {
        p.grad = fixture(`lars/grad${step}/${i}`).clone();
      });
      optimizer.step();
      params.forEach((p, i) => assertClose(p, fixture(`lars/after${step}/${i}`), { rtol: 1e-6, atol: 1e-7 }, `step ${step}, parameter ${i}`));
    }
    const state = optimizer.stateDict();
    assert.deepEqual(Object.keys(state.state[0]), ['mu']);
    optimizer.dispose();
    for (const p of params) p.dispose();
  });

  test('bad options are refused', () => {
    assertThrowsWith(() => new LARS([zeros([2, 2]).requiresGrad_(true)], { lr: -1 }), /learning rate/);
    assertThrowsWith(() => new LARS([zeros([2, 2]).requiresGrad_(true)], { lr: 1, trustCoefficient: -0.1 }), /trust_coefficient/);
  });
});
