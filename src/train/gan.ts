// Adversarial training of a generator against a discriminator: Algorithm 1
// of Goodfellow et al. (2014), "Generative Adversarial Nets", with the
// optimiser of the paper's released code (goodfeli/adversarial, mnist.yaml),
// progress through callbacks, and atomic checkpoints that resume exactly.
import { existsSync } from 'node:fs';

import { grad, noGrad } from '../tensor/autograd.js';
import { getRngState, setRngState } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { Adam } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import type { Optimizer } from '../optim/optimizer.js';
import { DataLoader, TensorDataset, type DataLoaderState } from '../data/dataset.js';
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { sampleLatent, type GanDiscriminator, type GanGenerator } from '../models/gan.js';

/**
 * The generator's objective. 'minimax' descends log(1 − D(G(z))), the value
 * function itself; 'non-saturating' descends −log D(G(z)), which the paper
 * recommends because it gives strong gradients early, when D rejects G's
 * samples with confidence (log(1 − D) saturates there).
 */
export type GeneratorObjective = 'minimax' | 'non-saturating';

/**
 * How the two players move. 'simultaneous' is how the released code runs
 * Algorithm 1 with k = 1: one minibatch, one set of samples, D's and G's
 * gradients taken at the same point and both updated at once. 'alternating'
 * is Algorithm 1 as printed: k discriminator steps, then a generator step on
 * fresh samples against the updated D. With the released SGD recipe on
 * MNIST, alternating lets D win outright within two epochs (D(G(z)) → 0)
 * and the samples degrade, where simultaneous updates keep the game going.
 */
export type GanUpdate = 'simultaneous' | 'alternating';

export interface GanTrainingOptions {
  update: GanUpdate;
  /** Discriminator steps per generator step (the paper's k); above 1 only with alternating updates. */
  k: number;
  generatorObjective: GeneratorObjective;
  /** Real images per discriminator step, and samples per step. */
  batchSize: number;
  /**
   * 'sgd': the released code's SGD with momentum — lr divided by `lrDecay`
   * after every update down to `minLr`, momentum rising linearly from
   * `initialMomentum` after epoch 1 to `finalMomentum` at `momentumSaturateEpoch`.
   * 'adam': Adam at `lr` with β = (`beta1`, 0.999), constant (the DCGAN setting).
   */
  optimizer: 'sgd' | 'adam';
  lr: number;
  lrDecay: number;
  minLr: number;
  initialMomentum: number;
  finalMomentum: number;
  momentumSaturateEpoch: number;
  beta1: number;
  /** Passes over the training images; training also stops at `maxSeconds`. */
  epochs: number;
  maxSeconds?: number;
  /** Seeds the loader's shuffling; the noise and dropout draw from libtorch's generator (seed it with manualSeed). */
  seed: number;
  /** Checkpoint file, written after every epoch, every `checkpointEvery` generator steps and when the budget runs out. */
  checkpointPath?: string;
  checkpointEvery?: number;
  /** Continue from checkpointPath when it exists. */
  resume?: boolean;
}

/** The released code's recipe (mnist.yaml) and Algorithm 1's k = 1 with the recommended objective. */
export const GAN_TRAINING_DEFAULTS: GanTrainingOptions = {
  update: 'simultaneous',
  k: 1,
  generatorObjective: 'non-saturating',
  batchSize: 100,
  optimizer: 'sgd',
  lr: 0.1,
  lrDecay: 1.000004,
  minLr: 1e-6,
  initialMomentum: 0.5,
  finalMomentum: 0.7,
  momentumSaturateEpoch: 250,
  beta1: 0.5,
  epochs: 1000,
  seed: 0,
};

