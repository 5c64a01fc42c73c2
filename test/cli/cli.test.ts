// The netlab command, run as a user runs it: a child process, its exit code,
// its stdout and stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PNG } from 'pngjs';

import { scope } from '../../src/tensor/index.js';
import { loadMnist } from '../../src/data/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { netlabRunner } from '../helpers.js';

let dir: string;

const netlab = netlabRunner({ env: { ...process.env, NETLAB_THREADS: undefined } });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-cli-'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('--help explains the commands and each option', () => {
  const top = netlab('--help');
  assert.equal(top.code, 0);
  for (const command of ['reproduce', 'train', 'attack', 'eval', 'predict', 'gan', 'models']) assert.match(top.stdout, new RegExp(`^  ${command} `, 'm'));
  const attack = netlab('attack', '--help');
  assert.equal(attack.code, 0);
  for (const option of ['--arch', '--weights', '--attack fgsm\\|bim\\|pgd', '--norm linf\\|l2', '--eps', '--steps', '--step-size', '--restarts', '--n', '--json', '--save-adv']) {
    assert.match(attack.stdout, new RegExp(option));
  }
});

test('models lists every registered model with its parameter count, as a table and as JSON', () => {
  const table = netlab('models');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^resnet50 +image-classification +25,557,032 +3×224×224 +1000 classes +resnet +mean 0\.485\/0\.456\/0\.406, std 0\.229\/0\.224\/0\.225 +ImageNet ResNet-50/m);
  assert.match(table.stdout, /^swin_tiny_mnist +image-classification +533,142 +1×32×32 +10 classes +swin +raw \[0, 1\]/m);
  assert.match(table.stdout, /^gan_mnist_generator +image-generation +2,503,984 +z 100 +image 1×28×28 +gan /m);
  assert.match(table.stdout, /^gan_mnist_discriminator +real-fake-discrimination +1,231,441 +1×28×28 +real\/fake +gan /m);
  const json = netlab('models', '--json');
  assert.equal(json.code, 0, json.stderr);
  const { models } = JSON.parse(json.stdout) as { models: { name: string; parameterCount: number; config: { numClasses: number } }[] };
  assert.equal(models.length, table.stdout.trim().split('\n').length - 1);
  const vit = models.find((m) => m.name === 'vit_b_16')!;
  assert.equal(vit.parameterCount, 86_567_656);
  assert.equal(vit.config.numClasses, 1000);
});

