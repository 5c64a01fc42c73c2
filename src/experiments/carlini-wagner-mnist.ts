// Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks"
// (IEEE S&P 2017), on MNIST: their three attacks against the attacks they
// compare with (Table IV), defensive distillation broken (§VIII), C&W
// distortion against the distillation temperature, high-confidence
// examples that transfer (Figures 9 and 10), and Figure 6 (an all-black
// image made to read as each digit). Trains every network it attacks (the
// paper's MNIST network, Table I, with its Table II recipe) and returns
// everything a report needs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { cat, manualSeed, noGrad, scope, tensor, zeros, type Tensor } from '../tensor/index.js';
import { DataLoader, TensorDataset } from '../data/dataset.js';
import { loadMnist } from '../data/mnist.js';
import { saveSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { StateDict } from '../nn/module.js';
import { CWMnistNet } from '../models/cw-mnist.js';
import { SGD } from '../optim/sgd.js';
import { RECIPES, recipeSchedule } from '../train/recipes.js';
import { fit } from '../train/trainer.js';
import { softLabels, softmaxOutput, temperatureLoss } from '../defenses/distillation.js';
import { inputGradient, type Attack, type Classifier } from '../attacks/attack.js';
import { attackAllTargets, rowOutcomes, summariseRows, type DistortionNorm, type DistortionSummary } from '../attacks/all-targets.js';
import { BIM } from '../attacks/bim.js';
import { CWL0 } from '../attacks/cw-l0.js';
import { CWL2 } from '../attacks/cw-l2.js';
import { CWLinf } from '../attacks/cw-linf.js';
import { DeepFool } from '../attacks/deepfool.js';
import { FGSM } from '../attacks/fgsm.js';
import { JSMA } from '../attacks/jsma.js';
import { LBFGSAttack } from '../attacks/lbfgs.js';
import { MinimumEps } from '../attacks/minimum-eps.js';
import { cleanAccuracy } from '../eval/robustness.js';
import { definedOnly } from '../options.js';
import type { ExperimentCallbacks } from './experiment.js';

/** The paper's MNIST figures, for comparison: Table IV (mean distance, success rate), §VIII, Figures 9 and 10. */
export const PAPER = {
  cleanAccuracy: 0.995,
  table4: {
    'C&W L0': { norm: 'l0', best: [8.5, 1], average: [16, 1], worst: [33, 1] },
    'JSMA-Z': { norm: 'l0', best: [20, 1], average: [56, 1], worst: [180, 0.98] },
    'JSMA-F': { norm: 'l0', best: [17, 1], average: [45, 1], worst: [100, 1] },
    'C&W L2': { norm: 'l2', best: [1.36, 1], average: [1.76, 1], worst: [2.6, 1] },
    DeepFool: { norm: 'l2', best: [2.11, 1], average: null, worst: null },
    'C&W L∞': { norm: 'linf', best: [0.13, 1], average: [0.16, 1], worst: [0.23, 1] },
    FGSM: { norm: 'linf', best: [0.22, 1], average: [0.26, 0.42], worst: [null, 0] },
    BIM: { norm: 'linf', best: [0.14, 1], average: [0.19, 1], worst: [0.26, 1] },
  } as Record<string, { norm: DistortionNorm; best: [number | null, number]; average: [number | null, number] | null; worst: [number | null, number] | null }>,
  distillation: 'FGSM, DeepFool, L-BFGS and JSMA largely fail on the distilled network (T = 100); C&W succeeds on 100% with distortion close to the undistilled network’s',
  transfer: 'between two undistilled networks trained on disjoint halves, transfer reaches about 100% near κ = 20; to a distilled network, near κ = 40',
};

export interface CwMnistOptions {
  outDir: string;
  seed?: number;
  /** Epochs of the natural network (Table II: 50). */
  naturalEpochs?: number;
  /** Epochs of each teacher and each student. */
  distillEpochs?: number;
  /** Distillation temperatures of the distortion-against-temperature sweep; the distillation table uses the largest. */
  temperatures?: number[];
  /** Epochs of each network trained on half the training set (transferability). */
  halfEpochs?: number;
  /** Test images (the first the natural network classifies correctly) for Table IV and the distillation experiments, each attacked towards its 9 other classes. */
  count?: number;
  /** Test images for the transfer curves (untargeted). */
  transferCount?: number;
  /** The confidences κ of the transfer curves. */
  kappas?: number[];
  /** Search steps over c of C&W L2 (Carlini's code: 9; the paper: 20). */
  searchSteps?: number;
  /** Adam iterations per value of c of C&W L2 (Carlini's code: 10,000, each example stopping when its loss stalls). */
  maxIterations?: number;
  /** Adam iterations per value of c of C&W L0 and L∞ (Carlini's code: 1,000). Their c doubles after every failure up to a bound, so this sets their cost. */
  l0LinfIterations?: number;
  /** Search steps of C&W L2 in the transfer experiment, where confidence, not the last bit of distance, matters. */
  transferSearchSteps?: number;
  /** Training images used (the first ones); all 60,000 by default. For quick trial runs. */
  trainCount?: number;
  dataRoot?: string;
}

/** The default budget (see the reproduce command's help for its time). */
export const CW_REPRODUCTION_DEFAULTS = {
  seed: 0,
  naturalEpochs: 6,
  distillEpochs: 2,
  temperatures: [1, 10, 100],
  halfEpochs: 4,
  count: 10,
  transferCount: 50,
  kappas: [0, 5, 10, 15, 20, 25, 30, 35, 40],
  searchSteps: 9,
  maxIterations: 2000,
  l0LinfIterations: 200,
  transferSearchSteps: 3,
  trainCount: 60000,
};

/** The paper's settings (many hours on a CPU): its 50 epochs, C&W L2's 20 search steps × 10,000 iterations, 100 images. */
export const CW_REPRODUCTION_PAPER = { naturalEpochs: 50, distillEpochs: 50, halfEpochs: 50, count: 100, transferCount: 1000, searchSteps: 20, maxIterations: 10000, l0LinfIterations: 1000, transferSearchSteps: 9 };

export interface NetworkReport {
  name: string;
  /** The temperature it was trained at (a student: the teacher's). */
  temperature: number;
  role: 'natural' | 'teacher' | 'student' | 'half';
  trainImages: number;
  epochs: number;
  seconds: number;
  /** Test accuracy (all 10,000) at T = 1. */
  testAccuracy: number;
  weights: string;
}

export interface MethodRow {
  method: string;
  norm: DistortionNorm;
  /** Untargeted attacks (DeepFool) have only a best case: one result per image. */
  targeted: boolean;
  best: DistortionSummary;
  average: DistortionSummary | null;
  worst: DistortionSummary | null;
  seconds: number;
}

/** One image's adversarial examples towards each other class (or one, untargeted), 28·28 grey levels 0–255. */
export interface ExampleStrip {
  method: string;
  clean: number[];
  label: number;
  images: { target: number | null; pixels: number[]; success: boolean; distance: number }[];
}

export interface CwMnistResult {
  options: Required<Omit<CwMnistOptions, 'dataRoot'>>;
  networks: NetworkReport[];
  /** The test images attacked in Table IV and the distillation table (first correctly classified ones). */
  images: number[];
  table4: MethodRow[];
  distillation: { temperature: number; natural: MethodRow[]; distilled: MethodRow[] };
  /** Untargeted C&W L2 on the natural network (temperature null) and each distilled one. */
  temperatureSweep: { temperature: number | null; testAccuracy: number; row: MethodRow }[];
  transfer: { count: number; points: { kappa: number; success: number; meanL2: number; toUndistilled: number; toDistilled: number; seconds: number }[] };
  /** The attacks start beside the black image, at uniform noise in [−startNoise, startNoise], when the network's input gradient there is exactly 0 (else at it: startNoise 0). */
  figure6: { startNoise: number; strips: ExampleStrip[] };
  examples: ExampleStrip[];
  totalSeconds: number;
  paper: typeof PAPER;
}

// BIM's steps grow with ε (Kurakin et al.: min(255ε + 4, 1.25·255ε)), so its search stops at ε = 0.5
// (the paper's worst case is 0.26); FGSM, one step at any ε, searches the whole box.
const BIM_GRID = Array.from({ length: 128 }, (_, k) => (k + 1) / 255);

/** The attacks of Table IV with the settings of this run. */
function methods(o: CwMnistResult['options']): { name: string; norm: DistortionNorm; targeted: boolean; make: () => Attack }[] {
  return [
    { name: 'C&W L0', norm: 'l0', targeted: true, make: () => new CWL0({ maxIterations: o.l0LinfIterations }) },
    { name: 'JSMA-Z', norm: 'l0', targeted: true, make: () => new JSMA({ variant: 'z' }) },
    { name: 'JSMA-F', norm: 'l0', targeted: true, make: () => new JSMA({ variant: 'f' }) },
    { name: 'C&W L2', norm: 'l2', targeted: true, make: () => new CWL2({ searchSteps: o.searchSteps, maxIterations: o.maxIterations }) },
    { name: 'DeepFool', norm: 'l2', targeted: false, make: () => new DeepFool() },
    { name: 'C&W L∞', norm: 'linf', targeted: true, make: () => new CWLinf({ maxIterations: o.l0LinfIterations }) },
    { name: 'FGSM', norm: 'linf', targeted: true, make: () => new MinimumEps((eps) => new FGSM({ eps })) },
    { name: 'BIM', norm: 'linf', targeted: true, make: () => new MinimumEps((eps) => new BIM({ eps }), { grid: BIM_GRID }) },
  ];
}

// L-BFGS's line search over c takes as many steps as C&W L2's.
const lbfgs = (o: CwMnistResult['options']) => ({ name: 'L-BFGS', norm: 'l2' as const, targeted: true, make: () => new LBFGSAttack({ searchSteps: o.searchSteps }) });
const DISTILLATION_METHODS = ['FGSM', 'DeepFool', 'L-BFGS', 'JSMA-Z', 'JSMA-F', 'C&W L2'];
// The attacks Papernot et al. ran against distillation, which reach the network through its softmax output F
// (C&W §VIII.A); JSMA-Z and C&W take the logits by definition.
export const THROUGH_SOFTMAX = ['FGSM', 'DeepFool', 'L-BFGS', 'JSMA-F'];

/** Runs the experiment; weights and results.json go to options.outDir. */
export function runCwMnist(options: CwMnistOptions, callbacks: ExperimentCallbacks = {}): CwMnistResult {
  const o = { ...CW_REPRODUCTION_DEFAULTS, ...definedOnly(options), outDir: options.outDir };
  checkOptions(o);
  const log = callbacks.log ?? (() => {});
  const started = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  manualSeed(o.seed);
  const train = loadMnist({ split: 'train', root: options.dataRoot });
  const test = loadMnist({ split: 'test', root: options.dataRoot });
  const networks: NetworkReport[] = [];
  const models: CWMnistNet[] = [];
  const keep = (m: { model: CWMnistNet; report: NetworkReport }) => {
    models.push(m.model);
    networks.push(m.report);
    return m.model;
  };
  try {
    const images = train.images.narrow(0, 0, o.trainCount);
    const labels = train.labels.narrow(0, 0, o.trainCount);
    const trainer = new NetworkTrainer(o, test.images, test.labels, callbacks);

    // The natural network; its first epoch is where every distilled network starts.
    const natural = trainer.train({ name: 'natural', role: 'natural', images, targets: labels, epochs: o.naturalEpochs, temperature: 1, snapshotFirstEpoch: true });
    keep(natural);
    const start = natural.firstEpoch!;
    // Distillation at each temperature: teacher and student start from the natural network's first epoch
    // (from scratch at T = 100, the logits are too small for SGD to leave chance).
    const students: { temperature: number; model: CWMnistNet; testAccuracy: number }[] = [];
    try {
      for (const temperature of o.temperatures) {
        const teacher = trainer.train({ name: `teacher T=${temperature}`, role: 'teacher', images, targets: labels, epochs: o.distillEpochs, temperature, init: start });
        const soft = softLabels(teacher.model, images, temperature);
        teacher.model.dispose();
        networks.push(teacher.report);
        const student = trainer.train({ name: `distilled T=${temperature}`, role: 'student', images, targets: soft, epochs: o.distillEpochs, temperature, init: start });
        soft.dispose();
        students.push({ temperature, model: keep(student), testAccuracy: student.report.testAccuracy });
      }
    } finally {
      for (const t of start.values()) t.dispose();
    }
    // The first test images the natural network and every distilled one get right, for every targeted table.
    const chosen = firstCorrect(natural.model, test.images, test.labels, o.count, students.map((s) => s.model));
    const x = noGrad(() => test.images.indexSelect(0, chosen.index));
    const y = noGrad(() => test.labels.indexSelect(0, chosen.index));
    try {
      log(`Table IV: ${o.count} test images × 9 targets on the natural network`);
      const all = methods(o);
      const examples: ExampleStrip[] = [];
      const table4 = all.map((m) => attackRow(m, natural.model, x, y, callbacks, examples));
      const l2 = all.find((m) => m.name === 'C&W L2')!;
      const T = Math.max(...o.temperatures);
      const distilled = students.find((s) => s.temperature === T)!.model;
      log(`distillation: ${DISTILLATION_METHODS.join(', ')} on the network distilled at T = ${T} (${THROUGH_SOFTMAX.join(', ')} through its softmax output)`);
      const byName = new Map([...all, lbfgs(o)].map((m) => [m.name, m]));
      const naturalRows = DISTILLATION_METHODS.map((name) => table4.find((r) => r.method === name) ?? attackRow(byName.get(name)!, natural.model, x, y, callbacks));
      distilled.eval();
      const deployed = softmaxOutput(distilled);
      const distilledRows = DISTILLATION_METHODS.map((name) => attackRow(byName.get(name)!, THROUGH_SOFTMAX.includes(name) ? deployed : distilled, x, y, callbacks));
      // Untargeted, one attack per image: the trend, at a ninth of the all-targets cost.
      log('C&W L2 (untargeted) against the distillation temperature');
      const untargeted = { ...l2, targeted: false };
      const sweep: CwMnistResult['temperatureSweep'] = [
        { temperature: null, testAccuracy: natural.report.testAccuracy, row: attackRow(untargeted, natural.model, x, y, callbacks) },
        ...students.map((s) => ({ temperature: s.temperature, testAccuracy: s.testAccuracy, row: attackRow(untargeted, s.model, x, y, callbacks) })),
      ];

      const transfer = transferCurves(o, trainer, images, labels, test.images, test.labels, networks, keep, callbacks);
      const figure6 = blackImage(natural.model, o, callbacks);
      const result: CwMnistResult = {
        options: o,
        networks,
        images: chosen.positions,
        table4,
        distillation: { temperature: T, natural: naturalRows, distilled: distilledRows },
        temperatureSweep: sweep,
        transfer,
        figure6,
        examples,
        totalSeconds: (performance.now() - started) / 1000,
        paper: PAPER,
      };
      writeFileAtomic(join(o.outDir, 'results.json'), JSON.stringify(result, null, 1));
      return result;
    } finally {
      for (const t of [x, y, chosen.index]) t.dispose();
    }
  } finally {
    for (const m of models) m.dispose();
    train.dispose();
    test.dispose();
  }
}

function checkOptions(o: CwMnistResult['options']): void {
  const whole = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`runCwMnist: ${name} must be a whole number >= ${min}, got ${v}`);
  };
  for (const name of ['naturalEpochs', 'distillEpochs', 'halfEpochs', 'count', 'transferCount', 'searchSteps', 'maxIterations', 'l0LinfIterations', 'transferSearchSteps'] as const) whole(name, o[name], 1);
  whole('trainCount', o.trainCount, 2);
  if (o.trainCount > 60000) throw new RangeError(`runCwMnist: trainCount must be at most 60000, got ${o.trainCount}`);
  if (o.count > 1000 || o.transferCount > 10000) throw new RangeError('runCwMnist: count must be at most 1000 and transferCount at most 10000 (the test images the network gets right must suffice)');
  if (o.temperatures.length === 0 || o.temperatures.some((t) => !(t > 0) || !Number.isFinite(t))) throw new RangeError(`runCwMnist: temperatures must be finite numbers > 0, got ${JSON.stringify(o.temperatures)}`);
  if (o.kappas.length === 0 || o.kappas.some((k) => !(k >= 0) || !Number.isFinite(k))) throw new RangeError(`runCwMnist: kappas must be finite numbers >= 0, got ${JSON.stringify(o.kappas)}`);
}

