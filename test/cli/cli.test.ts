// The netlab command, run as a user runs it: a child process, its exit code,
// its stdout and stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadSafetensors } from '../../src/io/safetensors.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let dir: string;

function netlab(...args: string[]) {
  const run = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, NETLAB_THREADS: undefined } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-cli-'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('--help explains the commands and each option', () => {
  const top = netlab('--help');
  assert.equal(top.code, 0);
  for (const command of ['demo', 'train', 'attack', 'eval']) assert.match(top.stdout, new RegExp(`^  ${command} `, 'm'));
  const attack = netlab('attack', '--help');
  assert.equal(attack.code, 0);
  for (const option of ['--arch', '--weights', '--attack fgsm\\|bim\\|pgd', '--norm linf\\|l2', '--eps', '--steps', '--step-size', '--restarts', '--n', '--json', '--save-adv']) {
    assert.match(attack.stdout, new RegExp(option));
  }
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
  ['an unknown attack', ['attack', '--attack', 'cw', '--weights', 'x.safetensors'], /--attack must be one of fgsm, bim, pgd, got 'cw'/],
  ['L2 with FGSM', ['attack', '--attack', 'fgsm', '--norm', 'l2', '--weights', 'x.safetensors'], /--norm l2 needs --attack pgd/],
  ['a negative ε', ['attack', '--eps=-1', '--weights', 'x.safetensors'], /--eps must be >= 0, got -1/],
  ['a step size of 0', ['attack', '--step-size', '0', '--weights', 'x.safetensors'], /--step-size must be > 0, got 0/],
  ['zero restarts', ['attack', '--restarts', '0', '--weights', 'x.safetensors'], /--restarts must be >= 1, got 0/],
  ['too many images', ['attack', '--n', '20000', '--weights', 'x.safetensors'], /--n must be <= 10000, got 20000/],
  ['no weights', ['attack'], /--weights FILE is required/],
  ['a demo budget of 0 minutes', ['demo', '--adv-minutes', '0'], /--adv-minutes must be > 0/],
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
  assert.match(wrong.stderr, /does not fit 'resnet20'.*(missing keys|unexpected keys|size mismatch)/s);
  const ambiguous = netlab('predict', '--arch', 'madry-cnn', '--weights', weights, '--input', adv, '--output', logitsPath);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /holds 3 tensors \(.*\); name one with --key/);
});