const BAD: [string, string[], RegExp][] = [
  ['an unknown command', ['fly'], /unknown command 'fly'/],
  ['an unknown option', ['train', '--epoch', '3'], /Unknown option '--epoch'/],
  ['a stray argument', ['train', 'mnist'], /Unexpected argument 'mnist'/],
  ['epochs that are not a number', ['train', '--epochs', 'three'], /--epochs must be a number, got 'three'/],
  ['a negative learning rate', ['train', '--lr=-0.1'], /--lr must be > 0, got -0\.1/],
  ['a fractional batch size', ['train', '--batch-size', '2.5'], /--batch-size must be a whole number, got '2\.5'/],
  ['an unknown architecture', ['train', '--arch', 'lenet'], /unknown --arch 'lenet'; choose one of/],
  ['an unknown adversarial mode', ['train', '--adv', 'cw'], /--adv must be one of none, fgsm, pgd, got 'cw'/],
  ['weights that are not safetensors', ['train', '--out', 'model.pt'], /--out must name a \.safetensors file/],
  ['an unknown attack', ['attack', '--attack', 'cw', '--weights', 'x.safetensors'], /--attack must be one of fgsm, bim, pgd, apgd-ce, apgd-dlr, apgd-t, fab, fab-t, square, cw-l2, cw-l0, cw-linf, deepfool, jsma, lbfgs, got 'cw'/],
  ['a C&W option on PGD', ['attack', '--attack', 'pgd', '--kappa', '5', '--weights', 'x.safetensors'], /--kappa is an option of the minimum-distortion attacks \(cw-l2, cw-l0, cw-linf, deepfool, jsma, lbfgs\), not of pgd/],
  ['a target mode on PGD', ['attack', '--attack', 'pgd', '--target-mode', 'all', '--weights', 'x.safetensors'], /--target-mode is for the minimum-distortion attacks/],
  ['an option the attack does not take', ['attack', '--attack', 'jsma', '--kappa', '5', '--weights', 'x.safetensors'], /jsma does not take --kappa; it takes --theta, --gamma, --variant, --discretize/],
  ['a negative κ', ['attack', '--attack', 'cw-l2', '--kappa=-1', '--weights', 'x.safetensors'], /--kappa must be >= 0, got -1/],
  ['no search steps', ['attack', '--attack', 'cw-l2', '--search-steps', '0', '--weights', 'x.safetensors'], /--search-steps must be >= 1, got 0/],
  ['start noise beyond the box', ['attack', '--attack', 'cw-linf', '--start-noise', '1.5', '--weights', 'x.safetensors'], /--start-noise must be <= 1, got 1.5/],
  ['start noise for DeepFool', ['attack', '--attack', 'deepfool', '--start-noise', '0.1', '--weights', 'x.safetensors'], /deepfool does not take --start-noise/],
  ['a θ of 0', ['attack', '--attack', 'jsma', '--theta', '0', '--weights', 'x.safetensors'], /--theta must not be 0/],
  ['γ above 1', ['attack', '--attack', 'jsma', '--gamma', '1.5', '--weights', 'x.safetensors'], /--gamma must be <= 1, got 1.5/],
  ['an unknown JSMA variant', ['attack', '--attack', 'jsma', '--variant', 'g', '--weights', 'x.safetensors'], /--variant must be one of z, f, got 'g'/],
  ['an unknown target mode', ['attack', '--attack', 'cw-l2', '--target-mode', 'everything', '--weights', 'x.safetensors'], /--target-mode must be one of untargeted, random, least-likely, all, got 'everything'/],
  ['distillation without a teacher', ['train', '--distill', '100'], /--distill T needs --teacher FILE, a model trained with --temperature T/],
  ['a teacher without distillation', ['train', '--teacher', 'teacher.safetensors'], /--teacher is for --distill T/],
  ['a temperature of 0', ['train', '--temperature', '0'], /--temperature must be > 0, got 0/],
  ['distillation at T = 0', ['train', '--distill', '0', '--teacher', 'teacher.safetensors'], /--distill must be > 0, got 0/],
  ['two temperatures', ['train', '--distill', '10', '--teacher', 'teacher.safetensors', '--temperature', '5'], /--distill T trains at temperature T; leave out --temperature/],
  ['a temperature with adversarial training', ['train', '--temperature', '10', '--adv', 'pgd'], /--temperature and --distill do not combine with --adv/],
  ['a negative overshoot', ['attack', '--attack', 'deepfool', '--overshoot=-0.1', '--weights', 'x.safetensors'], /--overshoot must be >= 0, got -0.1/],
  ['L2 with FGSM', ['attack', '--attack', 'fgsm', '--norm', 'l2', '--weights', 'x.safetensors'], /fgsm is an L∞ attack; --norm l2 needs pgd, apgd-\*, fab\* or square/],
  ['an APGD budget of 0', ['attack', '--attack', 'apgd-ce', '--eps', '0', '--weights', 'x.safetensors'], /--eps must be > 0, got 0/],
  ['a Square attack without queries', ['attack', '--attack', 'square', '--queries', '0', '--weights', 'x.safetensors'], /--queries must be >= 1, got 0/],
  ['an unknown evaluation suite', ['eval', '--suite', 'robustbench', '--weights', 'x.safetensors'], /--suite must be one of madry, autoattack, got 'robustbench'/],
  ['an unknown AutoAttack version', ['eval', '--suite', 'autoattack', '--version', 'fast', '--weights', 'x.safetensors'], /--version must be one of standard, plus, rand, got 'fast'/],
  ['an evaluation at ε = 0', ['eval', '--suite', 'autoattack', '--eps', '0', '--weights', 'x.safetensors'], /--eps must be > 0, got 0/],
  ['an L1 evaluation', ['eval', '--suite', 'autoattack', '--norm', 'l1', '--weights', 'x.safetensors'], /--norm must be one of linf, l2, got 'l1'/],
  ['the L∞ suite at L2', ['eval', '--norm', 'l2', '--weights', 'x.safetensors'], /the madry suite is L∞ \(FGSM, PGD\); use --suite autoattack for --norm l2/],
  ['saving adversarial examples from the madry suite', ['eval', '--save-adv', 'adv.safetensors', '--weights', 'x.safetensors'], /--save-adv needs --suite autoattack/],
  ['more AutoAttack images than the test set', ['eval', '--suite', 'autoattack', '--n', '20000', '--weights', 'x.safetensors'], /--n must be <= 10000, got 20000/],
  ['an AutoAttack file that is not safetensors', ['eval', '--suite', 'autoattack', '--save-adv', 'adv.pt', '--weights', 'x.safetensors'], /--save-adv must name a \.safetensors file/],
  ['a negative ε', ['attack', '--eps=-1', '--weights', 'x.safetensors'], /--eps must be >= 0, got -1/],
  ['a step size of 0', ['attack', '--step-size', '0', '--weights', 'x.safetensors'], /--step-size must be > 0, got 0/],
  ['zero restarts', ['attack', '--restarts', '0', '--weights', 'x.safetensors'], /--restarts must be >= 1, got 0/],
  ['too many images', ['attack', '--n', '20000', '--weights', 'x.safetensors'], /--n must be <= 10000, got 20000/],
  ['no weights', ['attack'], /--weights FILE is required/],
  ['a Madry budget of 0 minutes', ['reproduce', 'madry', '--adv-minutes', '0'], /--adv-minutes must be > 0/],
  ['an argument to models', ['models', 'resnet50'], /Unexpected argument 'resnet50'/],
  ['an unknown preset', ['train', '--preset', 'alexnet'], /--preset must be one of madry, cw, resnet, vit, swin, got 'alexnet'/],
  ['milestones with a cosine schedule', ['train', '--schedule', 'cosine', '--lr-milestones', '2'], /--lr-milestones needs --schedule step, got 'cosine'/],
  ['a warm-up longer than the run', ['train', '--epochs', '2', '--schedule', 'cosine', '--warmup-epochs', '3'], /--warmup-epochs must be <= 2, got 3/],
  ['a flip that is neither on nor off', ['train', '--flip', 'yes'], /--flip must be one of on, off, got 'yes'/],
  ['label smoothing above 1', ['train', '--label-smoothing', '1.5'], /--label-smoothing must be <= 1, got 1\.5/],
  ['adversarial training with mixup', ['train', '--arch', 'swin_tiny_mnist', '--adv', 'pgd'], /--adv pgd attacks the hard labels; turn off the swin preset's mixing and smoothing/],
  ['CIFAR-10 without its folder', ['train', '--arch', 'resnet20', '--dataset', 'cifar10'], /--dataset cifar10 needs --data-root DIR/],
  ['CIFAR-10 on an MNIST model', ['train', '--arch', 'madry-cnn', '--dataset', 'cifar10'], /'madry-cnn' takes 1×28×28 images; CIFAR-10 needs a model for 3×32×32 inputs/],
  ['predict without an input', ['predict', '--arch', 'madry-cnn', '--weights', 'x.safetensors'], /--input PATH is required/],
];

for (const [name, args, pattern] of BAD) {
  test(`a usage error for ${name}`, () => {
    const run = netlab(...args);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, pattern);
  });
}

