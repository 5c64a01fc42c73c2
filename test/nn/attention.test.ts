// MultiheadAttention's two routes agree: PyTorch's fused kernel, which
// evaluation-mode self-attention without gradients takes (as
// torch.nn.MultiheadAttention does), and the general path, which
// modules-parity.test.ts checks against torch.nn.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { manualSeed, nn, noGrad, randn, scope, tensor } from '../../src/index.js';

test('the fused self-attention kernel gives the general path\'s output to 1e-5', () => {
  manualSeed(3);
  const mha = new nn.MultiheadAttention(16, 4, { batchFirst: true });
  mha.eval();
  scope(() => {
    const x = randn([3, 5, 16]);
    const fused = noGrad(() => mha.forward(x, x, x, { needWeights: false })[0]);
    const [general, weights] = noGrad(() => mha.forward(x, x, x, { needWeights: true })); // weights force the general path
    assert.ok(weights !== null);
    assert.deepEqual(fused.shape, [3, 5, 16]);
    const difference = fused.sub(general).abs().max().item();
    assert.ok(difference < 1e-5, `fused and general outputs differ by ${difference}`);
    // With gradients recorded, or in training mode, the general path runs and gradients flow.
    const y = x.clone().requiresGrad_(true);
    const [out] = mha.forward(y, y, y, { needWeights: false });
    assert.ok(out.sub(general).abs().max().item() < 1e-5);
    out.sum().backward();
    assert.ok(y.grad !== null && mha.in_proj_weight.grad !== null);
  });
  mha.dispose();
});

test('with a boolean key-padding mask the fused kernel runs too (as in torch.nn 1.13) and agrees with the general path', () => {
  manualSeed(4);
  const mha = new nn.MultiheadAttention(16, 4, { batchFirst: true });
  mha.eval();
  scope(() => {
    const x = randn([2, 4, 16]);
    const keyPaddingMask = tensor([[false, false, false, true], [false, true, true, true]]);
    const takesFastPath = (m: object) => (mha as unknown as { fastPathApplies(q: unknown, k: unknown, v: unknown, o: object): boolean }).fastPathApplies(x, x, x, m);
    assert.ok(noGrad(() => takesFastPath({ keyPaddingMask })));
    const fused = noGrad(() => mha.forward(x, x, x, { keyPaddingMask, needWeights: false })[0]);
    const [general] = noGrad(() => mha.forward(x, x, x, { keyPaddingMask, needWeights: true }));
    const difference = fused.sub(general).abs().max().item();
    assert.ok(difference < 1e-5, `fused and general outputs differ by ${difference}`);
  });
  mha.dispose();
});
