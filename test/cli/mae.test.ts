// The MAE commands as a user runs them: netlab reproduce mae at a toy budget,
// netlab mae pretrain, finetune and probe on its outputs, netlab predict on
// the autoencoder and on the fine-tuned classifier, and bad input to each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { manualSeed, rand, randint, scope, zeros, type Tensor } from '../../src/tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { maskedAutoencoder, type MaskedAutoencoderViT } from '../../src/models/mae.js';
import { assertClose, netlab } from '../helpers.js';

let dir: string;


before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-mae-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('reproduce mae at a toy budget writes the autoencoder, results.json and an offline report', () => {
  const out = join(dir, 'run');
  const run = netlab('reproduce', 'mae', '--out', out, '--train-n', '600', '--pretrain-epochs', '1', '--ablation-epochs', '1', '--finetune-epochs', '1',
    '--subset-steps', '2', '--probe-steps', '5', '--ratios', '0.5,0.75', '--json');
  assert.equal(run.code, 0, run.stderr);
  for (const file of ['mae.safetensors', 'pretrain-checkpoint.safetensors', 'results.json', 'report.html']) assert.ok(existsSync(join(out, file)), file);
  const result = JSON.parse(run.stdout);
  assert.deepEqual(result.labelEfficiency.map((r: { labels: number }) => r.labels), [100, 600]);
  for (const row of result.labelEfficiency) for (const key of ['scratch', 'finetune', 'linearProbe', 'randomProbe']) assert.ok(row[key] >= 0 && row[key] <= 1, `${key} ${row[key]}`);
  assert.deepEqual(result.maskingRatio.map((r: { maskRatio: number }) => r.maskRatio), [0.5, 0.75]);
  assert.deepEqual(result.target.map((r: { normPixLoss: boolean }) => r.normPixLoss), [false, true]);
  assert.deepEqual(result.figures.map((f: { maskRatio: number }) => f.maskRatio), [0.5, 0.75, 0.9]);
  assert.equal(result.figures[0].original.length, 8);
  assert.equal(result.figures[0].pasted[0].length, 784);
  assert.equal(result.pretraining.losses.length, 2, 'two steps of 256 of 600 images');
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).maskingRatio, result.maskingRatio);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const heading of ['Label efficiency', 'Masking ratio (Figure 5)', 'Reconstruction target (Table 1d)', 'Reconstructions of test digits']) assert.ok(html.includes(heading), heading);
  assert.doesNotMatch(html, /<script src=/, 'the report loads nothing from outside');
});

test('mae pretrain, finetune and probe run on their own; predict takes the fine-tuned classifier', () => {
  const weights = join(dir, 'mae.safetensors');
  const pretrain = netlab('mae', 'pretrain', '--train-n', '512', '--epochs', '2', '--out', weights, '--checkpoint', join(dir, 'ckpt.safetensors'), '--json');
  assert.equal(pretrain.code, 0, pretrain.stderr);
  const summary = JSON.parse(pretrain.stdout);
  assert.equal(summary.epochs, 2);
  assert.ok(Number.isFinite(summary.final_loss) && summary.final_loss > 0);
  // Resuming a finished run trains no further and ends with the same weights.
  const resumed = netlab('mae', 'pretrain', '--train-n', '512', '--epochs', '2', '--out', join(dir, 'again.safetensors'), '--checkpoint', join(dir, 'ckpt.safetensors'), '--resume', '--json');
  assert.equal(resumed.code, 0, resumed.stderr);
  const [a, b] = [loadSafetensors(weights), loadSafetensors(join(dir, 'again.safetensors'))];
  try {
    assert.equal(a.metadata.arch, 'mae_vit_tiny_mnist');
    for (const [key, t] of a.tensors) assert.ok(t.equal(b.tensors.get(key)!), key);
  } finally {
    for (const t of [...a.tensors.values(), ...b.tensors.values()]) t.dispose();
  }

  const vit = join(dir, 'vit.safetensors');
  const finetune = netlab('mae', 'finetune', '--weights', weights, '--labels', '300', '--epochs', '2', '--out', vit, '--json');
  assert.equal(finetune.code, 0, finetune.stderr);
  assert.equal(JSON.parse(finetune.stdout).labels, 300);
  const probe = netlab('mae', 'probe', '--weights', weights, '--labels', '300', '--steps', '20', '--json');
  assert.equal(probe.code, 0, probe.stderr);
  const probed = JSON.parse(probe.stdout);
  assert.ok(probed.test_accuracy > 0.1 && probed.steps >= 20, probe.stdout);

  const input = join(dir, 'digits.safetensors');
  scope(() => saveSafetensors(input, { input: rand([4, 1, 28, 28]) }));
  const predict = netlab('predict', '--arch', 'vit_tiny_mnist', '--weights', vit, '--input', input, '--output', join(dir, 'logits.safetensors'), '--json');
  assert.equal(predict.code, 0, predict.stderr);
  assert.equal(JSON.parse(predict.stdout).classes, 10);
});