test('a model for 32×32 inputs trains on padded MNIST and its weights carry the build options', () => {
  const weights = join(dir, 'resnet20.safetensors');
  const train = netlab('train', '--arch', 'resnet20', '--epochs', '0', '--out', weights, '--json');
  assert.equal(train.code, 0, train.stderr);
  const file = loadSafetensors(weights);
  assert.equal(file.metadata.build_options, JSON.stringify({ inChannels: 1 }));
  assert.equal(file.metadata.input_padding, '2');
  assert.deepEqual(file.tensors.get('conv1.weight')!.shape, [16, 1, 3, 3]); // one input channel for MNIST
  for (const t of file.tensors.values()) t.dispose();
  const attack = netlab('attack', '--arch', 'resnet20', '--weights', weights, '--attack', 'fgsm', '--eps', '0.1', '--n', '10', '--json');
  assert.equal(attack.code, 0, attack.stderr);
  assert.equal(JSON.parse(attack.stdout).n, 10);
  const tooBig = netlab('train', '--arch', 'resnet50', '--epochs', '0');
  assert.equal(tooBig.code, 2);
  assert.match(tooBig.stderr, /'resnet50' takes 3×224×224 images; MNIST works with models for 28×28 or 32×32 inputs/);
});

test('minimum-distortion attacks report success and mean distances, best/average/worst with --target-mode all, and save one row per target', () => {
  const weights = join(dir, 'cw-mnist.safetensors');
  const train = netlab('train', '--arch', 'cw-mnist', '--epochs', '0', '--out', weights, '--json');
  assert.equal(train.code, 0, train.stderr);
  const adv = join(dir, 'cw-all.safetensors');
  const run = netlab('attack', '--arch', 'cw-mnist', '--weights', weights, '--attack', 'cw-l2', '--search-steps', '2', '--max-iterations', '20', '--lr', '0.1', '--target-mode', 'all', '--n', '30', '--save-adv', adv, '--json');
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.n, 30);
  assert.equal(report.attacked, (30 - report.misclassified) * 9, 'nine targets per image the model gets right');
  for (const c of ['best', 'average', 'worst']) for (const f of ['success_rate', 'mean_l0', 'mean_l2', 'mean_linf']) assert.ok(f in report[c], `${c}.${f}`);
  assert.ok(report.best.success_rate >= report.average.success_rate && report.average.success_rate >= report.worst.success_rate);
  assert.match(run.stderr, /C&W L2, all: \d+ attacks on \d+ of 30 images/);
  const file = loadSafetensors(adv);
  assert.deepEqual(file.tensors.get('adversarial')!.shape, [270, 1, 28, 28]);
  assert.deepEqual(file.tensors.get('clean')!.shape, [270, 1, 28, 28]);
  const labels = file.tensors.get('labels')!.toArray() as number[];
  const targets = file.tensors.get('targets')!.toArray() as number[];
  assert.ok(targets.every((t, i) => t !== labels[i]), 'no target is the label');
  for (const t of file.tensors.values()) t.dispose();
  const deepfool = netlab('attack', '--arch', 'cw-mnist', '--weights', weights, '--attack', 'deepfool', '--norm', 'l2', '--n', '20', '--json');
  assert.equal(deepfool.code, 0, deepfool.stderr);
  const df = JSON.parse(deepfool.stdout);
  assert.equal(df.attack, 'DeepFool L2');
  assert.equal(df.attacked, 20 - df.misclassified);
  // Untrained weights: boundaries may lie outside the box, so only the figures' consistency is checked.
  assert.ok(df.success_rate >= 0 && df.success_rate <= 1);
  assert.ok(df.success_rate === 0 ? df.mean_l2 === null : df.mean_l2 > 0, 'no mean without successes (null in JSON)');
});