interface TrainJob {
  name: string;
  role: NetworkReport['role'];
  images: Tensor;
  /** Class indices, or the teacher's soft labels. */
  targets: Tensor;
  epochs: number;
  temperature: number;
  init?: StateDict;
  /** Keep a copy of the weights after the first epoch. */
  snapshotFirstEpoch?: boolean;
}

/** Trains the paper's MNIST network (Table I) with its recipe (Table II) at a temperature; the schedule's halvings fall at the same fractions of a shorter run. */
class NetworkTrainer {
  private jobs = 0;

  constructor(
    private readonly o: CwMnistResult['options'],
    private readonly testImages: Tensor,
    private readonly testLabels: Tensor,
    private readonly callbacks: ExperimentCallbacks,
  ) {}

  train(job: TrainJob): { model: CWMnistNet; report: NetworkReport; firstEpoch?: StateDict } {
    const { o, callbacks } = this;
    const recipe = RECIPES.cw;
    const model = new CWMnistNet();
    if (job.init !== undefined) scope(() => model.loadStateDict(job.init!));
    const loader = new DataLoader(new TensorDataset(job.images, job.targets), { batchSize: recipe.batchSize, shuffle: true, seed: o.seed + ++this.jobs });
    const optimizer = new SGD(model.parameters(), { lr: recipe.lr, momentum: recipe.momentum });
    const { schedule, every } = recipeSchedule(optimizer, recipe, job.epochs, loader.length);
    const started = performance.now();
    let firstEpoch: StateDict | undefined;
    callbacks.phase?.({ name: `training ${job.name}`, total: job.epochs * loader.length, unit: 'steps' });
    try {
      fit({
        model,
        loader,
        optimizer,
        epochs: job.epochs,
        loss: temperatureLoss(job.temperature),
        schedule,
        scheduleEvery: every,
        onStep: (s) => callbacks.progress?.(s.globalStep + 1, { loss: s.loss.toFixed(3) }),
        onEpoch: (e) => {
          if (e.epoch === 0 && job.snapshotFirstEpoch) firstEpoch = noGrad(() => new Map([...model.stateDict()].map(([k, v]) => [k, v.clone()])));
        },
      });
    } finally {
      optimizer.dispose();
    }
    const seconds = (performance.now() - started) / 1000;
    const testAccuracy = cleanAccuracy(model, this.testImages, this.testLabels);
    const weights = join(o.outDir, `${job.name.replace(/[^A-Za-z0-9]+/g, '-').replace(/-$/, '')}.safetensors`);
    scope(() => saveSafetensors(weights, model.stateDict(), { arch: 'cw-mnist', framework: 'netlab', training_temperature: String(job.temperature), role: job.role }));
    callbacks.log?.(`${job.name}: ${job.epochs} epochs on ${job.images.shape[0]} images at T = ${job.temperature} in ${seconds.toFixed(0)} s, test accuracy ${(100 * testAccuracy).toFixed(2)}%`);
    return { model, report: { name: job.name, temperature: job.temperature, role: job.role, trainImages: job.images.shape[0], epochs: job.epochs, seconds, testAccuracy, weights }, firstEpoch };
  }
}