/** One generator step, with the discriminator steps before it. */
export interface GanStepInfo {
  epoch: number;
  /** Generator steps so far, from 1. */
  step: number;
  /** Discriminator loss ½(BCE(D(x), 1) + BCE(D(G(z)), 0)), averaged over the k steps. */
  lossD: number;
  /** The generator's objective as descended (see GeneratorObjective). */
  lossG: number;
  /** Mean D(x) on the real batch and D(G(z)) on the generated one, of the last discriminator step. */
  dReal: number;
  dFake: number;
  lr: number;
  momentum: number;
}

export interface GanEpochInfo {
  epoch: number;
  lossD: number;
  lossG: number;
  dReal: number;
  dFake: number;
  seconds: number;
}

export interface GanTrainingResult {
  epochs: GanEpochInfo[];
  generatorSteps: number;
  discriminatorSteps: number;
  /** True when maxSeconds ended training before `epochs` were done. */
  stoppedEarly: boolean;
  seconds: number;
  resumedFrom?: { epoch: number; generatorSteps: number };
}

interface Progress {
  epoch: number;
  loader: DataLoaderState;
  generatorSteps: number;
  discriminatorSteps: number;
  /** Sums over the epoch so far, so an epoch cut by a checkpoint reports whole. */
  running: { lossD: number; lossG: number; dReal: number; dFake: number; steps: number; seconds: number };
  epochs: GanEpochInfo[];
  seconds: number;
}

