// torch.nn.functional against PyTorch, forward and gradient: each line is the
// NetLab form of the PyTorch expression of the same name in
// test/fixtures/make_op_fixtures.py. Dropout with 0 < p < 1 is random, so it
// is checked by its statistics instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { F, grad, manualSeed, randn, scope, type Tensor } from '../../src/index.js';
import { assertClose } from '../helpers.js';
import { parity, type OpFn } from '../fixture-parity.js';

// A convolution's weight gradient sums N·Hout·Wout products, and libtorch splits
// that sum across threads, so its float32 rounding depends on the thread count:
// PyTorch itself moves by up to 1.9e-6 between 1 and 2 threads, and NetLab (2
// threads) differs from the fixture (1 thread) by up to 5.7e-6 on values of ~1.
const CONV_F32 = { rtol: 1e-5, atol: 2e-5 };
const conv = (fn: OpFn) => [fn, CONV_F32, 'float32 weight gradients are summed across threads'] as const;

/** Training-mode batch norm on copies of the running statistics, returned updated. */
function batchNormTrain(x: Tensor, weight: Tensor | null, bias: Tensor | null, runningMean: Tensor, runningVar: Tensor, momentum = 0.1): Tensor[] {
  const mean = runningMean.clone();
  const variance = runningVar.clone();
  const y = F.batchNorm(x, mean, variance, { weight, bias, training: true, momentum, eps: 1e-5 });
  return [y, mean, variance];
}