/** Predictions at T = 1 (the deployed network), `batch` at a time. */
function predict(model: CWMnistNet, images: Tensor, batch = 1000): Tensor {
  model.eval();
  return noGrad(() =>
    scope(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < images.shape[0]; i += batch) parts.push((model.forward(images.narrow(0, i, Math.min(batch, images.shape[0] - i))) as Tensor).argmax(1));
      return cat(parts);
    }),
  );
}

/** The first `count` test images the model classifies correctly: their positions and an index tensor. */
function firstCorrect(model: CWMnistNet, images: Tensor, labels: Tensor, count: number, among?: CWMnistNet[]): { positions: number[]; index: Tensor } {
  const ok = [model, ...(among ?? [])].map((m) => {
    const pred = predict(m, images);
    const right = noGrad(() => scope(() => pred.eq(labels).toArray() as boolean[]));
    pred.dispose();
    return right;
  });
  const positions: number[] = [];
  for (let i = 0; i < labels.shape[0] && positions.length < count; i++) if (ok.every((r) => r[i])) positions.push(i);
  if (positions.length < count) throw new RangeError(`runCwMnist: only ${positions.length} test images are classified correctly, fewer than the ${count} asked for`);
  return { positions, index: tensorOf(positions) };
}

function tensorOf(values: number[]): Tensor {
  return tensor(values, { dtype: 'int64' });
}

