// clipGradNorm and clipGradValue against torch.nn.utils.clip_grad_norm_ and
// clip_grad_value_ in PyTorch 1.13 (test/fixtures/optim.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { liveTensors, scope, tensor, zeros, type Tensor } from '../../src/index.js';
import { clipGradNorm, clipGradValue } from '../../src/optim/index.js';
import { assertClose, assertThrowsWith } from '../helpers.js';
import { fixture, fromFlat } from './fixture.js';

const clip = fixture.clip as {
  shapes: number[][];
  grads: number[][];
  norm: { normType: number | 'inf'; maxNorm: number; totalNorm: number; clipped: number[][] }[];
  value: { clipValue: number; clipped: number[][] };
};

/** Parameters holding the fixture's gradients. */
function withGrads(): Tensor[] {
  return clip.shapes.map((shape, i) => {
    const p = zeros(shape, { requiresGrad: true });
    p.grad = fromFlat(clip.grads[i], shape);
    return p;
  });
}

// float32 reductions: libtorch's norm kernels on both sides, 1e-6 relative (a few ulps).
const TOL = { rtol: 1e-6, atol: 1e-7 };

for (const c of clip.norm) {
  test(`clipGradNorm(maxNorm ${c.maxNorm}, normType ${c.normType}) returns PyTorch's total norm and clipped gradients`, () => {
    scope(() => {
      const params = withGrads();
      const total = clipGradNorm(params, c.maxNorm, c.normType === 'inf' ? Infinity : c.normType);
      assert.equal(total.dtype, 'float32');
      assertClose(total, c.totalNorm, TOL, 'total norm:');
      params.forEach((p, i) => assertClose(p.grad!, fromFlat(c.clipped[i], clip.shapes[i]), TOL, `grad ${i}:`));
    });
  });
}

test('clipGradValue clamps every gradient like PyTorch', () => {
  scope(() => {
    const params = withGrads();
    clipGradValue(params, clip.value.clipValue);
    // Clamping copies values, so they agree exactly.
    params.forEach((p, i) => assertClose(p.grad!, fromFlat(clip.value.clipped[i], clip.shapes[i]), { rtol: 0, atol: 0 }, `grad ${i}:`));
  });
});

test('clipping skips parameters without gradients and takes a single tensor', () => {
  scope(() => {
    const none = zeros([2], { requiresGrad: true });
    const total = clipGradNorm([none], 1);
    assert.equal(total.item(), 0);
    const p = zeros([2], { requiresGrad: true });
    p.grad = tensor([3, 4]);
    // ‖(3, 4)‖ = 5 > 1: scaled by 1 / (5 + 1e-6).
    assert.equal(clipGradNorm(p, 1).item(), 5);
    assertClose(p.grad!, [0.6, 0.8], { rtol: 1e-6, atol: 0 });
    clipGradValue([p, none], 0.7);
    assertClose(p.grad!, [0.6, 0.7], { rtol: 1e-6, atol: 0 });
    assert.equal(none.grad, null);
  });
});

test('clipGradNorm leaves only the norm it returns behind', () => {
  const params = withGrads();
  const before = liveTensors();
  const total = clipGradNorm(params, 1);
  assert.equal(liveTensors(), before + 1);
  total.dispose();
  for (const p of params) p.dispose();
});

test('a non-finite total norm throws when asked to, and bad arguments throw', () => {
  scope(() => {
    const p = zeros([2], { requiresGrad: true });
    p.grad = tensor([Infinity, 1]);
    assertThrowsWith(() => clipGradNorm(p, 1, 2, { errorIfNonfinite: true }), /total norm of order 2 of the gradients is Infinity/);
    assert.deepEqual(p.grad!.toArray(), [Infinity, 1], 'nothing was scaled');
    assertThrowsWith(() => clipGradNorm(p, -1), /maxNorm must be a number >= 0/);
    assertThrowsWith(() => clipGradNorm(p, 1, NaN), /normType must be a number/);
    assertThrowsWith(() => clipGradNorm([p, 'w' as never], 1), /params\[1\] is not a Tensor/);
    assertThrowsWith(() => clipGradValue(p, NaN), /clipValue must be a number >= 0/);
    assertThrowsWith(() => clipGradValue(3 as never, 1), /expected a Tensor or an array of Tensors/);
  });
});