test('train --temperature T writes a teacher; --distill T --teacher FILE labels the training set with it; --init starts from weights; a teacher or start of another architecture is refused', () => {
  // As Papernot et al. and Carlini's code: teacher and student start from a model trained at T = 1.
  const start = join(dir, 'distillation-start.safetensors');
  assert.equal(netlab('train', '--arch', 'cw-mnist', '--epochs', '0', '--out', start).code, 0);
  const teacher = join(dir, 'teacher.safetensors');
  const trained = netlab('train', '--arch', 'cw-mnist', '--epochs', '0', '--temperature', '20', '--init', start, '--out', teacher, '--json');
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(trained.stderr, /starting from .*distillation-start\.safetensors/);
  assert.equal(JSON.parse(trained.stdout).temperature, 20);
  const file = loadSafetensors(teacher);
  assert.equal(file.metadata.training_temperature, '20');
  for (const t of file.tensors.values()) t.dispose();
  const student = join(dir, 'student.safetensors');
  const distilled = netlab('train', '--arch', 'cw-mnist', '--epochs', '0', '--distill', '20', '--teacher', teacher, '--out', student, '--json');
  assert.equal(distilled.code, 0, distilled.stderr);
  assert.match(distilled.stderr, /labelling the 60000 training images with .*teacher\.safetensors's softmax at T = 20/);
  const report = JSON.parse(distilled.stdout);
  assert.equal(report.temperature, 20);
  assert.equal(report.teacher, teacher);
  const foreign = join(dir, 'foreign-teacher.safetensors');
  assert.equal(netlab('train', '--arch', 'madry-cnn', '--epochs', '0', '--out', foreign).code, 0);
  const wrong = netlab('train', '--arch', 'cw-mnist', '--epochs', '0', '--distill', '20', '--teacher', foreign);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /holds 'madry-cnn' weights, not 'cw-mnist'/);
  const wrongStart = netlab('train', '--arch', 'cw-mnist', '--epochs', '0', '--init', foreign);
  assert.equal(wrongStart.code, 1);
  assert.match(wrongStart.stderr, /holds 'madry-cnn' weights, not 'cw-mnist'/);
});