/** Attacks x with one method (all targets, or untargeted) and summarises it; adds image 0's strip to `examples` when given. */
function attackRow(
  m: { name: string; norm: DistortionNorm; targeted: boolean; make: () => Attack },
  model: Classifier,
  x: Tensor,
  y: Tensor,
  callbacks: ExperimentCallbacks,
  examples?: ExampleStrip[],
): MethodRow {
  const started = performance.now();
  const attack = m.make();
  if (!m.targeted) {
    const result = attack.run(model, x, { labels: y });
    try {
      const rows = rowOutcomes(result);
      const row: MethodRow = { method: m.name, norm: m.norm, targeted: false, best: summariseRows(rows), average: null, worst: null, seconds: (performance.now() - started) / 1000 };
      examples?.push(strip(m.name, x, y, result.adversarial, rows.success, rows[m.norm], 1, null));
      callbacks.log?.(describeRow(row));
      return row;
    } finally {
      result.dispose();
    }
  }
  const all = attackAllTargets(attack, model, x, { labels: y, norm: m.norm });
  try {
    const row: MethodRow = { method: m.name, norm: m.norm, targeted: true, best: all.best, average: all.average, worst: all.worst, seconds: (performance.now() - started) / 1000 };
    const rows = rowOutcomes(all.result);
    examples?.push(strip(m.name, x, y, all.result.adversarial, rows.success, rows[m.norm], 9, all.result.targets));
    callbacks.log?.(describeRow(row));
    return row;
  } finally {
    all.dispose();
  }
}

