// The training loop shared by every experiment: epochs of scoped steps,
// schedules, evaluation, atomic checkpoints and exact resumption. It prints
// nothing: progress goes to callbacks, so a CLI, a test or a notebook each
// shows it its own way.
import { existsSync } from 'node:fs';

import { noGrad } from '../tensor/autograd.js';
import { getRngState, setRngState } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { DistributedDataParallel } from '../nn/parallel.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { DataLoader, DataLoaderState } from '../data/dataset.js';
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';

/** A schedule the trainer can step and checkpoint: the LRScheduler family or ReduceLROnPlateau. */
export interface Schedule {
  step(metric?: number): void;
  stateDict(): Record<string, unknown>;
  loadStateDict(state: Record<string, unknown>): void;
}

/** The training objective of one batch (its tensors in the loader's order); the default is cross-entropy of the model's logits. */
export type LossFn = (model: Module, inputs: Tensor, targets: Tensor, ...rest: Tensor[]) => Tensor;

export interface StepInfo {
  epoch: number;
  /** Step within the epoch, from 0. */
  step: number;
  stepsPerEpoch: number;
  /** Steps since training began, across epochs. */
  globalStep: number;
  loss: number;
  lr: number;
}

export interface EpochInfo {
  epoch: number;
  trainLoss: number;
  /** Test accuracy after the epoch, when an evaluation loader is given. */
  testAccuracy?: number;
  seconds: number;
  lr: number;
}

export interface FitOptions {
  model: Module;
  // Any dataset: what the loop reads is the loader's batches of tensors.
  loader: DataLoader<any>;
  optimizer: Optimizer<any, any>;
  epochs: number;
  loss?: LossFn;
  schedule?: Schedule;
  /** 'epoch' (default) steps the schedule after every epoch, 'step' after every batch. ReduceLROnPlateau gets the test error. */
  scheduleEvery?: 'epoch' | 'step';
  /** Accuracy is measured on this loader after every epoch. */
  evalLoader?: DataLoader;
  /** Writes a checkpoint here after every epoch (and every `checkpointEvery` steps). */
  checkpointPath?: string;
  checkpointEvery?: number;
  /** Continues from the checkpoint at checkpointPath when one exists. */
  resume?: boolean;
  /**
   * Whether this process writes the checkpoints (default true). In
   * data-parallel training every rank resumes from the file and rank 0 alone
   * writes it.
   */
  saveCheckpoints?: boolean;
  /** A wall-clock budget: training stops after the step during which it runs out (the epoch is then recorded as cut short). */
  maxSeconds?: number;
  /** A budget of steps, counted over the whole run (a resumed run continues the count): training stops after the step that reaches it. */
  maxSteps?: number;
  onStep?: (info: StepInfo) => void;
  onEpoch?: (info: EpochInfo) => void;
}

export interface FitResult {
  epochs: EpochInfo[];
  /** True when maxSeconds or maxSteps ended training before `epochs` were done. */
  stoppedEarly: boolean;
  /** Every step's training loss, across epochs (including those before a resume). */
  losses: number[];
  resumedFrom?: { epoch: number; step: number };
}

interface Progress {
  epoch: number;
  step: number;
  loader: DataLoaderState;
  losses: number[];
  epochs: EpochInfo[];
}

export const crossEntropyLoss: LossFn = (model, inputs, targets) => F.crossEntropy(model.forward(inputs), targets);

