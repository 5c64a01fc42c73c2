// The Parzen-window estimator of Goodfellow et al.'s parzen_ll.py: equal to a
// direct float64 implementation (every x − μ formed) written with PyTorch,
// the protocol's choice of σ, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { manualSeed, rand, randint, scope, tensor } from '../../src/index.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { meanAndStandardError, PARZEN_SIGMAS, parzenEstimate, parzenLogLikelihoods } from '../../src/eval/parzen.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/gan/gan.safetensors', import.meta.url));

test('per-example log-likelihoods equal a direct float64 implementation to 1e-6 for every σ of the grid', () => {
  const file = loadSafetensors(FIXTURE);
  try {
    const t = (name: string) => file.tensors.get(name)!;
    const sigmas = Array.from(t('parzen/sigmas').toTypedArray() as Float64Array);
    assert.deepEqual(sigmas.map((s) => s.toFixed(12)), PARZEN_SIGMAS.map((s) => s.toFixed(12)), "the grid is numpy's logspace(-1, 0, 10)");
    // Two batch sizes: the batching must not change a value.
    for (const batchSize of [7, 500]) {
      const ll = parzenLogLikelihoods(t('parzen/x'), t('parzen/mu'), sigmas, { batchSize });
      ll.forEach((values, i) => {
        const expected = t(`parzen/ll/${i}`).toTypedArray() as Float64Array;
        values.forEach((v, j) => assert.ok(Math.abs(v - expected[j]) <= 1e-6, `σ ${sigmas[i]}, example ${j}: ${v} against ${expected[j]}`));
      });
    }
  } finally {
    for (const v of file.tensors.values()) v.dispose();
  }
});

test('log-mean-exp stays finite where exp underflows: a point far from every sample', () => {
  scope(() => {
    const mu = tensor([[0, 0]], { dtype: 'float64' });
    const x = tensor([[100, 0]], { dtype: 'float64' });
    const [[ll]] = parzenLogLikelihoods(x, mu, [0.1]).map((a) => Array.from(a));
    // log N(x; 0, 0.01 I) = −|x|²/(2σ²) − 2 log(σ√(2π)) = −500000 − 2 log(0.1·√(2π)).
    assert.ok(Math.abs(ll - (-500000 - 2 * Math.log(0.1 * Math.sqrt(2 * Math.PI)))) < 1e-6, String(ll));
  });
});

test('the protocol picks the σ with the best validation score and reports the mean with its standard error', () => {
  manualSeed(0);
  scope(() => {
    const samples = rand([200, 10]);
    const validation = rand([50, 10]);
    const test = rand([60, 10]);
    const estimate = parzenEstimate(samples, test, { validation });
    const best = estimate.validation.reduce((a, b) => (b.logLikelihood > a.logLikelihood ? b : a));
    assert.equal(estimate.sigma, best.sigma);
    assert.equal(estimate.validation.length, 10);
    const [ll] = parzenLogLikelihoods(test, samples, [estimate.sigma]);
    const { mean, standardError } = meanAndStandardError(ll);
    assert.equal(estimate.logLikelihood, mean);
    assert.equal(estimate.standardError, standardError);
    const given = parzenEstimate(samples, test, { sigma: 0.3 });
    assert.equal(given.sigma, 0.3);
    assert.deepEqual(given.validation, []);
  });
  // numpy's std (ddof 0) over √n: values 1, 3 → std 1, standard error 1/√2.
  const { mean, standardError } = meanAndStandardError(new Float64Array([1, 3]));
  assert.equal(mean, 2);
  assert.ok(Math.abs(standardError - Math.SQRT1_2) < 1e-15);
});

test('bad input: σ ≤ 0, mismatched widths, empty or integer matrices, no way to choose σ', () => {
  scope(() => {
    const mu = rand([5, 3]);
    assert.throws(() => parzenLogLikelihoods(rand([2, 3]), mu, [0]), /parzen: σ must be a finite number > 0, got 0/);
    assert.throws(() => parzenLogLikelihoods(rand([2, 3]), mu, [-0.2]), /σ must be a finite number > 0, got -0.2/);
    assert.throws(() => parzenLogLikelihoods(rand([2, 4]), mu, [0.2]), /parzen: x must be a non-empty matrix \[N, 3\], got float32\[2, 4\]/);
    assert.throws(() => parzenLogLikelihoods(rand([2, 3]), rand([0, 3]), [0.2]), /parzen: samples must be a non-empty matrix/);
    assert.throws(() => parzenLogLikelihoods(randint(0, 2, [2, 3]), mu, [0.2]), /parzen: x must be floating point/);
    assert.throws(() => parzenLogLikelihoods(rand([2, 3]), mu, [0.2], { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    assert.throws(() => parzenEstimate(mu, rand([2, 3])), /give validation images to choose σ, or σ itself/);
    assert.throws(() => parzenEstimate(mu, rand([2, 3]), { validation: rand([2, 3]), sigmas: [] }), /the σ grid is empty/);
  });
});