function describeRow(r: MethodRow): string {
  const d = (s: DistortionSummary | null) => (s === null ? '—' : `${formatDistance(r.norm, s)} (${(100 * s.successRate).toFixed(0)}%)`);
  return `  ${r.method.padEnd(9)} best ${d(r.best)}, average ${d(r.average)}, worst ${d(r.worst)}; ${r.seconds.toFixed(0)} s`;
}

export function formatDistance(norm: DistortionNorm, s: DistortionSummary): string {
  const value = norm === 'l0' ? s.meanL0 : norm === 'l2' ? s.meanL2 : s.meanLinf;
  return Number.isNaN(value) ? '—' : norm === 'l0' ? value.toFixed(1) : value.toFixed(3);
}

function pixels(image: Tensor): number[] {
  return noGrad(() => scope(() => image.flatten().mul(255).round().clamp(0, 255).toArray() as number[]));
}

/** Image 0 of x and its `per` result rows. */
function strip(method: string, x: Tensor, y: Tensor, adversarial: Tensor, success: boolean[], distance: number[], per: number, targets: Tensor | null): ExampleStrip {
  const t = targets === null ? null : (targets.narrow(0, 0, per).toArray() as number[]);
  return {
    method,
    clean: pixels(x.narrow(0, 0, 1)),
    label: y.narrow(0, 0, 1).item(),
    images: Array.from({ length: per }, (_, i) => ({ target: t === null ? null : t[i], pixels: pixels(adversarial.narrow(0, i, 1)), success: success[i], distance: distance[i] })),
  };
}

