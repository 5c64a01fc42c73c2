// The GAN commands as a user runs them: netlab reproduce gan at a toy budget,
// netlab gan sample and netlab gan parzen on its generator, netlab predict on
// both networks, and bad input to each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { rand, scope, zeros } from '../../src/tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { netlab } from '../helpers.js';

let dir: string;


before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-gan-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('reproduce gan at a toy budget writes both networks, results.json and a report; gan sample and gan parzen use them', () => {
  const out = join(dir, 'run');
  const run = netlab('reproduce', 'gan', '--out', out, '--minutes', '0.05', '--train-n', '1000', '--samples', '300', '--test-n', '200', '--toy-steps', '200', '--json');
  assert.equal(run.code, 0, run.stderr);
  for (const file of ['generator.safetensors', 'discriminator.safetensors', 'checkpoint.safetensors', 'results.json', 'report.html']) assert.ok(existsSync(join(out, file)), file);
  const result = JSON.parse(run.stdout);
  assert.ok(result.training.generatorSteps > 0);
  assert.equal(result.parzen.generator.samples, 300);
  assert.equal(result.parzen.generator.testImages, 200);
  assert.equal(result.parzen.generator.validation.length, 10);
  assert.equal(result.figures.samples.length, 6);
  assert.equal(result.figures.neighbours.length, 6);
  assert.equal(result.figures.interpolations[0].length, 9);
  assert.match(run.stderr, /Adversarial nets +225 ± 2 +\(paper\)/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /Parzen-window log-likelihood of the MNIST test set/);
  assert.match(html, /Theis, van den Oord and Bethge \(2016/);
  assert.doesNotMatch(html, /<script src=/, 'the report loads nothing from outside');

  const samplesFile = join(dir, 'samples.safetensors');
  const sample = netlab('gan', 'sample', '--weights', join(out, 'generator.safetensors'), '--n', '250', '--seed', '7', '--out', samplesFile, '--json');
  assert.equal(sample.code, 0, sample.stderr);
  const again = netlab('gan', 'sample', '--weights', join(out, 'generator.safetensors'), '--n', '250', '--seed', '7', '--out', join(dir, 'again.safetensors'));
  assert.equal(again.code, 0, again.stderr);
  const [a, b] = [loadSafetensors(samplesFile), loadSafetensors(join(dir, 'again.safetensors'))];
  try {
    const samples = a.tensors.get('samples')!;
    assert.deepEqual([...samples.shape], [250, 784]);
    assert.equal(samples.dtype, 'float32');
    scope(() => assert.ok(samples.min().item() >= 0 && samples.max().item() <= 1));
    assert.ok(samples.equal(b.tensors.get('samples')!), 'the same seed gives the same samples');
  } finally {
    for (const t of [...a.tensors.values(), ...b.tensors.values()]) t.dispose();
  }

  const parzen = netlab('gan', 'parzen', '--samples', samplesFile, '--test-n', '100', '--validation-n', '100', '--json');
  assert.equal(parzen.code, 0, parzen.stderr);
  const estimate = JSON.parse(parzen.stdout);
  assert.ok(Number.isFinite(estimate.log_likelihood) && estimate.standard_error > 0);
  assert.ok(estimate.sigma >= 0.1 && estimate.sigma <= 1, `σ ${estimate.sigma} from the grid over [0.1, 1]`);
  const fixed = JSON.parse(netlab('gan', 'parzen', '--samples', samplesFile, '--test-n', '100', '--sigma', String(estimate.sigma), '--json').stdout);
  assert.equal(fixed.log_likelihood, estimate.log_likelihood, 'σ given equals σ chosen, for the same value');

  // netlab predict dispatches on the task: z → samples, images → logits and D(x).
  const zFile = join(dir, 'z.safetensors');
  scope(() => saveSafetensors(zFile, { z: rand([4, 100]) }));
  const gOut = join(dir, 'g-out.safetensors');
  const predictG = netlab('predict', '--arch', 'gan_mnist_generator', '--weights', join(out, 'generator.safetensors'), '--input', zFile, '--output', gOut);
  assert.equal(predictG.code, 0, predictG.stderr);
  const dOut = join(dir, 'd-out.safetensors');
  const predictD = netlab('predict', '--arch', 'gan_mnist_discriminator', '--weights', join(out, 'discriminator.safetensors'), '--input', gOut, '--key', 'samples', '--output', dOut);
  assert.equal(predictD.code, 0, predictD.stderr);
  const [g, d] = [loadSafetensors(gOut), loadSafetensors(dOut)];
  try {
    assert.deepEqual([...g.tensors.get('samples')!.shape], [4, 784]);
    assert.deepEqual([...d.tensors.get('logits')!.shape], [4]);
    scope(() => assert.ok(d.tensors.get('probabilities')!.equal(d.tensors.get('logits')!.sigmoid())));
  } finally {
    for (const t of [...g.tensors.values(), ...d.tensors.values()]) t.dispose();
  }

  // Resuming continues the run's steps.
  const resumed = netlab('reproduce', 'gan', '--out', out, '--resume', '--minutes', '0.02', '--train-n', '1000', '--samples', '300', '--test-n', '200', '--toy-steps', '100', '--json');
  assert.equal(resumed.code, 0, resumed.stderr);
  const second = JSON.parse(resumed.stdout);
  assert.equal(second.training.resumedFrom.generatorSteps, result.training.generatorSteps);
  assert.ok(second.training.generatorSteps > result.training.generatorSteps);

  // Bad input that needs the files above.
  const bad: [string, string[], RegExp][] = [
    ['a discriminator file given as the generator', ['gan', 'sample', '--weights', join(out, 'discriminator.safetensors'), '--out', join(dir, 'x.safetensors')], /holds 'gan_mnist_discriminator' weights, not 'gan_mnist_generator'/],
    ['a generator file given as the discriminator', ['predict', '--arch', 'gan_mnist_discriminator', '--weights', join(out, 'generator.safetensors'), '--input', gOut, '--key', 'samples', '--output', dOut], /holds 'gan_mnist_generator' weights, not 'gan_mnist_discriminator'/],
    ['noise of the wrong width', ['predict', '--arch', 'gan_mnist_generator', '--weights', join(out, 'generator.safetensors'), '--input', gOut, '--key', 'samples', '--output', dOut], /takes 'z' as \[N, 100\], got float32\[4, 784\]/],
    ['a GAN network to netlab attack', ['attack', '--arch', 'gan_mnist_generator', '--weights', join(out, 'generator.safetensors')], /'gan_mnist_generator' is a model for image-generation, and netlab attack takes classifiers/],
  ];
  for (const [what, args, pattern] of bad) {
    const r = netlab(...args);
    assert.notEqual(r.code, 0, what);
    assert.match(r.stderr, pattern, what);
  }
});

test('bad input to the GAN commands: a clear message and a non-zero exit, nothing written', () => {
  const wrongShape = join(dir, 'wrong-shape.safetensors');
  const outOfRange = join(dir, 'out-of-range.safetensors');
  const integers = join(dir, 'integers.safetensors');
  const unnamed = join(dir, 'unnamed.safetensors');
  scope(() => {
    saveSafetensors(wrongShape, { samples: rand([10, 28, 28]) });
    saveSafetensors(outOfRange, { samples: rand([10, 784]).mul(2) });
    saveSafetensors(integers, { samples: zeros([10, 784], { dtype: 'int64' }) });
    saveSafetensors(unnamed, { images: rand([10, 784]) });
  });
  writeFileSync(join(dir, 'not-weights.safetensors'), 'garbage');
  const never = join(dir, 'never-written.safetensors');
  const cases: [string, string[], RegExp][] = [
    ['k = 0', ['reproduce', 'gan', '--k', '0'], /--k must be >= 1, got 0/],
    ['k = 2 with simultaneous updates', ['reproduce', 'gan', '--k', '2'], /--k above 1 needs --update alternating/],
    ['an unknown generator objective', ['reproduce', 'gan', '--objective', 'wasserstein'], /--objective must be one of non-saturating, minimax, got 'wasserstein'/],
    ['a budget of 0 minutes', ['reproduce', 'gan', '--minutes', '0'], /--minutes must be > 0, got 0/],
    ['an unknown paper', ['reproduce', 'alexnet'], /reproduce: unknown paper 'alexnet'; choose one of madry, gan/],
    ['samples of the wrong shape', ['gan', 'parzen', '--samples', wrongShape], /'samples' in .* must be \[N, 784\] \(flattened 28×28 digits\), got float32\[10, 28, 28\]/],
    ['samples outside [0, 1]', ['gan', 'parzen', '--samples', outOfRange], /'samples' in .* must lie in \[0, 1\] like MNIST pixels/],
    ['integer samples', ['gan', 'parzen', '--samples', integers], /'samples' in .* must be floating point/],
    ['a file without samples', ['gan', 'parzen', '--samples', unnamed], /has no tensor 'samples'; it has images/],
    ['σ = 0', ['gan', 'parzen', '--samples', outOfRange, '--sigma', '0'], /--sigma must be > 0, got 0/],
    ['a negative σ', ['gan', 'parzen', '--samples', outOfRange, '--sigma=-0.2'], /--sigma must be > 0, got -0\.2/],
    ['more test images than MNIST has', ['gan', 'parzen', '--samples', outOfRange, '--test-n', '10001'], /--test-n must be <= 10000, got 10001/],
    ['N = 0 samples', ['gan', 'sample', '--weights', wrongShape, '--n', '0', '--out', never], /--n must be >= 1, got 0/],
    ['no generator weights', ['gan', 'sample', '--out', never], /--weights FILE is required/],
    ['a missing generator file', ['gan', 'sample', '--weights', join(dir, 'missing.safetensors'), '--out', never], /weights file not found/],
    ['a corrupt generator file', ['gan', 'sample', '--weights', join(dir, 'not-weights.safetensors'), '--out', never], /not-weights\.safetensors/],
    ['an output that is not safetensors', ['gan', 'sample', '--weights', wrongShape, '--out', 'samples.npy'], /--out must name a \.safetensors file/],
    ['an unknown gan action', ['gan', 'train'], /gan: unknown action 'train'; choose one of sample, parzen/],
    ['a GAN network to netlab train', ['train', '--arch', 'gan_mnist_discriminator'], /'gan_mnist_discriminator' is a model for real-fake-discrimination, and netlab train takes classifiers/],
  ];
  for (const [what, args, pattern] of cases) {
    const r = netlab(...args);
    assert.ok(r.code === 1 || r.code === 2, `${what}: exit code ${r.code}`);
    assert.match(r.stderr, pattern, what);
  }
  assert.ok(!existsSync(never), 'no output written on bad input');
  // The files given stay as they were.
  const kept = loadSafetensors(outOfRange);
  try {
    assert.deepEqual([...kept.tensors.get('samples')!.shape], [10, 784]);
  } finally {
    for (const t of kept.tensors.values()) t.dispose();
  }
});
