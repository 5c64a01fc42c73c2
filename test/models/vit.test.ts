// The Vision Transformer against torchvision 0.14: small models with the same
// code paths (fixtures from test/fixtures/make_vit_fixtures.py), vit_b_16's
// state-dict keys and every builder's parameter count; the attention analyses
// on hand-made attention matrices; the timm-layout converter; bad inputs and a
// short training run.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { F, getNumThreads, nn, grad, liveTensors, manualSeed, noGrad, rand, randint, scope, setNumThreads, tensor, Tensor, zeros } from '../../src/index.js';
import { Adam } from '../../src/optim/index.js';
import { getModel, getModelEntry, listModels, parameterCount } from '../../src/models/registry.js';
import {
  attentionDistance,
  attentionRollout,
  classTokenMap,
  interpolatePosEmbedding,
  VIT_PRESETS,
  vitB16,
  vitConfig,
  vitParameterCount,
  VisionTransformer,
  type ViTConfig,
  type ViTPreset,
} from '../../src/models/vit.js';
import { convertTimmVit } from '../../src/models/vit-convert.js';
import { assertClose, assertThrowsWith, fixtureFile, maxAbs, type Tolerance } from '../helpers.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/models/', import.meta.url));
const file = fixtureFile('models/vit.safetensors', 'make_vit_fixtures.py');
const { get: fixture, prefixed } = file;
const reference = JSON.parse(readFileSync(`${FIXTURES}vit_b_16_keys.json`, 'utf8')) as {
  vit_b_16_state_dict: [string, number[]][];
  parameter_counts: Record<string, number>;
};

// The fixture script's SMALL configuration, and its 'pre_logits' variant.
const SMALL = vitConfig({ imageSize: 32, patchSize: 8, numLayers: 2, numHeads: 2, hiddenDim: 16, mlpDim: 32, numClasses: 10 });
const PRE_LOGITS: ViTConfig = { ...SMALL, representationSize: 12, imageSize: 30, patchSize: 6, numLayers: 1 };




/**
 * The whole network in float32 against torchvision: a dozen matrix products
 * and layer norms deep, both libraries' results differ by rounding of order
 * 1e-6 of the values' scale, so 1e-4 of the largest magnitude is a tight bound
 * that any wrong layer or key breaks by orders of magnitude.
 */
function scaled(expected: Tensor): Tolerance {
  return { rtol: 0, atol: 1e-4 * maxAbs(expected) };
}

/** Compares within `scaled` and returns the largest error relative to the scale, for the report. */
function compareScaled(actual: Tensor, expected: Tensor, what: string): number {
  assertClose(actual, expected, scaled(expected), what);
  return scope(() => actual.sub(expected).abs().max().item()) / maxAbs(expected);
}

function loaded(config: ViTConfig, name: string): VisionTransformer {
  const model = new VisionTransformer(config);
  model.loadStateDict(prefixed(`${name}/sd/`));
  return model;
}

// ---- parity --------------------------------------------------------------------------

