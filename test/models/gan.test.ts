// The GAN of Goodfellow et al. (2014): the generator and the maxout
// discriminator against a plain PyTorch implementation of the same networks
// (test/fixtures/make_gan_fixtures.py), forward and gradients; the released
// code's initialisation; and what they say about bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { grad, manualSeed, rand, randint, scope, tensor, zeros, type Tensor } from '../../src/index.js';
import { Maxout } from '../../src/nn/layers.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { GanDiscriminator, GanGenerator, sampleLatent } from '../../src/models/gan.js';
import { getModel, getModelEntry, parameterCount } from '../../src/models/registry.js';
import { discriminatorLoss, generatorLoss } from '../../src/train/gan.js';
import { assertClose } from '../helpers.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/gan/gan.safetensors', import.meta.url));
// float32 against a float64 reference on the same float32 weights: a few ulp per op over a handful of layers.
const TOL = { rtol: 1e-5, atol: 1e-6 };

function fromFixture(): { g: GanGenerator; d: GanDiscriminator; t: (name: string) => Tensor; dispose: () => void } {
  const file = loadSafetensors(FIXTURE);
  const g = new GanGenerator({ latentDim: 8, hiddenDim: 16, outputDim: 12 });
  const d = new GanDiscriminator({ inputDim: 12, numUnits: 6, numPieces: 3 });
  const part = (prefix: string) => new Map([...file.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  g.loadStateDict(part('g/'));
  d.loadStateDict(part('d/'));
  g.eval();
  d.eval();
  const t = (name: string) => {
    const v = file.tensors.get(name);
    if (v === undefined) throw new Error(`fixture has no '${name}'`);
    return v;
  };
  return { g, d, t, dispose: () => [g, d, ...file.tensors.values()].forEach((x) => x.dispose()) };
}

test('generator and maxout discriminator equal the PyTorch networks on the same weights, values and gradients', () => {
  const { g, d, t, dispose } = fromFixture();
  try {
    scope(() => {
      const z = t('z').clone().requiresGrad_();
      const x = t('x').clone().requiresGrad_();
      const fake = g.forward(z);
      assertClose(fake, t('fake'), TOL, 'G(z)');
      const realLogits = d.forward(x);
      const fakeLogits = d.forward(fake);
      assertClose(realLogits, t('real_logits'), TOL, 'D(x)');
      assertClose(fakeLogits, t('fake_logits'), TOL, 'D(G(z))');
      const losses: Record<string, Tensor> = {
        loss_d: discriminatorLoss(realLogits, fakeLogits),
        loss_g_nonsaturating: generatorLoss(fakeLogits, 'non-saturating'),
        loss_g_minimax: generatorLoss(fakeLogits, 'minimax'),
      };
      const params: [string, Tensor][] = [...[...g.namedParameters()].map(([k, p]): [string, Tensor] => [`g/${k}`, p]), ...[...d.namedParameters()].map(([k, p]): [string, Tensor] => [`d/${k}`, p])];
      for (const [name, loss] of Object.entries(losses)) {
        assertClose(loss, t(name), TOL, name);
        const wrt = ([['z', z], ['x', x], ...params] as [string, Tensor][]).filter(([key]) => name === 'loss_d' || key !== 'x');
        const grads = grad(loss, wrt.map(([, v]) => v), { retainGraph: true, allowUnused: true });
        wrt.forEach(([key], i) => {
          const g = grads[i];
          assert.ok(g !== null, `${name}: no gradient for ${key}`);
          assertClose(g, t(`grad/${name}/${key}`), TOL, `${name} d/d ${key}`);
        });
      }
    });
  } finally {
    dispose();
  }
});

test('Maxout: unit u is the maximum of rows u·pieces … u·pieces + pieces − 1 of one linear map', () => {
  manualSeed(1);
  const layer = new Maxout(4, 3, 2);
  try {
    scope(() => {
      const x = rand([5, 4]);
      const z = x.matmul(layer.weight.t()).add(layer.bias); // (5, 6)
      const byHand = z.view(5, 3, 2).amax(2);
      assertClose(layer.forward(x), byHand, { rtol: 0, atol: 0 });
      assert.deepEqual([...layer.stateDict().keys()], ['weight', 'bias']);
      assert.deepEqual([...layer.weight.shape], [6, 4]);
      assert.throws(() => layer.forward(rand([5, 3])), /Maxout: expected input \[N, 4\], got float32\[5, 3\]/);
    });
  } finally {
    layer.dispose();
  }
  assert.throws(() => new Maxout(4, 0, 2), /Maxout: numUnits must be a positive integer, got 0/);
});

test("the released code's initialisation: uniform ±0.05 (G) and ±0.005 (D), zero biases, G's output bias from the pixel marginals", () => {
  manualSeed(2);
  const g = getModel('gan_mnist_generator') as GanGenerator;
  const d = getModel('gan_mnist_discriminator') as GanDiscriminator;
  try {
    scope(() => {
      for (const [net, range] of [[g, 0.05], [d, 0.005]] as const) {
        for (const [key, p] of net.namedParameters()) {
          if (key.endsWith('bias')) assert.equal(p.abs().max().item(), 0, key);
          // 1.2M uniform draws reach within 0.1% of the ends of the range.
          else assert.ok(p.abs().max().item() <= range && p.abs().max().item() > 0.99 * range, `${key}: ${p.abs().max().item()}`);
        }
      }
      // Marginals: a pixel that is always 0 gets logit(1e-7), one that is 0.25 on average gets logit(0.25).
      const images = zeros([4, 784]);
      images.select(1, 5).copy_(tensor([1, 0, 0, 0]));
      g.initBiasFromMarginals(images);
      const bias = g.y.bias!;
      assertClose(bias.select(0, 5), Math.log(0.25 / 0.75), { rtol: 1e-6 });
      assertClose(bias.select(0, 0), Math.log(1e-7 / (1 - 1e-7)), { rtol: 1e-5 });
      g.eval();
      const samples = g.forward(sampleLatent(3));
      assert.deepEqual([...samples.shape], [3, 784]);
      assert.ok(samples.min().item() >= 0 && samples.max().item() <= 1);
    });
    assert.equal(parameterCount(g), getModelEntry('gan_mnist_generator').parameterCount);
    assert.equal(parameterCount(d), getModelEntry('gan_mnist_discriminator').parameterCount);
  } finally {
    g.dispose();
    d.dispose();
  }
});

test('noise is uniform on [−√3, √3]: mean 0, variance 1', () => {
  manualSeed(3);
  scope(() => {
    const z = sampleLatent(2000);
    assert.deepEqual([...z.shape], [2000, 100]);
    assert.ok(z.min().item() >= -Math.sqrt(3) && z.max().item() <= Math.sqrt(3));
    // 200,000 draws: the mean's standard error is 0.0022, the variance's 0.0020.
    assert.ok(Math.abs(z.mean().item()) < 0.01, `mean ${z.mean().item()}`);
    assert.ok(Math.abs(z.var().item() - 1) < 0.01, `variance ${z.var().item()}`);
  });
  assert.throws(() => sampleLatent(0), /sampleLatent: n must be a positive integer, got 0/);
});

test('dropout is on in training mode only, at the released rates (input 0.2, hidden 0.5)', () => {
  manualSeed(4);
  const d = new GanDiscriminator();
  try {
    scope(() => {
      const x = rand([64, 784]);
      d.eval();
      assertClose(d.forward(x), d.forward(x), { rtol: 0, atol: 0 });
      d.train();
      assert.ok(d.forward(x).sub(d.forward(x)).abs().max().item() > 0, 'two training-mode passes differ');
    });
  } finally {
    d.dispose();
  }
});

test('bad input: wrong shapes and dtypes, bad configurations', () => {
  const g = new GanGenerator({ latentDim: 4, hiddenDim: 8, outputDim: 6 });
  const d = new GanDiscriminator({ inputDim: 6, numUnits: 2, numPieces: 2 });
  try {
    scope(() => {
      assert.throws(() => g.forward(rand([2, 5])), /GanGenerator: expected noise z \[N, 4\], got float32\[2, 5\]/);
      assert.throws(() => g.forward(randint(0, 2, [2, 4])), /GanGenerator: noise must be floating point, got int64\[2, 4\]/);
      assert.throws(() => d.forward(rand([2, 1, 6])), /GanDiscriminator: expected images \[N, 6\], got float32\[2, 1, 6\]/);
      assert.throws(() => d.forward(randint(0, 2, [2, 6])), /GanDiscriminator: images must be floating point/);
      assert.throws(() => g.initBiasFromMarginals(rand([3, 5])), /initBiasFromMarginals: expected images \[N, 6\]/);
    });
  } finally {
    g.dispose();
    d.dispose();
  }
  assert.throws(() => new GanGenerator({ hiddenDim: 0 }), /GanGenerator: hiddenDim must be a positive integer, got 0/);
  assert.throws(() => new GanDiscriminator({ inputDropout: 1 }), /GanDiscriminator: inputDropout must be in \[0, 1\), got 1/);
  assert.throws(() => new GanDiscriminator({ initRange: -1 }), /GanDiscriminator: initRange must be a finite number > 0, got -1/);
});