parity('nn', {
  'linear': (x, w, b) => F.linear(x, w, b),
  'linear.noBias': (x, w) => F.linear(x, w),

  'conv2d': conv((x, w, b) => F.conv2d(x, w, b)),
  'conv2d.noBias': conv((x, w) => F.conv2d(x, w)),
  'conv2d.stridePad': conv((x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 1 })),
  'conv2d.asym': conv((x, w) => F.conv2d(x, w, null, { stride: [2, 1], padding: [0, 2] })),
  'conv2d.dilation': conv((x, w, b) => F.conv2d(x, w, b, { padding: 2, dilation: 2 })),
  'conv2d.groups': conv((x, w, b) => F.conv2d(x, w, b, { padding: 1, groups: 2 })),
  'conv2d.depthwise': conv((x, w) => F.conv2d(x, w, null, { padding: 1, groups: 3 })),
  'convTranspose2d': conv((x, w, b) => F.convTranspose2d(x, w, b)),
  'convTranspose2d.stride': conv((x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 })),
  'convTranspose2d.groups': conv((x, w) => F.convTranspose2d(x, w, null, { stride: 2, groups: 2 })),
  'convTranspose2d.dilation': conv((x, w) => F.convTranspose2d(x, w, null, { dilation: 2, padding: 1 })),

  'maxPool2d': (x) => F.maxPool2d(x, 2),
  'maxPool2d.stridePad': (x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }),
  'maxPool2d.ceil': (x) => F.maxPool2d(x, 3, { stride: 2, ceilMode: true }),
  'maxPool2d.dilation': (x) => F.maxPool2d(x, 2, { stride: 1, dilation: 2 }),
  'maxPool2d.unbatched': (x) => F.maxPool2d(x, 2),
  'maxPool2d.indices': (x) => F.maxPool2dWithIndices(x, [2, 3], { stride: 2 }),
  'avgPool2d': (x) => F.avgPool2d(x, 2),
  'avgPool2d.pad': (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }),
  'avgPool2d.excludePad': (x) => F.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
  'avgPool2d.ceil': (x) => F.avgPool2d(x, 3, { stride: 2, ceilMode: true }),
  'avgPool2d.divisor': (x) => F.avgPool2d(x, 2, { divisorOverride: 3 }),
  'adaptiveAvgPool2d': (x) => F.adaptiveAvgPool2d(x, 3),
  'adaptiveAvgPool2d.rect': (x) => F.adaptiveAvgPool2d(x, [5, 2]),
  'adaptiveAvgPool2d.global': (x) => F.adaptiveAvgPool2d(x, 1),

  'batchNorm.train': (x, w, b, rm, rv) => batchNormTrain(x, w, b, rm, rv),
  'batchNorm.train4d': (x, w, b, rm, rv) => batchNormTrain(x, w, b, rm, rv),
  'batchNorm.momentum': (x, w, b, rm, rv) => batchNormTrain(x, w, b, rm, rv, 0.3),
  'batchNorm.trainNoAffine': (x, rm, rv) => batchNormTrain(x, null, null, rm, rv),
  'batchNorm.eval': (x, w, b, rm, rv) => F.batchNorm(x, rm, rv, { weight: w, bias: b, training: false, eps: 1e-3 }),
  'batchNorm.trainNoRunning': (x) => F.batchNorm(x, null, null, { training: true }),
  'layerNorm': (x, w, b) => F.layerNorm(x, [5], { weight: w, bias: b }),
  'layerNorm.2d': (x) => F.layerNorm(x, [3, 5], { eps: 1e-3 }),

  'dropout.p0': (x) => F.dropout(x, 0, true),
  'dropout.p1': (x) => F.dropout(x, 1, true),
  'dropout.eval': (x) => F.dropout(x, 0.5, false),
  'embedding': (i, w) => F.embedding(i, w),
  'embedding.paddingIdx': (i, w) => F.embedding(i, w, { paddingIdx: 0 }),

  'softmax': (x) => F.softmax(x, 1),
  'softmax.last': (x) => F.softmax(x, -1),
  'softmax.dtype': (x) => F.softmax(x, 1, { dtype: 'float64' }),
  'logSoftmax': (x) => F.logSoftmax(x, 1),
  'logSoftmax.first': (x) => F.logSoftmax(x, 0),

  'crossEntropy': (x, t) => F.crossEntropy(x, t),
  'crossEntropy.sum': (x, t) => F.crossEntropy(x, t, { reduction: 'sum' }),
  'crossEntropy.none': (x, t) => F.crossEntropy(x, t, { reduction: 'none' }),
  'crossEntropy.smoothing': (x, t) => F.crossEntropy(x, t, { labelSmoothing: 0.1 }),
  'crossEntropy.ignoreDefault': (x, t) => F.crossEntropy(x, t),
  'crossEntropy.ignoreIndex': (x, t) => F.crossEntropy(x, t, { ignoreIndex: 2 }),
  'crossEntropy.weight': (x, t, w) => F.crossEntropy(x, t, { weight: w }),
  'crossEntropy.weightSmoothing': (x, t, w) => F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.1 }),
  'crossEntropy.weightIgnoreNone': (x, t, w) => F.crossEntropy(x, t, { weight: w, reduction: 'none' }),
  'crossEntropy.smoothingIgnore': (x, t) => F.crossEntropy(x, t, { labelSmoothing: 0.1 }),
  'crossEntropy.probs': (x, t) => F.crossEntropy(x, t),
  'crossEntropy.probsSmoothing': (x, t) => F.crossEntropy(x, t, { labelSmoothing: 0.1 }),
  'crossEntropy.probsWeightSum': (x, t, w) => F.crossEntropy(x, t, { weight: w, reduction: 'sum' }),
  'crossEntropy.spatial': (x, t) => F.crossEntropy(x, t),
  'crossEntropy.unbatched': (x, t) => F.crossEntropy(x, t),
  'nllLoss': (x, t) => F.nllLoss(x, t),
  'nllLoss.sum': (x, t) => F.nllLoss(x, t, { reduction: 'sum' }),
  'nllLoss.none': (x, t) => F.nllLoss(x, t, { reduction: 'none' }),
  'nllLoss.weightIgnore': (x, t, w) => F.nllLoss(x, t, { weight: w, ignoreIndex: 2 }),
  'nllLoss.spatial': (x, t) => F.nllLoss(x, t),
  'mseLoss': (x, t) => F.mseLoss(x, t),
  'mseLoss.sum': (x, t) => F.mseLoss(x, t, { reduction: 'sum' }),
  'mseLoss.none': (x, t) => F.mseLoss(x, t, { reduction: 'none' }),
  'binaryCrossEntropy': (x, t) => F.binaryCrossEntropy(x, t),
  'binaryCrossEntropy.weightSum': (x, t, w) => F.binaryCrossEntropy(x, t, { weight: w, reduction: 'sum' }),
  'binaryCrossEntropy.none': (x, t) => F.binaryCrossEntropy(x, t, { reduction: 'none' }),
  'bceWithLogits': (x, t) => F.binaryCrossEntropyWithLogits(x, t),
  'bceWithLogits.posWeight': (x, t, p) => F.binaryCrossEntropyWithLogits(x, t, { posWeight: p }),
  'bceWithLogits.weightNone': (x, t, w, p) => F.binaryCrossEntropyWithLogits(x, t, { weight: w, posWeight: p, reduction: 'none' }),
  'klDiv': (x, t) => F.klDiv(x, t),
  'klDiv.sum': (x, t) => F.klDiv(x, t, { reduction: 'sum' }),
  'klDiv.none': (x, t) => F.klDiv(x, t, { reduction: 'none' }),
  'klDiv.batchmean': (x, t) => F.klDiv(x, t, { reduction: 'batchmean' }),
  'klDiv.logTarget': (x, t) => F.klDiv(x, t, { reduction: 'batchmean', logTarget: true }),

  'interpolate.nearest': (x) => F.interpolate(x, { size: [8, 10] }),
  'interpolate.nearestDown': (x) => F.interpolate(x, { size: [3, 7] }),
  'interpolate.nearestScale': (x) => F.interpolate(x, { scaleFactor: 2 }),
  'interpolate.bilinear': (x) => F.interpolate(x, { size: [7, 9], mode: 'bilinear', alignCorners: false }),
  'interpolate.bilinearAntialias': (x) => F.interpolate(x, { size: [2, 3], mode: 'bilinear', antialias: true }),
  'interpolate.bicubicAntialias': (x) => F.interpolate(x, { size: [3, 2], mode: 'bicubic', antialias: true }),
  'interpolate.bilinearAlign': (x) => F.interpolate(x, { size: [7, 9], mode: 'bilinear', alignCorners: true }),
  'interpolate.bilinearScale': (x) => F.interpolate(x, { scaleFactor: 1.5, mode: 'bilinear', alignCorners: false }),
  'interpolate.bicubic': (x) => F.interpolate(x, { size: [7, 9], mode: 'bicubic', alignCorners: false }),
  'interpolate.bicubicAlign': (x) => F.interpolate(x, { size: [3, 8], mode: 'bicubic', alignCorners: true }),
  'unfold': (x) => F.unfold(x, [2, 3]),
  'unfold.strided': (x) => F.unfold(x, 3, { padding: 1, stride: 2 }),
  'unfold.dilation': (x) => F.unfold(x, 2, { dilation: 2 }),
  'fold': (x) => F.fold(x, [5, 5], 2),
  'fold.strided': (x) => F.fold(x, [5, 5], 2, { padding: 1, stride: 2 }),
});