for (const [name, config] of [['small', SMALL], ['pre_logits', PRE_LOGITS]] as const) {
  describe(`ViT '${name}' equals torchvision 0.14's VisionTransformer`, () => {
    const model = loaded(config, name);
    const x = fixture(`${name}/x`);

    test('logits in eval mode', (t) => {
      model.eval();
      const err = noGrad(() => scope(() => compareScaled(model.forward(x), fixture(`${name}/eval`), 'eval logits')));
      t.diagnostic(`max |error| / max |logit| = ${err.toExponential(2)}`);
    });

    test('logits in train mode (dropout 0) and the gradients of the loss for every parameter', (t) => {
      model.train();
      scope(() => {
        const logits = model.forward(x);
        const err = compareScaled(logits, fixture(`${name}/train`), 'train logits');
        const loss = F.crossEntropy(logits, fixture(`${name}/target`));
        const params = model.namedParameters();
        const grads = grad(loss, params.map(([, p]) => p));
        let worst = 0;
        params.forEach(([key], i) => {
          worst = Math.max(worst, compareScaled(grads[i]!, fixture(`${name}/grad/${key}`), `d loss / d ${key}`));
        });
        t.diagnostic(`logits ${err.toExponential(2)}; worst gradient (${params.length} parameters) ${worst.toExponential(2)}, relative to each tensor's max |value|`);
      });
    });

    test("every layer's attention weights per head", (t) => {
      model.eval();
      noGrad(() =>
        scope(() => {
          const { logits, attention } = model.forward(x, { returnAttention: true });
          compareScaled(logits, fixture(`${name}/eval`), 'logits with attention');
          assert.equal(attention.length, config.numLayers);
          const T = (config.imageSize / config.patchSize) ** 2 + 1;
          let worst = 0;
          attention.forEach((a, i) => {
            assert.deepEqual(a.shape, [2, config.numHeads, T, T]);
            // Weights lie in [0, 1]: an absolute bound of float32 rounding over a softmax.
            assertClose(a, fixture(`${name}/attn${i}`), { rtol: 0, atol: 1e-5 }, `attention of layer ${i}`);
            worst = Math.max(worst, maxAbs(a.sub(fixture(`${name}/attn${i}`))));
          });
          t.diagnostic(`attention max |error| = ${worst.toExponential(2)}`);
        }),
      );
    });
  });
}

test('dropout > 0 changes train-mode outputs only', () => {
  scope(() => {
    manualSeed(1);
    const model = new VisionTransformer({ ...SMALL, dropout: 0.3, attentionDropout: 0.3 });
    model.loadStateDict(prefixed('small/sd/'));
    const x = fixture('small/x');
    model.eval();
    // Eval mode ignores dropout: torchvision's logits (computed with dropout 0) still hold.
    noGrad(() => compareScaled(model.forward(x), fixture('small/eval'), 'eval logits with dropout 0.3'));
    model.train();
    const a = noGrad(() => model.forward(x));
    const b = noGrad(() => model.forward(x));
    // Dropping 30% of activations moves logits by a sizeable fraction of their scale, far above 1e-3.
    assert.ok(maxAbs(a.sub(fixture('small/eval'))) > 1e-3 * maxAbs(fixture('small/eval')), 'train mode with dropout equals eval mode');
    assert.ok(maxAbs(a.sub(b)) > 0, 'two dropout draws gave identical logits');
  });
});

// ---- keys, parameter counts, initialisation -----------------------------------------------

