// Goodfellow et al. (2014), "Generative Adversarial Nets", on MNIST: train
// the released code's generator and maxout discriminator by Algorithm 1,
// score the generator by the paper's Parzen-window protocol (Table 1), and
// collect the paper's figures — samples beside their nearest training
// images (Figure 2), interpolations in z (Figure 3) — and the theory check
// of Figure 1 / Proposition 1 on a 1-D problem with known densities.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

import { cat, linspace, manualSeed, noGrad, randn, scope, tensor, type Tensor } from '../tensor/index.js';
import * as F from '../nn/functional.js';
import { Linear, ReLU } from '../nn/layers.js';
import { Sequential } from '../nn/container.js';
import { Adam } from '../optim/adam.js';
import { loadMnist } from '../data/mnist.js';
import { saveSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { GanDiscriminator, GanGenerator, sampleLatent } from '../models/gan.js';
import { GAN_TRAINING_DEFAULTS, trainGan, type GanEpochInfo, type GanTrainingOptions } from '../train/gan.js';
import { parzenEstimate, type ParzenEstimate } from '../eval/parzen.js';
import { definedOnly } from '../options.js';
import type { ExperimentCallbacks } from './experiment.js';

/** Table 1 of the paper: Parzen-window log-likelihood on the MNIST test set, nats. */
export const GAN_PAPER = {
  table1: [
    { model: 'DBN', logLikelihood: 138, standardError: 2 },
    { model: 'Stacked CAE', logLikelihood: 121, standardError: 1.6 },
    { model: 'Deep GSN', logLikelihood: 214, standardError: 1.1 },
    { model: 'Adversarial nets', logLikelihood: 225, standardError: 2 },
  ],
};

export interface GanMnistOptions {
  outDir: string;
  seed?: number;
  /** Wall-clock minutes of GAN training; the whole run takes about two more. */
  minutes?: number;
  /** Most epochs to train (the budget usually ends training first). */
  epochs?: number;
  optimizer?: GanTrainingOptions['optimizer'];
  update?: GanTrainingOptions['update'];
  generatorObjective?: GanTrainingOptions['generatorObjective'];
  k?: number;
  /** Continue from outDir/checkpoint.safetensors; `minutes` is then the time for this run, on top of the checkpoint's. */
  resume?: boolean;
  /** Training images (the first ones of MNIST's 50,000 training part), for quick trial runs. */
  trainCount?: number;
  /** Generator samples for the Parzen window (the paper: 10,000). */
  parzenSamples?: number;
  /** Validation images (MNIST training images 50,000 onwards) for choosing σ (the paper: 1,000). */
  validationCount?: number;
  /** Test images scored (the paper: all 10,000). */
  testCount?: number;
  /** Training steps of the 1-D discriminator. */
  toySteps?: number;
  dataRoot?: string;
}

export const GAN_MNIST_DEFAULTS = {
  seed: 0,
  minutes: 55,
  epochs: 1000,
  optimizer: GAN_TRAINING_DEFAULTS.optimizer,
  update: GAN_TRAINING_DEFAULTS.update,
  generatorObjective: GAN_TRAINING_DEFAULTS.generatorObjective,
  k: GAN_TRAINING_DEFAULTS.k,
  resume: false,
  trainCount: 50000,
  parzenSamples: 10000,
  validationCount: 1000,
  testCount: 10000,
  toySteps: 3000,
};

/** The pylearn2 split of the released code: training images 0–49,999 train the GAN, 50,000–59,999 are validation. */
export const GAN_TRAIN_IMAGES = 50000;

export interface ToyCheck {
  /** p_data = N(dataMean, dataStd²); the fixed generator G(z) = generatorMean + generatorStd·z, z ~ N(0, 1). */
  dataMean: number;
  dataStd: number;
  generatorMean: number;
  generatorStd: number;
  steps: number;
  /** The grid over the support: x, both densities, D*(x) = p_data/(p_data + p_g) and the trained D(x). */
  x: number[];
  pData: number[];
  pG: number[];
  optimal: number[];
  trained: number[];
  /** Mean |D − D*| over the grid (x where either density exceeds 1% of its peak), and weighted by ½(p_data + p_g). */
  meanGap: number;
  weightedGap: number;
  /** The value of the game at D: E log D(x) + E log(1 − D(G(z))) by quadrature; at p_g = p_data it is −log 4. */
  value: number;
  optimalValue: number;
}

export interface GanMnistResult {
  options: Required<Omit<GanMnistOptions, 'dataRoot'>>;
  training: {
    seconds: number;
    generatorSteps: number;
    discriminatorSteps: number;
    /** Every epoch's mean losses and D outputs, those before a resume included. */
    epochs: GanEpochInfo[];
    resumedFrom?: { epoch: number; generatorSteps: number };
  };
  parzen: { generator: ParzenEstimate; realData: ParzenEstimate };
  /** 28·28 grey levels 0–255 per image. */
  figures: {
    /** Rows of samples; `neighbours[r]` is the training image nearest to the last sample of row r. */
    samples: number[][][];
    neighbours: number[][];
    interpolations: number[][][];
  };
  /** Proposition 1 with p_g ≠ p_data, and Theorem 1's optimum: with p_g = p_data, D* = ½ and the value is −log 4. */
  toy: { separate: ToyCheck; equal: ToyCheck };
  weights: { generator: string; discriminator: string };
  totalSeconds: number;
  paper: typeof GAN_PAPER;
}

/** Runs the experiment; weights, checkpoint and results.json go to options.outDir. */
export function runGanMnist(options: GanMnistOptions, callbacks: ExperimentCallbacks = {}): GanMnistResult {
  const o = { ...GAN_MNIST_DEFAULTS, ...definedOnly(options), outDir: options.outDir };
  const log = callbacks.log ?? (() => {});
  const started = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  manualSeed(o.seed);
  const trainSet = loadMnist({ split: 'train', root: options.dataRoot });
  const testSet = loadMnist({ split: 'test', root: options.dataRoot });
  const generator = new GanGenerator();
  const discriminator = new GanDiscriminator();
  const parts = scope(() => {
    const all = trainSet.images.flatten(1);
    return {
      train: all.narrow(0, 0, Math.min(o.trainCount, GAN_TRAIN_IMAGES)).clone(),
      validation: all.narrow(0, GAN_TRAIN_IMAGES, Math.min(o.validationCount, all.shape[0] - GAN_TRAIN_IMAGES)).clone(),
      test: testSet.images.flatten(1).narrow(0, 0, Math.min(o.testCount, testSet.length)).clone(),
    };
  });
  trainSet.dispose();
  testSet.dispose();
  try {
    generator.initBiasFromMarginals(parts.train);
    const training = train(generator, discriminator, parts.train, o, callbacks);
    log(`trained ${training.generatorSteps} generator steps (${training.epochs.length} epochs) in ${(training.seconds / 60).toFixed(1)} min; scoring`);
    const weights = { generator: join(o.outDir, 'generator.safetensors'), discriminator: join(o.outDir, 'discriminator.safetensors') };
    scope(() => {
      saveSafetensors(weights.generator, generator.stateDict(), { arch: 'gan_mnist_generator', build_options: '{}', training: describeTraining(o) });
      saveSafetensors(weights.discriminator, discriminator.stateDict(), { arch: 'gan_mnist_discriminator', build_options: '{}', training: describeTraining(o) });
    });

    callbacks.phase?.({ name: 'Parzen window', total: 2, unit: 'estimates' });
    generator.eval();
    manualSeed(o.seed + 1);
    const samples = noGrad(() => generateInBatches(generator, o.parzenSamples));
    const parzen = scope(() => {
      const ofGenerator = parzenEstimate(samples, parts.test, { validation: parts.validation });
      callbacks.progress?.(1);
      // The same estimator on real images: what the data itself scores.
      const real = parts.train.narrow(0, 0, Math.min(o.parzenSamples, parts.train.shape[0]));
      const ofData = parzenEstimate(real, parts.test, { validation: parts.validation });
      callbacks.progress?.(2);
      return { generator: ofGenerator, realData: ofData };
    });
    log(`Parzen log-likelihood: ${parzen.generator.logLikelihood.toFixed(1)} ± ${parzen.generator.standardError.toFixed(1)} nats (σ = ${parzen.generator.sigma.toFixed(3)}); real images ${parzen.realData.logLikelihood.toFixed(1)}`);
    const figures = makeFigures(generator, samples, parts.train, o.seed);
    samples.dispose();

    callbacks.phase?.({ name: 'optimal discriminator (1-D)', total: 2 * o.toySteps, unit: 'steps' });
    const toy = {
      separate: optimalDiscriminatorCheck({ steps: o.toySteps, seed: o.seed, onStep: (s) => callbacks.progress?.(s) }),
      equal: optimalDiscriminatorCheck({ steps: o.toySteps, seed: o.seed, generator: { mean: 0, std: 1 }, onStep: (s) => callbacks.progress?.(o.toySteps + s) }),
    };
    log(`1-D check: mean |D − D*| = ${toy.separate.meanGap.toFixed(4)} (density-weighted ${toy.separate.weightedGap.toFixed(4)}); with p_g = p_data ${toy.equal.meanGap.toFixed(4)}, value ${toy.equal.value.toFixed(4)} (−log 4 = ${(-Math.log(4)).toFixed(4)})`);

    const result: GanMnistResult = { options: o, training, parzen, figures, toy, weights, totalSeconds: (performance.now() - started) / 1000, paper: GAN_PAPER };
    writeFileAtomic(join(o.outDir, 'results.json'), JSON.stringify(result, null, 1));
    return result;
  } finally {
    generator.dispose();
    discriminator.dispose();
    for (const t of Object.values(parts)) t.dispose();
  }
}

function describeTraining(o: GanMnistResult['options']): string {
  return JSON.stringify({ optimizer: o.optimizer, update: o.update, generatorObjective: o.generatorObjective, k: o.k, seed: o.seed, minutes: o.minutes });
}

function train(generator: GanGenerator, discriminator: GanDiscriminator, images: Tensor, o: GanMnistResult['options'], callbacks: ExperimentCallbacks): GanMnistResult['training'] {
  const budget = o.minutes * 60;
  callbacks.phase?.({ name: `GAN training (${o.optimizer}, ${o.update})`, total: Math.round(budget), unit: 's' });
  const adam = o.optimizer === 'adam' ? { lr: 2e-4 } : {};
  const started = performance.now();
  const result = trainGan(
    generator, discriminator, images,
    {
      ...adam, optimizer: o.optimizer, update: o.update, generatorObjective: o.generatorObjective, k: o.k, epochs: o.epochs, seed: o.seed,
      maxSeconds: budget, checkpointPath: join(o.outDir, 'checkpoint.safetensors'), checkpointEvery: 2000, resume: o.resume,
    },
    {
      onStep: (s) => {
        if (s.step % 100 === 0)
          callbacks.progress?.(Math.round((performance.now() - started) / 1000), { epoch: String(s.epoch + 1), 'D(x)': s.dReal.toFixed(2), 'D(G(z))': s.dFake.toFixed(2) });
      },
    },
  );
  return { seconds: result.seconds, generatorSteps: result.generatorSteps, discriminatorSteps: result.discriminatorSteps, epochs: result.epochs, resumedFrom: result.resumedFrom };
}

/** n generator samples [n, pixels], made 1,000 at a time. */
export function generateInBatches(generator: GanGenerator, n: number, z?: Tensor): Tensor {
  return noGrad(() =>
    scope(() => {
      const parts: Tensor[] = [];
      for (let i = 0; i < n; i += 1000) {
        const size = Math.min(1000, n - i);
        parts.push(generator.forward(z === undefined ? sampleLatent(size, generator.config.latentDim) : z.narrow(0, i, size)));
      }
      return cat(parts);
    }),
  );
}

function toGreyLevels(images: Tensor): number[][] {
  return scope(() => (images.mul(255).round().toArray() as number[][]));
}

// Figure 2: a grid of samples, and beside each row the training image nearest
// (in L2) to the row's last sample; Figure 3: lines through z space.
function makeFigures(generator: GanGenerator, samples: Tensor, trainImages: Tensor, seed: number): GanMnistResult['figures'] {
  return noGrad(() =>
    scope(() => {
      const rows = 6;
      const columns = 5;
      const grid = samples.narrow(0, 0, rows * columns);
      const last = grid.view(rows, columns, -1).select(1, columns - 1); // (rows, pixels)
      const d2 = last.square().sum(1, { keepdim: true }).add(trainImages.square().sum(1)).sub(last.matmul(trainImages.t()).mul(2)); // (rows, N)
      const nearest = trainImages.indexSelect(0, d2.argmin(1));
      const pixels = toGreyLevels(grid);
      manualSeed(seed + 2);
      const pairs = 5;
      const steps = 9;
      const ends = sampleLatent(2 * pairs, generator.config.latentDim).view(pairs, 2, -1);
      const t = linspace(0, 1, steps).view(1, steps, 1);
      const z = ends.select(1, 0).unsqueeze(1).mul(t.neg().add(1)).add(ends.select(1, 1).unsqueeze(1).mul(t)); // (pairs, steps, latent)
      const lines = generator.forward(z.flatten(0, 1)).view(pairs, steps, -1);
      return {
        samples: Array.from({ length: rows }, (_, r) => pixels.slice(r * columns, (r + 1) * columns)),
        neighbours: toGreyLevels(nearest),
        interpolations: Array.from({ length: pairs }, (_, p) => toGreyLevels(lines.select(0, p))),
      };
    }),
  );
}

/**
 * Proposition 1 on a line: with G fixed, the discriminator that maximises
 * E log D(x) + E log(1 − D(G(z))) is D*(x) = p_data(x)/(p_data(x) + p_g(x)).
 * A small MLP trained to convergence on samples of both should approach it.
 * By default p_data = N(0, 1) and G(z) = 1.5 + 0.75·z; with G(z) = z
 * (p_g = p_data) D* is ½ everywhere and the value of the game is −log 4.
 */
export function optimalDiscriminatorCheck(
  options: { steps?: number; seed?: number; batchSize?: number; generator?: { mean: number; std: number }; onStep?: (step: number) => void } = {},
): ToyCheck {
  const steps = options.steps ?? GAN_MNIST_DEFAULTS.toySteps;
  const batchSize = options.batchSize ?? 512;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`optimalDiscriminatorCheck: steps must be a positive integer, got ${steps}`);
  const { mean: generatorMean, std: generatorStd } = options.generator ?? { mean: 1.5, std: 0.75 };
  if (!(generatorStd > 0)) throw new RangeError(`optimalDiscriminatorCheck: the generator's std must be > 0, got ${generatorStd}`);
  const [dataMean, dataStd] = [0, 1];
  manualSeed(options.seed ?? 0);
  const d = new Sequential(new Linear(1, 64), new ReLU(), new Linear(64, 64), new ReLU(), new Linear(64, 1));
  const optimizer = new Adam(d.parameters(), { lr: 1e-3 });
  try {
    for (let step = 1; step <= steps; step++) {
      if (step === Math.floor(0.75 * steps)) optimizer.paramGroups[0].lr = 1e-4; // settle the last quarter
      scope(() => {
        optimizer.zeroGrad();
        const real = randn([batchSize, 1]).mul(dataStd).add(dataMean);
        const fake = randn([batchSize, 1]).mul(generatorStd).add(generatorMean);
        const realLogits = d.forward(real) as Tensor;
        const fakeLogits = d.forward(fake) as Tensor;
        F.softplus(realLogits.neg()).mean().add(F.softplus(fakeLogits).mean()).backward();
        optimizer.step();
      });
      if (step % 100 === 0) options.onStep?.(step);
    }
    const normal = (x: number, mean: number, std: number) => Math.exp(-0.5 * ((x - mean) / std) ** 2) / (std * Math.sqrt(2 * Math.PI));
    const grid = Array.from({ length: 701 }, (_, i) => -4 + (i * 8.5) / 700);
    const pData = grid.map((x) => normal(x, dataMean, dataStd));
    const pG = grid.map((x) => normal(x, generatorMean, generatorStd));
    const optimal = grid.map((_, i) => pData[i] / (pData[i] + pG[i]));
    const trained = noGrad(() => scope(() => Array.from((d.forward(tensor(grid).view(-1, 1)) as Tensor).sigmoid().view(-1).toTypedArray() as Float32Array)));
    const peak = Math.max(...pData, ...pG);
    const support = grid.map((_, i) => Math.max(pData[i], pG[i]) > 0.01 * peak);
    let gap = 0;
    let count = 0;
    let weighted = 0;
    let weight = 0;
    let value = 0;
    let optimalValue = 0;
    const dx = grid[1] - grid[0];
    grid.forEach((_, i) => {
      const g = Math.abs(trained[i] - optimal[i]);
      if (support[i]) {
        gap += g;
        count++;
      }
      const w = 0.5 * (pData[i] + pG[i]);
      weighted += w * g;
      weight += w;
      const clampLog = (p: number) => Math.log(Math.min(Math.max(p, 1e-12), 1));
      value += dx * (pData[i] * clampLog(trained[i]) + pG[i] * clampLog(1 - trained[i]));
      optimalValue += dx * (pData[i] * clampLog(optimal[i]) + pG[i] * clampLog(1 - optimal[i]));
    });
    return { dataMean, dataStd, generatorMean, generatorStd, steps, x: grid, pData, pG, optimal, trained, meanGap: gap / count, weightedGap: weighted / weight, value, optimalValue };
  } finally {
    optimizer.dispose();
    d.dispose();
  }
}