function checkOptions(o: GanTrainingOptions): void {
  const positiveInt = (name: keyof GanTrainingOptions) => {
    if (!Number.isInteger(o[name]) || (o[name] as number) < 1) throw new RangeError(`trainGan: ${name} must be a positive integer, got ${String(o[name])}`);
  };
  positiveInt('k');
  if (o.update !== 'simultaneous' && o.update !== 'alternating') throw new RangeError(`trainGan: update must be 'simultaneous' or 'alternating', got '${String(o.update)}'`);
  if (o.update === 'simultaneous' && o.k !== 1) throw new RangeError(`trainGan: k = ${o.k} discriminator steps per generator step needs update 'alternating' (simultaneous updates take one step of each)`);
  positiveInt('batchSize');
  positiveInt('momentumSaturateEpoch');
  if (!Number.isInteger(o.epochs) || o.epochs < 0) throw new RangeError(`trainGan: epochs must be a non-negative integer, got ${o.epochs}`);
  if (o.generatorObjective !== 'minimax' && o.generatorObjective !== 'non-saturating')
    throw new RangeError(`trainGan: generatorObjective must be 'minimax' or 'non-saturating', got '${String(o.generatorObjective)}'`);
  if (o.optimizer !== 'sgd' && o.optimizer !== 'adam') throw new RangeError(`trainGan: optimizer must be 'sgd' or 'adam', got '${String(o.optimizer)}'`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new RangeError(`trainGan: lr must be a finite number > 0, got ${o.lr}`);
  if (!(o.lrDecay >= 1)) throw new RangeError(`trainGan: lrDecay must be >= 1 (the learning rate is divided by it after every update), got ${o.lrDecay}`);
  if (!(o.minLr >= 0)) throw new RangeError(`trainGan: minLr must be >= 0, got ${o.minLr}`);
  for (const name of ['initialMomentum', 'finalMomentum', 'beta1'] as const)
    if (!(o[name] >= 0 && o[name] < 1)) throw new RangeError(`trainGan: ${name} must be in [0, 1), got ${o[name]}`);
  if (o.maxSeconds !== undefined && !(o.maxSeconds > 0)) throw new RangeError(`trainGan: maxSeconds must be > 0, got ${o.maxSeconds}`);
  if (o.checkpointEvery !== undefined && (!Number.isInteger(o.checkpointEvery) || o.checkpointEvery < 1))
    throw new RangeError(`trainGan: checkpointEvery must be a positive integer, got ${o.checkpointEvery}`);
  if ((o.resume || o.checkpointEvery !== undefined) && o.checkpointPath === undefined) throw new TypeError('trainGan: resume and checkpointEvery need checkpointPath');
}

/** The released code's learning rate after `updates` updates: lr / decay^updates, floored at minLr. */
export function ganLearningRate(o: Pick<GanTrainingOptions, 'lr' | 'lrDecay' | 'minLr'>, updates: number): number {
  return Math.max(o.lr / o.lrDecay ** updates, o.minLr);
}

/**
 * pylearn2's MomentumAdjustor (start 1, saturate S): after `epoch` finished
 * epochs the momentum is initial + (final − initial)·clip((epoch − 1)/(S − 1), 0, 1).
 */
export function ganMomentum(o: Pick<GanTrainingOptions, 'initialMomentum' | 'finalMomentum' | 'momentumSaturateEpoch'>, epoch: number): number {
  const alpha = o.momentumSaturateEpoch <= 1 ? 1 : Math.min(1, Math.max(0, (epoch - 1) / (o.momentumSaturateEpoch - 1)));
  return o.initialMomentum + (o.finalMomentum - o.initialMomentum) * alpha;
}

function makeOptimizer(model: Module, o: GanTrainingOptions): Optimizer<any, any> {
  if (o.optimizer === 'adam') return new Adam(model.parameters(), { lr: o.lr, betas: [o.beta1, 0.999] });
  return new SGD(model.parameters(), { lr: o.lr, momentum: o.initialMomentum });
}

/** The discriminator's loss on logits: ½(BCE(σ(real), 1) + BCE(σ(fake), 0)) = ½(mean softplus(−real) + mean softplus(fake)). */
export function discriminatorLoss(realLogits: Tensor, fakeLogits: Tensor): Tensor {
  return scope(() => F.softplus(realLogits.neg()).mean().add(F.softplus(fakeLogits).mean()).mul(0.5));
}

/** The generator's objective on D's logits for its samples: minimax log(1 − σ(l)) = −softplus(l); non-saturating −log σ(l) = softplus(−l). */
export function generatorLoss(fakeLogits: Tensor, objective: GeneratorObjective): Tensor {
  return scope(() => (objective === 'minimax' ? F.softplus(fakeLogits).mean().neg() : F.softplus(fakeLogits.neg()).mean()));
}

/**
 * Trains `generator` against `discriminator` on `images` ([N, pixels] in
 * [0, 1]) by Algorithm 1 (see GanUpdate), with D in training mode (dropout
 * on) for both players' objectives as in the released code. Each step runs
 * in a scope.
 */
export function trainGan(
  generator: GanGenerator,
  discriminator: GanDiscriminator,
  images: Tensor,
  options: Partial<GanTrainingOptions> = {},
  callbacks: { onStep?: (info: GanStepInfo) => void; onEpoch?: (info: GanEpochInfo) => void } = {},
): GanTrainingResult {
  const o: GanTrainingOptions = { ...GAN_TRAINING_DEFAULTS, ...options };
  checkOptions(o);
  const pixels = discriminator.config.inputDim;
  if (images.ndim !== 2 || images.shape[1] !== pixels || !images.dtype.startsWith('float'))
    throw new RangeError(`trainGan: expected training images as float [N, ${pixels}], got ${images.describe()}`);
  if (generator.config.outputDim !== pixels) throw new RangeError(`trainGan: the generator makes ${generator.config.outputDim} pixels, the discriminator takes ${pixels}`);
  if (images.shape[0] < o.batchSize) throw new RangeError(`trainGan: ${images.shape[0]} training images are fewer than one batch of ${o.batchSize}`);

  const loader = new DataLoader(new TensorDataset(images), { batchSize: o.batchSize, shuffle: true, dropLast: true, seed: o.seed });
  const optD = makeOptimizer(discriminator, o);
  const optG = makeOptimizer(generator, o);
  const result: GanTrainingResult = { epochs: [], generatorSteps: 0, discriminatorSteps: 0, stoppedEarly: false, seconds: 0 };
  let progress: Progress = {
    epoch: 0, loader: loader.stateDict(), generatorSteps: 0, discriminatorSteps: 0,
    running: { lossD: 0, lossG: 0, dReal: 0, dFake: 0, steps: 0, seconds: 0 }, epochs: [], seconds: 0,
  };
  try {
    if (o.resume && existsSync(o.checkpointPath!)) {
      const saved = loadCheckpoint(o.checkpointPath!);
      try {
        const { generator: g, discriminator: d } = saved.models;
        const optimizers = saved.optimizers ?? {};
        if (g === undefined || d === undefined || optimizers.generator_optimizer === undefined || optimizers.discriminator_optimizer === undefined || saved.progress === undefined)
          throw new Error(`${o.checkpointPath}: not a GAN checkpoint (it needs generator and discriminator weights, both optimizers and the progress record)`);
        generator.loadStateDict(g);
        discriminator.loadStateDict(d);
        optG.loadStateDict(optimizers.generator_optimizer);
        optD.loadStateDict(optimizers.discriminator_optimizer);
        if (saved.rng !== undefined) setRngState(saved.rng);
        progress = saved.progress as unknown as Progress;
        loader.loadStateDict(progress.loader);
        result.resumedFrom = { epoch: progress.epoch, generatorSteps: progress.generatorSteps };
      } finally {
        disposeCheckpoint(saved);
      }
    }
    const save = () => {
      if (o.checkpointPath === undefined) return;
      progress.loader = loader.stateDict();
      scope(() =>
        saveCheckpoint(o.checkpointPath!, {
          models: { generator: generator.stateDict(), discriminator: discriminator.stateDict() },
          optimizers: { generator_optimizer: optG.stateDict(), discriminator_optimizer: optD.stateDict() },
          rng: getRngState(),
          progress: progress as unknown as Record<string, unknown>,
        }),
      );
    };
    const setHyperparameters = () => {
      for (const opt of [optD, optG]) {
        const group = opt.paramGroups[0] as { lr: number; momentum?: number };
        if (o.optimizer === 'sgd') {
          group.lr = ganLearningRate(o, progress.discriminatorSteps);
          group.momentum = ganMomentum(o, progress.epoch);
        }
      }
    };
    const dParams = discriminator.parameters();
    const gParams = generator.parameters();
    const started = performance.now();
    const secondsBefore = progress.seconds;
    const elapsed = () => secondsBefore + (performance.now() - started) / 1000;
    const deadline = o.maxSeconds === undefined ? Infinity : started + o.maxSeconds * 1000;
    generator.train();
    discriminator.train();

    let sinceG = 0;
    let dWindow = { loss: 0, real: 0, fake: 0 };
    let tick = performance.now();
    for (; progress.epoch < o.epochs; progress.epoch++) {
      for (const [real] of loader) {
        setHyperparameters();
        let lossG: number;
        if (o.update === 'simultaneous') {
          // Both players' gradients at the same point, then both steps.
          const step = scope(() => {
            const fake = generator.forward(sampleLatent(real.shape[0], generator.config.latentDim));
            const realLogits = discriminator.forward(real);
            const fakeLogits = discriminator.forward(fake);
            const lossD = discriminatorLoss(realLogits, fakeLogits);
            const loss = generatorLoss(fakeLogits, o.generatorObjective);
            const dGrads = grad(lossD, dParams, { retainGraph: true });
            const gGrads = grad(loss, gParams);
            dParams.forEach((p, i) => (p.grad = dGrads[i]));
            gParams.forEach((p, i) => (p.grad = gGrads[i]));
            optD.step();
            optG.step();
            real.dispose();
            return { lossD: lossD.item(), lossG: loss.item(), real: realLogits.sigmoid().mean().item(), fake: fakeLogits.sigmoid().mean().item() };
          });
          if (!Number.isFinite(step.lossD)) throw new Error(`trainGan: the discriminator's loss became ${step.lossD} at epoch ${progress.epoch + 1}; lower the learning rate`);
          progress.discriminatorSteps++;
          sinceG = 1;
          dWindow = { loss: step.lossD, real: step.real, fake: step.fake };
          lossG = step.lossG;
        } else {
          // A discriminator step: ascend log D(x) + log(1 − D(G(z))).
          const d = scope(() => {
            optD.zeroGrad();
            const fake = noGrad(() => generator.forward(sampleLatent(real.shape[0], generator.config.latentDim)));
            const realLogits = discriminator.forward(real);
            const fakeLogits = discriminator.forward(fake);
            const loss = discriminatorLoss(realLogits, fakeLogits);
            loss.backward();
            optD.step();
            real.dispose();
            return { loss: loss.item(), real: realLogits.sigmoid().mean().item(), fake: fakeLogits.sigmoid().mean().item() };
          });
          if (!Number.isFinite(d.loss)) throw new Error(`trainGan: the discriminator's loss became ${d.loss} at epoch ${progress.epoch + 1}; lower the learning rate`);
          progress.discriminatorSteps++;
          dWindow = { loss: dWindow.loss + d.loss, real: d.real, fake: d.fake };
          if (++sinceG < o.k) continue;

          // A generator step on fresh samples; D's weights take no gradient.
          lossG = scope(() => {
            optG.zeroGrad();
            for (const p of dParams) p.requiresGrad_(false);
            try {
              const loss = generatorLoss(discriminator.forward(generator.forward(sampleLatent(o.batchSize, generator.config.latentDim))), o.generatorObjective);
              loss.backward();
              optG.step();
              return loss.item();
            } finally {
              for (const p of dParams) p.requiresGrad_(true);
            }
          });
        }
        if (!Number.isFinite(lossG)) throw new Error(`trainGan: the generator's loss became ${lossG} at epoch ${progress.epoch + 1}; lower the learning rate`);
        progress.generatorSteps++;
        const info: GanStepInfo = {
          epoch: progress.epoch, step: progress.generatorSteps, lossD: dWindow.loss / sinceG, lossG, dReal: dWindow.real, dFake: dWindow.fake,
          lr: optG.paramGroups[0].lr as number, momentum: (optG.paramGroups[0] as { momentum?: number }).momentum ?? NaN,
        };
        sinceG = 0;
        dWindow = { loss: 0, real: 0, fake: 0 };
        const r = progress.running;
        r.lossD += info.lossD;
        r.lossG += info.lossG;
        r.dReal += info.dReal;
        r.dFake += info.dFake;
        r.steps++;
        const now = performance.now();
        r.seconds += (now - tick) / 1000;
        tick = now;
        progress.seconds = elapsed();
        callbacks.onStep?.(info);
        // Checkpoints inside the loop record the loader mid-epoch, so a resumed run continues with the next batch.
        if (now >= deadline) {
          result.stoppedEarly = true;
          save();
          break;
        }
        if (o.checkpointEvery !== undefined && progress.generatorSteps % o.checkpointEvery === 0) save();
      }
      if (result.stoppedEarly) break;
      const r = progress.running;
      const n = Math.max(r.steps, 1);
      const epochInfo: GanEpochInfo = { epoch: progress.epoch, lossD: r.lossD / n, lossG: r.lossG / n, dReal: r.dReal / n, dFake: r.dFake / n, seconds: r.seconds };
      progress.epochs.push(epochInfo);
      progress.running = { lossD: 0, lossG: 0, dReal: 0, dFake: 0, steps: 0, seconds: 0 };
      callbacks.onEpoch?.(epochInfo);
      progress.epoch++;
      save();
      progress.epoch--;
    }
    progress.seconds = elapsed();
    return { ...result, epochs: progress.epochs, generatorSteps: progress.generatorSteps, discriminatorSteps: progress.discriminatorSteps, seconds: progress.seconds };
  } finally {
    optD.dispose();
    optG.dispose();
  }
}