test('a missing or foreign weights file is a clear error, exit code 1', () => {
  const missing = netlab('attack', '--weights', join(dir, 'nope.safetensors'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /weights file not found: .*nope\.safetensors/);
  const garbage = join(dir, 'garbage.safetensors');
  writeFileSync(garbage, 'not a safetensors file at all');
  const broken = netlab('eval', '--weights', garbage);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /garbage\.safetensors/);
});

test('eval --suite autoattack reports every stage as JSON and saves the broken examples for re-checking', () => {
  const weights = join(dir, 'madry-aa.safetensors');
  assert.equal(netlab('train', '--epochs', '0', '--out', weights).code, 0);
  const adv = join(dir, 'aa.safetensors');
  const run = netlab('eval', '--suite', 'autoattack', '--weights', weights, '--eps', '0.05', '--n', '12', '--json', '--save-adv', adv);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.ok(report.robust_accuracy <= report.clean_accuracy);
  assert.equal(report.autoattack.broken_by.length, 12);
  assert.match(run.stderr, /AutoAttack \(standard\), L∞ ε = 0\.05, 12 examples/);
  const broken = report.autoattack.broken_by.flatMap((b: string | null, i: number) => (b !== null && b !== 'misclassified' ? [i] : []));
  const saved = loadSafetensors(adv);
  assert.deepEqual(saved.tensors.get('adversarial')!.shape, [broken.length, 1, 28, 28]);
  assert.deepEqual(saved.tensors.get('indices')!.toArray(), broken);
  assert.deepEqual(JSON.parse(saved.metadata.attacks), broken.map((i: number) => report.autoattack.broken_by[i]));
  if (broken.length > 0) {
    const delta = saved.tensors.get('adversarial')!.sub(saved.tensors.get('clean')!).abs().max().item();
    assert.ok(delta <= 0.05 + 1e-6, `‖δ‖∞ = ${delta}`);
  }
  for (const t of saved.tensors.values()) t.dispose();
});