test('dropout with 0 < p < 1 keeps about 1 − p of the elements, scaled by 1/(1 − p), and routes gradients the same way', () => {
  scope(() => {
    manualSeed(0);
    const n = 100_000; // enough that a 7-sigma bound on the kept fraction is 0.01
    const p = 0.3;
    const x = randn([n], { dtype: 'float64' }).requiresGrad_(true);
    const y = F.dropout(x, p, true);
    const kept = y.ne(0);
    const fraction = kept.double().mean().item();
    // The kept fraction is a binomial mean: standard deviation sqrt(0.3·0.7/1e5) ≈ 0.0014, so 0.01 is 7 sigma.
    assert.ok(Math.abs(fraction - (1 - p)) < 0.01, `kept fraction ${fraction}, expected about ${1 - p}`);
    // randn is never exactly 0, so a zero output means a dropped element; kept ones are x/(1 − p),
    // up to the one rounding of libtorch's multiplication by 1/(1 − p).
    const scale = kept.double().div(1 - p);
    assertClose(y, x.detach().mul(scale), { rtol: 1e-15, atol: 0 }, 'dropout values');
    const g = randn([n], { dtype: 'float64' });
    const [dx] = grad(y, x, { gradOutputs: [g] });
    assert.ok(dx !== null);
    assertClose(dx, g.mul(scale), { rtol: 1e-15, atol: 0 }, 'dropout gradient');
  });
});