describe('the full-size models', () => {
  test("vit_b_16's state-dict keys and shapes equal torchvision's, in order, and torchvision's initialisation", (t) => {
    const start = performance.now();
    const model = vitB16();
    t.diagnostic(`vitB16() built in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    try {
      scope(() => {
        const ours = [...model.stateDict()].map(([k, v]) => [k, [...v.shape]]);
        assert.deepEqual(ours, reference.vit_b_16_state_dict);
        assert.equal(parameterCount(model), 86_567_656);
        assert.equal(parameterCount(model), reference.parameter_counts.vit_b_16);

        // Zero-initialised: class token, classifier, patch-embedding bias.
        for (const t of [model.class_token, model.heads.head.weight, model.heads.head.bias!, model.conv_proj.bias!]) assert.equal(maxAbs(t), 0);
        const std = (t: Tensor) => scope(() => t.std().item());
        // Sample std of n ≈ 10⁵–10⁶ normal draws is within ~0.5% of the true one; 3% leaves room.
        const near = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual / expected - 1) < 0.03, `${what}: std ${actual}, expected ${expected}`);
        near(std(model.conv_proj.weight), Math.sqrt(1 / (3 * 16 * 16)), 'conv_proj.weight (trunc normal, std √(1/fan_in))');
        near(std(model.encoder.pos_embedding), 0.02, 'encoder.pos_embedding (normal, std 0.02)');
        const block = model.encoder.blocks()[0];
        // xavier_uniform: U(±√(6/(fan_in+fan_out))), std = bound/√3.
        const fc1 = block.mlp[0] as nn.Linear;
        const xavier = Math.sqrt(6 / (768 + 3072));
        assert.ok(maxAbs(fc1.weight) <= xavier, 'mlp.0.weight exceeds the Xavier bound');
        near(std(fc1.weight), xavier / Math.sqrt(3), 'mlp.0.weight (xavier uniform)');
        // Biases N(0, 1e-6²): 3072 draws, std within a few percent.
        near(std(fc1.bias!), 1e-6, 'mlp.0.bias (normal, std 1e-6)');
        assert.ok(maxAbs(block.self_attention.in_proj_weight) <= Math.sqrt(6 / (768 + 2304)), 'in_proj_weight exceeds the Xavier bound');
      });
    } finally {
      model.dispose();
    }
  });

  test("every builder's parameter count equals torchvision's, computed from the config", () => {
    for (const name of ['vit_b_16', 'vit_b_32', 'vit_l_16', 'vit_l_32', 'vit_h_14'] as const) {
      assert.equal(vitParameterCount(vitConfig(VIT_PRESETS[name])), reference.parameter_counts[name], name);
    }
    assert.deepEqual(reference.parameter_counts, { vit_b_16: 86_567_656, vit_b_32: 88_224_232, vit_l_16: 304_326_632, vit_l_32: 306_535_400, vit_h_14: 632_045_800 });
  });

  test('the formula equals the count of constructed small models', () => {
    const configs: ViTConfig[] = [SMALL, PRE_LOGITS, vitConfig(VIT_PRESETS.vit_tiny_mnist), vitConfig(VIT_PRESETS.vit_tiny_cifar)];
    for (const config of configs) {
      const model = new VisionTransformer(config);
      assert.equal(parameterCount(model), vitParameterCount(config), JSON.stringify(config));
      model.dispose();
    }
  });
});

// ---- position-embedding interpolation ---------------------------------------------------

describe('position embeddings for a new image size', () => {
  test('interpolatePosEmbedding: the same grid gives the same values, a larger one the shape and values of torchvision', () => {
    scope(() => {
      const pos = fixture('small/sd/encoder.pos_embedding'); // (1, 17, 16): a 4×4 grid
      const same = interpolatePosEmbedding(pos, 4);
      assert.notEqual(same, pos);
      assertClose(same, pos, { rtol: 0, atol: 0 });
      const larger = interpolatePosEmbedding(pos, 6);
      assert.deepEqual(larger.shape, [1, 37, 16]);
      // The class token's embedding is carried over unchanged.
      assertClose(larger.narrow(1, 0, 1), pos.narrow(1, 0, 1), { rtol: 0, atol: 0 });
      // Same bicubic kernel as torchvision's interpolate_embeddings: float32 rounding only.
      assertClose(larger, fixture('resized/pos_embedding'), { rtol: 1e-5, atol: 1e-6 });
      assert.deepEqual(interpolatePosEmbedding(pos, 2).shape, [1, 5, 16]);
    });
  });

  test('resizeImageSize: the trained size is a no-op; a larger size gives torchvision\'s logits', (t) => {
    scope(() => {
      const model = loaded(SMALL, 'small').eval();
      const pos = model.encoder.pos_embedding;
      const before = pos.clone();
      model.resizeImageSize(32);
      assert.equal(model.encoder.pos_embedding, pos);
      assertClose(pos, before, { rtol: 0, atol: 0 });
      noGrad(() => compareScaled(model.forward(fixture('small/x')), fixture('small/eval'), 'logits after a same-size resize'));

      model.resizeImageSize(48);
      assert.equal(model.encoder.pos_embedding, pos, 'the parameter object is kept');
      assert.deepEqual(pos.shape, [1, 37, 16]);
      assert.ok(pos.requiresGrad);
      assert.equal(model.config.imageSize, 48);
      assert.equal(model.seqLength, 37);
      const err = noGrad(() => compareScaled(model.forward(fixture('resized/x')), fixture('resized/eval'), 'logits at 48×48'));
      t.diagnostic(`48×48 logits: max |error| / max |logit| = ${err.toExponential(2)}`);
      assertThrowsWith(() => model.forward(fixture('small/x')), /expects 48×48/);
      assertThrowsWith(() => model.resizeImageSize(50), /positive multiple of the patch size 8/);
    });
  });

  test('bad position embeddings are refused', () => {
    scope(() => {
      assertThrowsWith(() => interpolatePosEmbedding(zeros([1, 18, 4]), 3), /17 patch positions .* square grid/);
      assertThrowsWith(() => interpolatePosEmbedding(zeros([17, 4]), 3), /\(1, 1 \+ grid², D\)/);
      assertThrowsWith(() => interpolatePosEmbedding(zeros([1, 17, 4]), 0), /grid size must be a positive integer/);
    });
  });
});

// ---- attention analyses ------------------------------------------------------------------------

describe('attention distance and rollout on hand-made attention', () => {
  // A 2×2 grid of 10-pixel patches, row-major: neighbours are 10 px apart, diagonals 10√2.
  test('attentionDistance: self-attention 0, a neighbour 10, uniform the mean of the distances', () => {
    scope(() => {
      const self = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
      const neighbour = [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]; // left ↔ right
      const uniform = Array.from({ length: 4 }, () => [0.25, 0.25, 0.25, 0.25]);
      const attn = tensor([[self, neighbour, uniform]]); // (1, 3, 4, 4)
      // Uniform: every query sees itself (0), two neighbours (10) and one diagonal (10√2).
      assertClose(attentionDistance(attn, 2, 10), [0, 10, (0 + 10 + 10 + 10 * Math.SQRT2) / 4], { rtol: 1e-6, atol: 1e-5 });
    });
  });

  test('attentionDistance drops the class token and renormalises over the patches', () => {
    scope(() => {
      // Each patch query puts 0.5 on the class token and 0.5 on the patch below it (vertical neighbour).
      const rows = [[1, 0, 0, 0, 0], [0.5, 0, 0, 0.5, 0], [0.5, 0, 0, 0, 0.5], [0.5, 0.5, 0, 0, 0], [0.5, 0, 0.5, 0, 0]];
      const attn = tensor([[rows], [rows]]); // (2, 1, 5, 5)
      assertClose(attentionDistance(attn, 2, 16), [16], { rtol: 1e-6, atol: 1e-5 });
      assertThrowsWith(() => attentionDistance(tensor([[rows]]), 3, 16), /T = 9 or 10 for a 3×3 grid/);
    });
  });

  test('attentionRollout multiplies later layers on the left', () => {
    scope(() => {
      const toFirst = tensor([[[[1, 0], [1, 0]]]]); // every token reads token 0
      const toSecond = tensor([[[[0, 1], [0, 1]]]]); // every token reads token 1
      // Layer 2 reads token 1, which after layer 1 holds token 0: everything comes from input 0.
      assertClose(attentionRollout([toFirst, toSecond], { residual: false }), [[[1, 0], [1, 0]]]);
      assertClose(attentionRollout([toSecond, toFirst], { residual: false }), [[[0, 1], [0, 1]]]);
      // With the residual, 0.5·A + 0.5·I: for toFirst [[1, 0], [0.5, 0.5]], for toSecond [[0.5, 0.5], [0, 1]];
      // their product toSecond·toFirst = [[0.75, 0.25], [0.5, 0.5]].
      assertClose(attentionRollout([toFirst, toSecond]), [[[0.75, 0.25], [0.5, 0.5]]]);
    });
  });

  test('attentionRollout fuses heads by mean, max or min', () => {
    scope(() => {
      const heads = tensor([[[[1, 0], [0, 1]], [[0, 1], [1, 0]]]]); // (1, 2, 2, 2): identity and swap
      assertClose(attentionRollout([heads], { residual: false }), [[[0.5, 0.5], [0.5, 0.5]]]);
      assertClose(attentionRollout([heads], { residual: false, headFusion: 'max' }), [[[1, 1], [1, 1]]]);
      assertClose(attentionRollout([heads], { residual: false, headFusion: 'min' }), [[[0, 0], [0, 0]]]);
      assertThrowsWith(() => attentionRollout([]), /non-empty array/);
      assertThrowsWith(() => attentionRollout([heads, zeros([1, 2, 3, 3])]), /layer 1 must be/);
    });
  });

  test("on a model's attention, rollout rows are distributions and the class-token map is (N, g, g)", () => {
    scope(() => {
      const model = loaded(SMALL, 'small').eval();
      const { attention } = noGrad(() => model.forward(fixture('small/x'), { returnAttention: true }));
      const rollout = attentionRollout(attention);
      assert.deepEqual(rollout.shape, [2, 17, 17]);
      // Products of row-stochastic matrices stay row-stochastic.
      assertClose(rollout.sum(-1), zeros([2, 17]).add(1), { rtol: 0, atol: 1e-5 });
      assert.deepEqual(classTokenMap(rollout, 4).shape, [2, 4, 4]);
      const distance = attentionDistance(attention[0], 4, 8);
      assert.deepEqual(distance.shape, [2]);
      // No mean distance can exceed the grid's diagonal, 3√2 patches of 8 pixels.
      for (const d of distance.toArray() as number[]) assert.ok(d >= 0 && d <= 3 * Math.SQRT2 * 8, `distance ${d}`);
    });
  });
});

// ---- timm layout ----------------------------------------------------------------------------------

describe('convertTimmVit', () => {
  const timm = prefixed('timm/sd/');

  test("converted timm weights give the timm-style forward pass's logits", (t) => {
    scope(() => {
      const converted = convertTimmVit(timm);
      const model = new VisionTransformer(SMALL).eval();
      assert.deepEqual([...converted.keys()].sort(), [...model.stateDict().keys()].sort());
      model.loadStateDict(converted);
      const err = noGrad(() => compareScaled(model.forward(fixture('timm/x')), fixture('timm/eval'), 'logits from timm weights'));
      t.diagnostic(`max |error| / max |logit| = ${err.toExponential(2)}`);
      model.dispose();
    });
  });

  test('names the first unexpected key, a missing key and a wrong shape', () => {
    scope(() => {
      const withExtra = new Map(timm);
      withExtra.set('blocks.0.ls1.gamma', zeros([16]));
      assertThrowsWith(() => convertTimmVit(withExtra), /unexpected key 'blocks\.0\.ls1\.gamma'/);
      const withDecoder = new Map(timm);
      withDecoder.set('decoder_embed.weight', zeros([8, 16]));
      withDecoder.set('mask_token', zeros([1, 1, 8]));
      assertThrowsWith(() => convertTimmVit(withDecoder), /unexpected key 'decoder_embed\.weight'/);
      assert.equal(convertTimmVit(withDecoder, { ignore: /^(decoder|mask_token)/ }).size, timm.size);

      const missing = new Map(timm);
      missing.delete('blocks.1.mlp.fc2.bias');
      assertThrowsWith(() => convertTimmVit(missing), /missing key 'blocks\.1\.mlp\.fc2\.bias'/);
      const noPos = new Map(timm);
      noPos.delete('pos_embed');
      assertThrowsWith(() => convertTimmVit(noPos), /missing key 'pos_embed'/);

      const badShape = new Map(timm);
      badShape.set('blocks.1.attn.qkv.weight', zeros([48, 15]));
      assertThrowsWith(() => convertTimmVit(badShape), /'blocks\.1\.attn\.qkv\.weight' has shape \[48, 15\], expected \[48, 16\]/);
      assertThrowsWith(() => convertTimmVit({ ...Object.fromEntries(timm), cls_token: 'x' as unknown as Tensor }), /'cls_token' is not a Tensor/);
    });
  });

  test('an encoder without a head (MAE pre-training) converts and loads non-strictly', () => {
    scope(() => {
      const headless = new Map(timm);
      headless.delete('head.weight');
      headless.delete('head.bias');
      const converted = convertTimmVit(headless);
      assert.ok(!converted.has('heads.head.weight'));
      const model = new VisionTransformer(SMALL);
      const { missingKeys } = model.loadStateDict(converted, { strict: false });
      assert.deepEqual(missingKeys, ['heads.head.weight', 'heads.head.bias']);
      model.dispose();
    });
  });
});

// ---- bad input, registry, training ---------------------------------------------------------------

describe('bad input', () => {
  const model = new VisionTransformer(SMALL);

  test('a wrong image size names the expected one and the way to resize', () => {
    scope(() => {
      assertThrowsWith(() => model.forward(zeros([1, 3, 48, 48])), /wrong image size 48×48/, /expects 32×32/, /resizeImageSize\(48\)/);
      assertThrowsWith(() => model.forward(zeros([1, 3, 32, 31])), /wrong image size 32×31/);
    });
  });

  test('wrong channels, rank and type are refused with the expected layout', () => {
    scope(() => {
      assertThrowsWith(() => model.forward(zeros([1, 1, 32, 32])), /expected 3 input channel\(s\), got 1/);
      assertThrowsWith(() => model.forward(zeros([3, 32, 32])), /expected images \[N, 3, 32, 32\]/);
      assertThrowsWith(() => model.forward([1, 2, 3] as unknown as Tensor), /expected an image Tensor, got an array/);
    });
  });

  test('invalid configurations are refused', () => {
    assertThrowsWith(() => vitConfig({ ...SMALL, patchSize: 5 }), /patchSize 5 must divide imageSize 32/);
    assertThrowsWith(() => vitConfig({ ...SMALL, numHeads: 3 }), /numHeads 3 must divide hiddenDim 16/);
    assertThrowsWith(() => vitConfig({ ...SMALL, dropout: 1.5 }), /dropout must be in \[0, 1\]/);
    assertThrowsWith(() => vitConfig({ ...SMALL, numLayers: 0 }), /numLayers must be a positive integer/);
    assertThrowsWith(() => getModel('vit_tiny_mnist', { numClass: 10 }), /unknown configuration field 'numClass'/);
  });
});

test('forward and backward leave no tensor behind', () => {
  const model = loaded(SMALL, 'small');
  const x = fixture('small/x');
  const before = liveTensors();
  noGrad(() => {
    model.eval().forward(x).dispose();
    const { logits, attention } = model.forward(x, { returnAttention: true });
    logits.dispose();
    attention.forEach((a) => a.dispose());
  });
  scope(() => F.crossEntropy(model.train().forward(x), fixture('small/target')).backward());
  model.zeroGrad();
  assert.equal(liveTensors(), before);
  model.dispose();
});

test('the registry lists every ViT with its metadata and builds the small ones', () => {
  const names: ViTPreset[] = ['vit_b_16', 'vit_b_32', 'vit_l_16', 'vit_l_32', 'vit_h_14', 'vit_tiny_mnist', 'vit_tiny_cifar'];
  for (const name of names) assert.ok(listModels().includes(name), name);
  assert.deepEqual(getModelEntry('vit_b_16', 'image-classification').inputSize, [3, 224, 224]);
  assert.equal(getModelEntry('vit_h_14', 'image-classification').numClasses, 1000);
  assert.deepEqual(getModelEntry('vit_tiny_mnist', 'image-classification').inputSize, [1, 28, 28]);
  assert.deepEqual(getModelEntry('vit_tiny_cifar', 'image-classification').inputSize, [3, 32, 32]);
  assert.equal(getModelEntry('vit_tiny_mnist', 'image-classification').normalization, null);
  scope(() => {
    const model = getModel('vit_tiny_mnist') as VisionTransformer;
    const logits = noGrad(() => model.eval().forward(rand([2, 1, 28, 28])));
    assert.deepEqual(logits.shape, [2, 10]);
    // torchvision zero-initialises the head: a fresh model's logits are all 0.
    assert.equal(maxAbs(logits), 0);
    const cifar = getModel('vit_tiny_cifar', { numClasses: 100 }) as VisionTransformer;
    assert.equal(parameterCount(cifar), vitParameterCount(vitConfig(VIT_PRESETS.vit_tiny_cifar, { numClasses: 100 })));
    model.dispose();
    cifar.dispose();
  });
});

test('a short training run on random data lowers the loss', () => {
  // Ops this small run fastest on one thread; a second one only spins, and on a busy machine slows the run tenfold.
  const threads = getNumThreads();
  setNumThreads(1);
  manualSeed(0);
  const config = vitConfig({ imageSize: 16, patchSize: 4, numLayers: 2, numHeads: 4, hiddenDim: 32, mlpDim: 64, numClasses: 4, inChannels: 3 });
  const model = new VisionTransformer(config);
  const optimizer = new Adam(model.parameters(), { lr: 3e-3 });
  const x = rand([32, 3, 16, 16]).keep();
  const y = randint(0, 4, [32]).keep();
  const losses: number[] = [];
  try {
    for (let step = 0; step < 30; step++) {
      scope(() => {
        optimizer.zeroGrad();
        const loss = F.crossEntropy(model.forward(x), y);
        loss.backward();
        optimizer.step();
        losses.push(loss.item());
      });
    }
  } finally {
    setNumThreads(threads);
    optimizer.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  }
  // The zero-initialised head starts at ln 4 = 1.386 exactly; fitting 32 random
  // labels must at least halve it within 30 full-batch steps (it reaches about 0.2).
  assert.ok(Math.abs(losses[0] - Math.log(4)) < 1e-5, `first loss ${losses[0]}`);
  assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
});

describe("MAE's fine-tuning options: average pooling and drop path", () => {
  const config = vitConfig({ imageSize: 16, patchSize: 4, numLayers: 3, numHeads: 2, hiddenDim: 16, mlpDim: 32, numClasses: 5, inChannels: 1 });

  test("pool 'avg' feeds the head the final norm of the patch tokens' mean, from the same state dict", () => {
    manualSeed(0);
    const token = new VisionTransformer(config);
    const avg = new VisionTransformer({ ...config, pool: 'avg' });
    const sd = token.stateDict();
    avg.loadStateDict(sd);
    avg.eval();
    scope(() => {
      const x = rand([3, 1, 16, 16]);
      const raw = avg.forwardFeatures(x).tokens; // before the final norm
      const pooled = F.layerNorm(raw.narrow(1, 1, 16).mean(1), [16], { weight: avg.encoder.ln.weight, bias: avg.encoder.ln.bias, eps: 1e-6 });
      const expected = F.linear(pooled, avg.heads.head.weight, avg.heads.head.bias);
      noGrad(() => assertClose(avg.forward(x), expected, { rtol: 1e-5, atol: 1e-6 }));
      // The class-token model normalises every token; its head reads token 0.
      assertClose(token.forwardFeatures(x).tokens.select(1, 0), avg.encoder.ln.forward(raw.select(1, 0)), { rtol: 1e-5, atol: 1e-6 });
    });
    for (const t of sd.values()) t.dispose();
    token.dispose();
    avg.dispose();
  });

  test('drop path rises linearly over the blocks to the given rate, acts in training only, and is refused outside [0, 1]', () => {
    const model = new VisionTransformer({ ...config, dropPath: 0.3 });
    assert.deepEqual(model.encoder.blocks().map((b) => b.drop_path.p), [0, 0.15, 0.3]);
    scope(() => {
      const x = rand([4, 1, 16, 16]);
      // The features: the zero-initialised head would hide everything.
      const features = () => model.forwardFeatures(x).tokens;
      model.eval();
      assert.ok(features().equal(features()), 'deterministic in evaluation mode');
      model.train();
      manualSeed(1);
      const b = features();
      manualSeed(2);
      assert.ok(!b.equal(features()), 'random in training mode');
    });
    model.dispose();
    assertThrowsWith(() => vitConfig({ ...config, dropPath: 1.5 }), /dropPath must be in \[0, 1\]/);
    assertThrowsWith(() => vitConfig({ ...config, pool: 'max' as never }), /pool must be 'token' or 'avg'/);
  });
});