test('train writes weights PyTorch-named; attack reads them, reports JSON and saves the adversarial batch', () => {
  const weights = join(dir, 'madry.safetensors');
  // Zero epochs: the freshly initialised network, evaluated; enough to test the plumbing quickly.
  const train = netlab('train', '--epochs', '0', '--out', weights, '--json');
  assert.equal(train.code, 0, train.stderr);
  const trained = JSON.parse(train.stdout);
  assert.equal(trained.arch, 'madry-cnn');
  assert.ok(trained.test_accuracy >= 0 && trained.test_accuracy <= 1);
  const file = loadSafetensors(weights);
  assert.deepEqual([...file.tensors.keys()].sort(), ['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']);
  assert.deepEqual(file.tensors.get('fc1.weight')!.shape, [1024, 3136]);
  for (const t of file.tensors.values()) t.dispose();

  const adv = join(dir, 'adv.safetensors');
  const attack = netlab('attack', '--weights', weights, '--attack', 'pgd', '--eps', '0.1', '--steps', '3', '--step-size', '0.05', '--n', '20', '--json', '--save-adv', adv);
  assert.equal(attack.code, 0, attack.stderr);
  const report = JSON.parse(attack.stdout);
  assert.ok(report.robust_accuracy <= report.clean_accuracy);
  assert.equal(report.n, 20);
  const saved = loadSafetensors(adv);
  assert.deepEqual(saved.tensors.get('adversarial')!.shape, [20, 1, 28, 28]);
  assert.deepEqual(saved.tensors.get('labels')!.shape, [20]);
  const delta = saved.tensors.get('adversarial')!.sub(saved.tensors.get('clean')!).abs().max().item();
  assert.ok(delta <= 0.1 + 1e-6, `‖δ‖∞ = ${delta}`);
  assert.equal(saved.metadata.attack, 'PGD-3');
  assert.ok(existsSync(adv) && readFileSync(adv).length > 0);

  // predict runs the weights on a tensor file; wrong weights name the first key that does not fit.
  const logitsPath = join(dir, 'logits.safetensors');
  const predict = netlab('predict', '--arch', 'madry-cnn', '--weights', weights, '--input', adv, '--key', 'adversarial', '--output', logitsPath, '--json');
  assert.equal(predict.code, 0, predict.stderr);
  assert.deepEqual(JSON.parse(predict.stdout), { n: 20, classes: 10, output: logitsPath });
  const logits = loadSafetensors(logitsPath);
  assert.deepEqual(logits.tensors.get('logits')!.shape, [20, 10]);
  assert.equal(logits.tensors.get('predictions')!.dtype, 'int64');
  const wrong = netlab('predict', '--arch', 'resnet20', '--weights', weights, '--input', adv, '--output', logitsPath);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /holds 'madry-cnn' weights, not 'resnet20'/);
  const ambiguous = netlab('predict', '--arch', 'madry-cnn', '--weights', weights, '--input', adv, '--output', logitsPath);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /holds 3 tensors \(.*\); name one with --key/);
});

// Writes [C, H, W] bytes in 0 … 255 (C = 1 or 3) as a PNG.
function writePng(file: string, pixels: Uint8Array, channels: 1 | 3, size: number): void {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    for (let c = 0; c < 3; c++) png.data[4 * i + c] = pixels[(channels === 1 ? 0 : c) * size * size + i];
    png.data[4 * i + 3] = 255;
  }
  writeFileSync(file, PNG.sync.write(png));
}

test('predict classifies image files as it classifies the same pixels given as a tensor', () => {
  const weights = join(dir, 'madry-images.safetensors');
  assert.equal(netlab('train', '--epochs', '0', '--seed', '3', '--out', weights).code, 0);
  const images = join(dir, 'digits');
  mkdirSync(images);
  const batch = join(dir, 'digits.safetensors');
  scope(() => {
    const test = loadMnist({ split: 'test' });
    const x = test.images.narrow(0, 0, 3).contiguous();
    const bytes = x.mul(255).round().to('uint8').contiguous().toTypedArray() as Uint8Array;
    for (let i = 0; i < 3; i++) writePng(join(images, `digit${i}.png`), bytes.subarray(i * 784, (i + 1) * 784), 1, 28);
    saveSafetensors(batch, { input: x });
    test.dispose();
  });
  const fromTensor = join(dir, 'from-tensor.safetensors');
  const fromImages = join(dir, 'from-images.safetensors');
  assert.equal(netlab('predict', '--arch', 'madry-cnn', '--weights', weights, '--input', batch, '--output', fromTensor).code, 0);
  const run = netlab('predict', '--arch', 'madry-cnn', '--weights', weights, '--input', images, '--output', fromImages, '--json', '--top', '2');
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.equal(summary.n, 3);
  assert.deepEqual(summary.images.map((i: { file: string }) => i.file), [0, 1, 2].map((i) => join(images, `digit${i}.png`)));
  assert.equal(summary.images[0].top.length, 2);
  assert.ok(summary.images[0].top[0].probability >= summary.images[0].top[1].probability);
  const a = loadSafetensors(fromTensor);
  const b = loadSafetensors(fromImages);
  scope(() => {
    // MNIST's pixels are whole grey levels, so the PNG holds them exactly.
    const difference = a.tensors.get('logits')!.sub(b.tensors.get('logits')!).abs().max().item();
    assert.ok(difference < 1e-5, `logits differ by ${difference}`);
    assert.equal(summary.images[0].top[0].class, b.tensors.get('predictions')!.toArray()[0]);
    for (const t of [...a.tensors.values(), ...b.tensors.values()]) t.dispose();
  });
  const plain = netlab('predict', '--arch', 'madry-cnn', '--weights', weights, '--input', join(images, 'digit0.png'));
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /digit0\.png: \d \d+\.\d%, \d \d+\.\d%, \d \d+\.\d%/);
  const notImage = join(dir, 'notes.png');
  writeFileSync(notImage, 'hello');
  const bad = netlab('predict', '--arch', 'madry-cnn', '--weights', weights, '--input', notImage);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /notes\.png: not a PNG or JPEG image/);
});