test('predict runs the autoencoder: loss, pred and mask as the model gives them for the same noise', () => {
  manualSeed(4);
  const model = maskedAutoencoder('mae_vit_tiny_mnist');
  const weights = join(dir, 'random-mae.safetensors');
  const input = join(dir, 'imgs.safetensors');
  scope(() => {
    saveSafetensors(weights, model.stateDict(), { arch: 'mae_vit_tiny_mnist' });
    saveSafetensors(input, { imgs: rand([5, 1, 28, 28]), noise: rand([5, 16]) });
  });
  const output = join(dir, 'mae-out.safetensors');
  const run = netlab('predict', '--arch', 'mae_vit_tiny_mnist', '--weights', weights, '--input', input, '--output', output, '--mask-ratio', '0.5', '--batch-size', '2', '--json');
  assert.equal(run.code, 0, run.stderr);
  const [given, got] = [loadSafetensors(input), loadSafetensors(output)];
  try {
    scope(() => {
      model.eval();
      const expected = model.forward(given.tensors.get('imgs')!, { maskRatio: 0.5, noise: given.tensors.get('noise')! });
      assertClose(got.tensors.get('pred')!, expected.pred, { rtol: 1e-5, atol: 1e-6 });
      assert.ok(got.tensors.get('mask')!.equal(expected.mask));
      assert.deepEqual(got.tensors.get('mask')!.sum(1).toArray(), [8, 8, 8, 8, 8]);
      // Batches of 2, 2 and 1 images: the loss is still the one over all five.
      assertClose(got.tensors.get('loss')!, expected.loss, { rtol: 1e-5, atol: 1e-7 });
      (model as MaskedAutoencoderViT).normPixLoss = true;
      const normalised = model.forward(given.tensors.get('imgs')!, { maskRatio: 0.5, noise: given.tensors.get('noise')! }).loss;
      const run2 = netlab('predict', '--arch', 'mae_vit_tiny_mnist', '--weights', weights, '--input', input, '--output', join(dir, 'mae-norm.safetensors'), '--mask-ratio', '0.5', '--norm-pix-loss');
      assert.equal(run2.code, 0, run2.stderr);
      const norm = loadSafetensors(join(dir, 'mae-norm.safetensors'));
      assertClose(norm.tensors.get('loss')!, normalised, { rtol: 1e-5, atol: 1e-7 });
      for (const t of norm.tensors.values()) t.dispose();
    });
  } finally {
    for (const t of [...given.tensors.values(), ...got.tensors.values()]) t.dispose();
    model.dispose();
  }
});

// Bad input: each case gets a clear error, exit code 2 for a usage error and 1 for a failure.
function badWeights(): string {
  const weights = join(dir, 'bad-input-mae.safetensors');
  if (!existsSync(weights)) {
    const model = maskedAutoencoder('mae_vit_tiny_mnist');
    scope(() => saveSafetensors(weights, model.stateDict(), { arch: 'mae_vit_tiny_mnist' }));
    model.dispose();
  }
  return weights;
}

function expectError(args: string[], code: number, pattern: RegExp): void {
  const run = netlab(...args);
  assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
  assert.match(run.stderr, pattern, args.join(' '));
}