/** Trains `model`; see FitOptions. Each step runs in a scope, so memory stays flat. */
export function fit(options: FitOptions): FitResult {
  const { model, loader, optimizer, epochs } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new RangeError(`fit: epochs must be a non-negative integer, got ${epochs}`);
  if (options.maxSeconds !== undefined && !(options.maxSeconds > 0)) throw new RangeError(`fit: maxSeconds must be > 0, got ${options.maxSeconds}`);
  if (options.maxSteps !== undefined && (!Number.isInteger(options.maxSteps) || options.maxSteps < 1)) throw new RangeError(`fit: maxSteps must be a positive integer, got ${options.maxSteps}`);
  // Each rank would stop on its own clock, and the others would wait for it in the next all-reduce.
  if (options.maxSeconds !== undefined && model instanceof DistributedDataParallel) throw new TypeError('fit: maxSeconds cannot stop the ranks of DistributedDataParallel together; give a number of epochs');
  if (options.checkpointEvery !== undefined && (!Number.isInteger(options.checkpointEvery) || options.checkpointEvery < 1))
    throw new RangeError(`fit: checkpointEvery must be a positive integer, got ${options.checkpointEvery}`);
  if ((options.resume || options.checkpointEvery !== undefined) && options.checkpointPath === undefined)
    throw new TypeError('fit: resume and checkpointEvery need checkpointPath');
  const lossFn = options.loss ?? crossEntropyLoss;
  const stepsPerEpoch = loader.length;
  const result: FitResult = { epochs: [], losses: [], stoppedEarly: false };
  const deadline = options.maxSeconds === undefined ? Infinity : performance.now() + options.maxSeconds * 1000;
  let startEpoch = 0;

  if (options.resume && existsSync(options.checkpointPath!)) {
    const progress = restore(options);
    result.losses = progress.losses;
    result.epochs = progress.epochs;
    result.resumedFrom = { epoch: progress.epoch, step: progress.step };
    startEpoch = progress.epoch;
  }

  const checkpoint = (epoch: number, step: number) => {
    if (options.checkpointPath === undefined || options.saveCheckpoints === false) return;
    const progress: Progress = { epoch, step, loader: loader.stateDict(), losses: result.losses, epochs: result.epochs };
    scope(() => {
      saveCheckpoint(options.checkpointPath!, {
        models: { model: model.stateDict() },
        optimizers: { optimizer: optimizer.stateDict() },
        scheduler: options.schedule?.stateDict(),
        rng: getRngState(),
        progress: progress as unknown as Record<string, unknown>,
      });
    });
  };

  const maxSteps = options.maxSteps ?? Infinity;
  let globalStep = result.losses.length;
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    if (globalStep >= maxSteps) {
      result.stoppedEarly = true;
      break;
    }
    const started = performance.now();
    const firstStep = loader.stateDict().batch;
    let epochLoss = 0;
    let epochSteps = 0;
    model.train();
    let step = firstStep;
    for (const batch of loader) {
      const loss = scope(() => {
        const [inputs, targets, ...rest] = batch;
        optimizer.zeroGrad();
        const value = lossFn(model, inputs, targets, ...rest);
        value.backward();
        optimizer.step();
        for (const t of batch) t.dispose();
        return value.item();
      });
      if (!Number.isFinite(loss)) throw new Error(`fit: the training loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}; lower the learning rate`);
      result.losses.push(loss);
      epochLoss += loss;
      epochSteps++;
      if (options.scheduleEvery === 'step') options.schedule?.step();
      options.onStep?.({ epoch, step, stepsPerEpoch, globalStep, loss, lr: currentLr(optimizer) });
      step++;
      globalStep++;
      if (options.checkpointEvery !== undefined && globalStep % options.checkpointEvery === 0 && step < stepsPerEpoch) checkpoint(epoch, step);
      if (performance.now() >= deadline || globalStep >= maxSteps) {
        result.stoppedEarly = true;
        break;
      }
    }
    const info: EpochInfo = { epoch, trainLoss: epochSteps ? epochLoss / epochSteps : NaN, seconds: (performance.now() - started) / 1000, lr: currentLr(optimizer) };
    if (options.evalLoader !== undefined) info.testAccuracy = evaluate(model, options.evalLoader).accuracy;
    if (options.scheduleEvery !== 'step' && options.schedule !== undefined) {
      // ReduceLROnPlateau watches the test error; the others count epochs.
      if (isPlateau(options.schedule)) options.schedule.step(info.testAccuracy === undefined ? info.trainLoss : 1 - info.testAccuracy);
      else options.schedule.step();
    }
    result.epochs.push(info);
    options.onEpoch?.(info);
    // A budget stop leaves the last regular checkpoint in place.
    if (result.stoppedEarly) break;
    checkpoint(epoch + 1, 0);
  }
  return result;
}

function isPlateau(schedule: Schedule): boolean {
  return schedule.constructor.name === 'ReduceLROnPlateau';
}

function currentLr(optimizer: Optimizer<any, any>): number {
  return optimizer.paramGroups[0].lr as number;
}

function restore(options: FitOptions): Progress {
  const saved = loadCheckpoint(options.checkpointPath!);
  try {
    const [model, optimizer] = [saved.models.model, saved.optimizers?.optimizer];
    if (model === undefined || optimizer === undefined) throw new Error(`${options.checkpointPath}: the checkpoint has no model and optimizer state`);
    options.model.loadStateDict(model);
    options.optimizer.loadStateDict(optimizer);
    if (options.schedule !== undefined) {
      if (saved.scheduler === undefined) throw new Error(`${options.checkpointPath}: the checkpoint has no schedule state`);
      options.schedule.loadStateDict(saved.scheduler);
    }
    if (saved.rng !== undefined) setRngState(saved.rng);
    const progress = saved.progress as unknown as Progress | undefined;
    if (progress === undefined) throw new Error(`${options.checkpointPath}: the checkpoint has no progress record`);
    options.loader.loadStateDict(progress.loader);
    return progress;
  } finally {
    disposeCheckpoint(saved);
  }
}

export interface EvaluationResult {
  accuracy: number;
  loss: number;
  count: number;
}

/** Accuracy and mean cross-entropy over a loader, in evaluation mode without gradients; restores the mode after. */
export function evaluate(model: Module, loader: DataLoader): EvaluationResult {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  let lossSum = 0;
  let count = 0;
  try {
    noGrad(() => {
      for (const batch of loader) {
        scope(() => {
          const [inputs, targets] = batch;
          const logits = model.forward(inputs) as Tensor;
          correct += logits.argmax(1).eq(targets).sum().item();
          lossSum += F.crossEntropy(logits, targets, { reduction: 'sum' }).item();
          count += targets.shape[0];
          for (const t of batch) t.dispose();
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { accuracy: count ? correct / count : NaN, loss: count ? lossSum / count : NaN, count };
}