// Figure 6's start beside the black image, where the gradient there is exactly 0: noise a conv filter sees through a dead ReLU.
const FIGURE6_START_NOISE = 0.2;
// From that start, C&W L0 begins at this c: at its default 1e-3 the distance term pulls the image back to black within
// a hundred steps, and its later values of c go on from there (Carlini's warm continuation), where nothing moves again.
const FIGURE6_L0_CONST = 1;

/**
 * Figure 6: an all-black image towards each digit the natural network does
 * not already read in it, by each C&W attack. Where the network's input
 * gradient at black is exactly 0 (its first ReLUs all off), no descent
 * started there can move, so the attacks start beside it (startNoise).
 */
function blackImage(model: CWMnistNet, o: CwMnistResult['options'], callbacks: ExperimentCallbacks): CwMnistResult['figure6'] {
  const black = zeros([9, 1, 28, 28]);
  const read = predict(model, black.narrow(0, 0, 1)).item();
  const others = Array.from({ length: 10 }, (_, d) => d).filter((d) => d !== read);
  const labels = noGrad(() => zeros([9], { dtype: 'int64' }).add(read));
  const targets = tensorOf(others);
  const flat = scope(() => inputGradient((x) => model.forward(x), black.narrow(0, 0, 1), targets.narrow(0, 0, 1), true).grad.abs().sum().item() === 0);
  const startNoise = flat ? FIGURE6_START_NOISE : 0;
  callbacks.log?.(`Figure 6: an all-black image towards each digit${flat ? ` (the gradient there is 0: starting at noise in [-${startNoise}, ${startNoise}])` : ''}`);
  const attacks: [string, DistortionNorm, Attack][] = [
    ['C&W L0', 'l0', new CWL0({ maxIterations: o.l0LinfIterations, startNoise, ...(startNoise > 0 ? { initialConst: FIGURE6_L0_CONST } : {}) })],
    ['C&W L2', 'l2', new CWL2({ searchSteps: o.searchSteps, maxIterations: o.maxIterations, startNoise })],
    ['C&W L∞', 'linf', new CWLinf({ maxIterations: o.l0LinfIterations, startNoise })],
  ];
  try {
    const strips = attacks.map(([method, norm, attack]) => {
      const result = attack.run(model, black, { labels, targets });
      try {
        const rows = rowOutcomes(result);
        return strip(method, black, labels, result.adversarial, rows.success, rows[norm], 9, result.targets);
      } finally {
        result.dispose();
      }
    });
    return { startNoise, strips };
  } finally {
    for (const t of [black, labels, targets]) t.dispose();
  }
}