// netlab predict on the autoencoder with these tensors as its input file.
function predictWith(tensors: Record<string, Tensor>, ...extra: string[]): string[] {
  const input = join(dir, 'bad.safetensors');
  scope(() => saveSafetensors(input, tensors));
  for (const t of Object.values(tensors)) t.dispose();
  return ['predict', '--arch', 'mae_vit_tiny_mnist', '--weights', badWeights(), '--input', input, '--output', join(dir, 'o.safetensors'), ...extra];
}

test('bad input: predict with noise of the wrong shape', () => {
  expectError(predictWith({ imgs: rand([2, 1, 28, 28]), noise: rand([2, 9]) }), 1, /noise must be \[N, L\] = \[2, 16\]/);
  expectError(predictWith({ imgs: rand([2, 1, 28, 28]), noise: rand([3, 16]) }), 1, /'noise' must be \[N, L\] = \[2, 16\]/);
});

test('bad input: predict without imgs, or with integer images', () => {
  expectError(predictWith({ images: rand([2, 1, 28, 28]) }), 1, /has no tensor 'imgs'.*it has images/);
  expectError(predictWith({ imgs: randint(0, 255, [2, 1, 28, 28]) }), 1, /images must be floating point/);
});

test('bad input: predict with images of another size, or one the patch does not divide', () => {
  expectError(predictWith({ imgs: zeros([2, 1, 35, 35]) }), 1, /position embeddings are for 28×28 images, got 35×35/);
  expectError(predictWith({ imgs: zeros([2, 1, 30, 30]) }), 1, /square with a side the patch size 7 divides, got 30×30/);
});

test('bad input: a mask ratio outside [0, 1) on the command line', () => {
  expectError(predictWith({ imgs: zeros([2, 1, 28, 28]) }, '--mask-ratio', '1'), 2, /--mask-ratio must be < 1, got 1/);
  expectError(predictWith({ imgs: zeros([2, 1, 28, 28]) }, '--mask-ratio', '-0.5'), 2, /--mask-ratio/);
  expectError(['mae', 'pretrain', '--mask-ratio', '1.2', '--out', join(dir, 'x.safetensors')], 2, /--mask-ratio/);
  expectError(['reproduce', 'mae', '--ratios', '0.5,1'], 2, /--ratios must be < 1, got 1/);
});

test('bad input: weights of another preset', () => {
  expectError(['predict', '--arch', 'mae_vit_base_patch16', '--weights', badWeights(), '--input', join(dir, 'bad.safetensors'), '--output', join(dir, 'o.safetensors')], 1, /holds 'mae_vit_tiny_mnist' weights, not 'mae_vit_base_patch16'/);
});

test('bad input: mae commands with a model that is not an MNIST autoencoder', () => {
  expectError(['mae', 'pretrain', '--arch', 'mae_vit_base_patch16', '--out', join(dir, 'x.safetensors')], 2, /takes 3×224×224 images; on MNIST use a preset for 1×28×28 digits/);
  expectError(['mae', 'pretrain', '--arch', 'vit_tiny_mnist', '--out', join(dir, 'x.safetensors')], 2, /--arch must name a masked autoencoder/);
  expectError(['train', '--arch', 'mae_vit_tiny_mnist'], 2, /masked autoencoders are trained by netlab mae pretrain/);
});

test('bad input: missing or misnamed files and options out of range', () => {
  expectError(['mae', 'pretrain', '--out', join(dir, 'x.pt')], 2, /--out must name a \.safetensors file/);
  expectError(['mae', 'finetune', '--labels', '100'], 2, /--weights FILE is required/);
  expectError(['mae', 'finetune', '--weights', join(dir, 'missing.safetensors')], 1, /weights file not found/);
  expectError(['mae', 'probe', '--weights', badWeights(), '--labels', '5'], 2, /--labels/);
  expectError(['mae', 'finetune', '--weights', badWeights(), '--pool', 'max'], 2, /--pool/);
  expectError(['mae', 'probe', '--weights', badWeights(), '--optimizer', 'adam'], 2, /--optimizer/);
  expectError(['mae', 'shrink'], 2, /unknown action 'shrink'; choose one of pretrain, finetune, probe/);
});
