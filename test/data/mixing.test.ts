import { test } from 'node:test';
import assert from 'node:assert/strict';

import { arange, scope, tensor } from '../../src/tensor/index.js';
import { drawMix, mixupCutmix, Random } from '../../src/data/index.js';

// Moments of n draws.
function moments(draw: () => number, n: number): { mean: number; variance: number } {
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const v = draw();
    sum += v;
    squares += v * v;
  }
  const mean = sum / n;
  return { mean, variance: squares / n - mean * mean };
}

test('Random.gamma and Random.beta have the right mean and variance (to 5 standard errors)', () => {
  const rng = new Random(7);
  const n = 40000;
  for (const shape of [0.4, 1, 3.5]) {
    // Gamma(k, 1): mean k, variance k; the standard error of the mean is √(k/n).
    const g = moments(() => rng.gamma(shape), n);
    assert.ok(Math.abs(g.mean - shape) < 5 * Math.sqrt(shape / n), `Gamma(${shape}) mean ${g.mean}`);
    assert.ok(Math.abs(g.variance - shape) < 0.06 * shape + 0.02, `Gamma(${shape}) variance ${g.variance}`);
  }
  for (const alpha of [0.8, 1]) {
    // Beta(α, α): mean 1/2, variance 1 / (4(2α + 1)).
    const b = moments(() => rng.beta(alpha, alpha), n);
    const variance = 1 / (4 * (2 * alpha + 1));
    assert.ok(Math.abs(b.mean - 0.5) < 5 * Math.sqrt(variance / n), `Beta(${alpha}) mean ${b.mean}`);
    assert.ok(Math.abs(b.variance - variance) < 0.05 * variance, `Beta(${alpha}) variance ${b.variance}, expected ${variance}`);
  }
  assert.throws(() => rng.gamma(0), /shape must be a finite number > 0, got 0/);
  assert.throws(() => rng.gamma(NaN), /shape must be a finite number > 0/);
});

test('mixup mixes the batch with its reverse, and the targets by the same λ', () => {
  scope(() => {
    const images = arange(4 * 2 * 3 * 3).float().view(4, 2, 3, 3);
    const labels = tensor([0, 1, 2, 3], { dtype: 'int64' });
    const mix = mixupCutmix({ numClasses: 5, mixupAlpha: 0.8 });
    const [mixed, targets] = mix([images, labels], new Random(1, 2));
    const { lambda, box } = drawMix(new Random(1, 2), 3, 3, { numClasses: 5, mixupAlpha: 0.8 });
    assert.equal(box, null);
    assert.ok(lambda > 0 && lambda < 1);
    const expected = images.mul(lambda).add(images.flip(0).mul(1 - lambda));
    assert.ok(mixed.sub(expected).abs().max().item() < 1e-5);
    assert.deepEqual(targets.shape, [4, 5]);
    const t = targets.toArray() as number[][];
    for (let i = 0; i < 4; i++) {
      assert.ok(Math.abs(t[i].reduce((a, b) => a + b) - 1) < 1e-6, 'each row sums to 1');
      assert.ok(Math.abs(t[i][i] - lambda) < 1e-6 && Math.abs(t[i][3 - i] - (1 - lambda)) < 1e-6);
    }
  });
});

test("CutMix pastes one box from the partner, and λ is the share of the image left as it was", () => {
  scope(() => {
    const n = 6;
    const images = tensor(Array.from({ length: n }, (_, i) => i)).float().view(n, 1, 1, 1).expand(n, 1, 16, 16).contiguous();
    const labels = arange(n);
    const mix = mixupCutmix({ numClasses: n, cutmixAlpha: 1 });
    for (let seed = 0; seed < 20; seed++) {
      const [mixed, targets] = mix([images, labels], new Random(seed));
      const { lambda, box } = drawMix(new Random(seed), 16, 16, { numClasses: n, cutmixAlpha: 1 });
      assert.ok(box !== null);
      assert.ok(box.top >= 0 && box.left >= 0 && box.top + box.height <= 16 && box.left + box.width <= 16);
      // Image 0 keeps its own value 0 outside the box and gets its partner's (n − 1) inside.
      const first = mixed.select(0, 0).select(0, 0);
      const kept = first.eq(0).float().mean().item();
      assert.ok(Math.abs(kept - lambda) < 1e-6, `seed ${seed}: kept ${kept}, λ ${lambda}`);
      assert.equal(first.eq(n - 1).float().sum().item(), box.height * box.width);
      const row = (targets.toArray() as number[][])[0];
      assert.ok(Math.abs(row[0] - lambda) < 1e-6 && Math.abs(row[n - 1] - (1 - lambda)) < 1e-6);
    }
  });
});

test('mixupCutmix rejects bad options and bad batches', () => {
  assert.throws(() => mixupCutmix({ numClasses: 10 }), /set mixupAlpha or cutmixAlpha above 0/);
  assert.throws(() => mixupCutmix({ numClasses: 1, mixupAlpha: 1 }), /numClasses must be an integer >= 2, got 1/);
  assert.throws(() => mixupCutmix({ numClasses: 10, mixupAlpha: -1 }), /mixupAlpha must be a finite number >= 0, got -1/);
  assert.throws(() => mixupCutmix({ numClasses: 10, cutmixAlpha: 1, switchProb: 2 }), /switchProb must be in \[0, 1\], got 2/);
  const mix = mixupCutmix({ numClasses: 10, mixupAlpha: 1 });
  scope(() => {
    assert.throws(() => mix([arange(4).float(), arange(4)], new Random(0)), /expected images \[N, C, H, W\], got float32\[4\]/);
    assert.throws(() => mix([arange(48).float().view(3, 1, 4, 4), arange(4)], new Random(0)), /expected int64 labels \[3\], got int64\[4\]/);
  });
});