// A CIFAR-10 batch of `records` records: label r mod 10, pixels a pattern of r.
function cifarBatch(records: number, first: number): Uint8Array {
  const bytes = new Uint8Array(records * 3073);
  for (let r = 0; r < records; r++) {
    bytes[r * 3073] = (first + r) % 10;
    for (let j = 0; j < 3072; j++) bytes[r * 3073 + 1 + j] = (37 * (first + r) + 11 * j) % 256;
  }
  return bytes;
}

test('train takes CIFAR-10 from a folder with the ResNet preset; the weights remember their standardisation', () => {
  const root = join(dir, 'cifar');
  mkdirSync(root);
  for (let b = 1; b <= 5; b++) writeFileSync(join(root, `data_batch_${b}.bin`), cifarBatch(8, 8 * b));
  writeFileSync(join(root, 'test_batch.bin'), cifarBatch(6, 0));
  const weights = join(dir, 'resnet20-cifar.safetensors');
  const train = netlab('train', '--arch', 'resnet20', '--dataset', 'cifar10', '--data-root', root, '--epochs', '2', '--batch-size', '10', '--out', weights, '--json');
  assert.equal(train.code, 0, train.stderr);
  const result = JSON.parse(train.stdout);
  assert.equal(result.preset, 'resnet');
  assert.equal(result.dataset, 'cifar10');
  assert.equal(result.history.length, 2);
  assert.deepEqual([result.recipe.optimizer, result.recipe.lr, result.recipe.momentum, result.recipe.weightDecay, result.recipe.cropPadding, result.recipe.flip], ['sgd', 0.1, 0.9, 1e-4, 4, true]);
  // Milestones at 50% and 75% of 2 epochs: the lr falls after epoch 1.
  assert.deepEqual(result.history.map((e: { lr: number }) => Number(e.lr.toPrecision(6))), [0.1, 0.01]);
  assert.match(train.stderr, /resnet preset: 2 epochs, batch 10, sgd lr 0\.1 momentum 0\.9, step ×0\.1 at epochs 1, 2, weight decay 0\.0001, pad-4 crops, flips/);
  const file = loadSafetensors(weights);
  assert.equal(file.metadata.dataset, 'cifar10');
  assert.deepEqual(JSON.parse(file.metadata.input_normalization).mean, [0.4914, 0.4822, 0.4465]);
  assert.deepEqual(file.tensors.get('conv1.weight')!.shape, [16, 3, 3, 3]);
  for (const t of file.tensors.values()) t.dispose();
  const attack = netlab('attack', '--arch', 'resnet20', '--dataset', 'cifar10', '--data-root', root, '--weights', weights, '--eps', '0.03', '--steps', '2', '--step-size', '0.01', '--n', '6', '--json');
  assert.equal(attack.code, 0, attack.stderr);
  assert.equal(JSON.parse(attack.stdout).n, 6);
  const onMnist = netlab('attack', '--arch', 'resnet20', '--weights', weights, '--n', '6');
  assert.equal(onMnist.code, 1);
  assert.match(onMnist.stderr, /holds a 'resnet20' trained on cifar10, not mnist/);
});