// The transfer runs start c here, not at 1e-3: few search steps then reach the large c that high confidence needs.
const TRANSFER_CONST = 1;

/**
 * Figures 9–10, untargeted: two networks on disjoint halves of the training
 * set, and the second distilled at the largest temperature; C&W L2 examples
 * made on the first at each κ, and the share of its successes that the
 * others also misclassify.
 */
function transferCurves(
  o: CwMnistResult['options'],
  trainer: NetworkTrainer,
  images: Tensor,
  labels: Tensor,
  testImages: Tensor,
  testLabels: Tensor,
  networks: NetworkReport[],
  keep: (m: { model: CWMnistNet; report: NetworkReport }) => CWMnistNet,
  callbacks: ExperimentCallbacks,
): CwMnistResult['transfer'] {
  const half = Math.floor(images.shape[0] / 2);
  const part = (t: Tensor, first: boolean) => (first ? t.narrow(0, 0, half) : t.narrow(0, half, t.shape[0] - half));
  const a = keep(trainer.train({ name: 'half A', role: 'half', images: part(images, true), targets: part(labels, true), epochs: o.halfEpochs, temperature: 1 }));
  const bRun = trainer.train({ name: 'half B', role: 'half', images: part(images, false), targets: part(labels, false), epochs: o.halfEpochs, temperature: 1, snapshotFirstEpoch: true });
  const b = keep(bRun);
  const T = Math.max(...o.temperatures);
  const teacher = trainer.train({ name: `half B teacher T=${T}`, role: 'teacher', images: part(images, false), targets: part(labels, false), epochs: o.distillEpochs, temperature: T, init: bRun.firstEpoch });
  const soft = softLabels(teacher.model, part(images, false), T);
  teacher.model.dispose();
  networks.push(teacher.report);
  const bDistilled = keep(trainer.train({ name: `half B distilled T=${T}`, role: 'student', images: part(images, false), targets: soft, epochs: o.distillEpochs, temperature: T, init: bRun.firstEpoch }));
  soft.dispose();
  for (const t of bRun.firstEpoch!.values()) t.dispose();

  // Images all three networks classify correctly, so a misclassification on B is the example's doing.
  const chosen = firstCorrect(a, testImages, testLabels, o.transferCount, [b, bDistilled]);
  const x = noGrad(() => testImages.indexSelect(0, chosen.index));
  const y = noGrad(() => testLabels.indexSelect(0, chosen.index));
  callbacks.log?.(`transfer: C&W L2 (untargeted) on half A at κ = ${o.kappas.join(', ')}, ${o.transferCount} images`);
  try {
    const points = o.kappas.map((kappa) => {
      const started = performance.now();
      const result = new CWL2({ kappa, searchSteps: o.transferSearchSteps, maxIterations: o.maxIterations, initialConst: TRANSFER_CONST }).run(a, x, { labels: y });
      try {
        const success = result.success.toArray() as boolean[];
        const fooled = (net: CWMnistNet) => {
          const pred = predict(net, result.adversarial);
          const wrong = noGrad(() => scope(() => pred.ne(y).toArray() as boolean[]));
          pred.dispose();
          const made = success.flatMap((ok, i) => (ok ? [wrong[i]] : []));
          return made.length === 0 ? NaN : made.filter(Boolean).length / made.length;
        };
        const l2 = summariseRows(rowOutcomes(result)).meanL2;
        const point = { kappa, success: success.filter(Boolean).length / success.length, meanL2: l2, toUndistilled: fooled(b), toDistilled: fooled(bDistilled), seconds: (performance.now() - started) / 1000 };
        callbacks.log?.(`  κ = ${kappa}: success on A ${(100 * point.success).toFixed(0)}% (mean L2 ${l2.toFixed(2)}), transfer to B ${(100 * point.toUndistilled).toFixed(0)}%, to distilled B ${(100 * point.toDistilled).toFixed(0)}%`);
        return point;
      } finally {
        result.dispose();
      }
    });
    return { count: o.transferCount, points };
  } finally {
    for (const t of [x, y, chosen.index]) t.dispose();
  }
}
