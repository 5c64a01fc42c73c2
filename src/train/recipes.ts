// Training recipes: the optimizer, schedule, regularisation and augmentation
// each paper trained its network with, as presets `netlab train` starts from
// (every field can be overridden). Schedules are stated as fractions of the
// run, so a shorter run keeps the paper's shape. Batch sizes of thousands on
// ImageNet do not carry over to a CPU and a 60,000-image set; where a recipe
// departs from its paper, its comment says so.
import type { AnyOptimizer } from '../optim/lr-scheduler.js';
import { CosineWarmupLR, LambdaLR, MultiStepLR } from '../optim/lr-scheduler.js';
import type { Schedule } from './trainer.js';

export type RecipeName = 'madry' | 'cw' | 'resnet' | 'vit' | 'swin';
export type ScheduleKind = 'constant' | 'step' | 'cosine' | 'linear';

export interface TrainingRecipe {
  name: RecipeName;
  /** Where the numbers come from. */
  source: string;
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'adam' | 'adamw';
  lr: number;
  /** SGD only. */
  momentum: number;
  weightDecay: number;
  schedule: ScheduleKind;
  /** 'step': where the lr is multiplied by `gamma`, as fractions of the epochs. */
  milestones: number[];
  gamma: number;
  /** 'cosine' and 'linear': the fraction of the steps spent warming up linearly from 0. */
  warmup: number;
  labelSmoothing: number;
  /** Random crops of the padded image (0: none). */
  cropPadding: number;
  /** Random horizontal flips; applied to natural images (CIFAR-10), never to digits. */
  flip: boolean;
  mixupAlpha: number;
  cutmixAlpha: number;
}

export const RECIPES: Record<RecipeName, TrainingRecipe> = {
  /** Madry et al. (2018), MNIST challenge code: Adam at 1e-4, batch 50, 100,000 steps (≈ 83 epochs). */
  madry: {
    name: 'madry',
    source: 'Madry et al. (2018), MNIST: Adam 1e-4, batch 50, 100,000 steps',
    epochs: 83,
    batchSize: 50,
    optimizer: 'adam',
    lr: 1e-4,
    momentum: 0,
    weightDecay: 0,
    schedule: 'constant',
    milestones: [],
    gamma: 0.1,
    warmup: 0,
    labelSmoothing: 0,
    cropPadding: 0,
    flip: false,
    mixupAlpha: 0,
    cutmixAlpha: 0,
  },
  /**
   * Carlini & Wagner (2017), Table II (MNIST): SGD with momentum 0.9, lr 0.1
   * halved every 10 of 50 epochs, batch 128, dropout 0.5 (in the model).
   * The table also decays the momentum; the preset keeps it at 0.9.
   */
  cw: {
    name: 'cw',
    source: 'Carlini & Wagner (2017), Table II: SGD 0.1, momentum 0.9, batch 128, lr ×0.5 every 10 of 50 epochs',
    epochs: 50,
    batchSize: 128,
    optimizer: 'sgd',
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 0,
    schedule: 'step',
    milestones: [0.2, 0.4, 0.6, 0.8],
    gamma: 0.5,
    warmup: 0,
    labelSmoothing: 0,
    cropPadding: 0,
    flip: false,
    mixupAlpha: 0,
    cutmixAlpha: 0,
  },
  /**
   * He et al. (2016), §4.2 (CIFAR-10): SGD with momentum 0.9, weight decay
   * 1e-4, batch 128, lr 0.1 divided by 10 at 32k and 48k of 64k iterations
   * (182 epochs of their 45k-image split), 4-pixel padding with random
   * 32×32 crops and horizontal flips. (ResNet-110's warm-up at 0.01 for the
   * first 400 iterations is not part of the preset.)
   */
  resnet: {
    name: 'resnet',
    source: 'He et al. (2016), §4.2: SGD 0.1, momentum 0.9, weight decay 1e-4, batch 128, lr ÷10 at 50% and 75% of 182 epochs, pad-4 crops and flips',
    epochs: 182,
    batchSize: 128,
    optimizer: 'sgd',
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 1e-4,
    schedule: 'step',
    milestones: [0.5, 0.75],
    gamma: 0.1,
    warmup: 0,
    labelSmoothing: 0,
    cropPadding: 4,
    flip: true,
    mixupAlpha: 0,
    cutmixAlpha: 0,
  },
  /**
   * Dosovitskiy et al. (2021), App. B.1: Adam (β 0.9, 0.999) with decoupled
   * weight decay 0.1 as in their code, lr 1e-3, linear warm-up (10k of
   * ~94k steps on ImageNet, so 10%) then linear decay, 300 epochs. The
   * paper's batch of 4096 becomes 128; random crops and flips stand in for
   * its Inception-style crops on small images.
   */
  vit: {
    name: 'vit',
    source: 'Dosovitskiy et al. (2021), App. B.1: AdamW 1e-3, weight decay 0.1, 10% linear warm-up then linear decay, 300 epochs (batch 4096 → 128)',
    epochs: 300,
    batchSize: 128,
    optimizer: 'adamw',
    lr: 1e-3,
    momentum: 0,
    weightDecay: 0.1,
    schedule: 'linear',
    milestones: [],
    gamma: 0.1,
    warmup: 0.1,
    labelSmoothing: 0,
    cropPadding: 4,
    flip: true,
    mixupAlpha: 0,
    cutmixAlpha: 0,
  },
  /**
   * Liu et al. (2021), §4.1 (ImageNet-1K): AdamW lr 1e-3, weight decay 0.05,
   * cosine decay after 20 of 300 epochs of linear warm-up, label smoothing
   * 0.1, mixup 0.8 and CutMix 1.0. The batch of 1024 becomes 128; RandAugment
   * and random erasing are not included. Stochastic depth is the model's
   * own option (its `stochasticDepthProb`).
   */
  swin: {
    name: 'swin',
    source: 'Liu et al. (2021), §4.1: AdamW 1e-3, weight decay 0.05, cosine after 20/300 epochs of warm-up, label smoothing 0.1, mixup 0.8, CutMix 1.0 (batch 1024 → 128)',
    epochs: 300,
    batchSize: 128,
    optimizer: 'adamw',
    lr: 1e-3,
    momentum: 0,
    weightDecay: 0.05,
    schedule: 'cosine',
    milestones: [],
    gamma: 0.1,
    warmup: 20 / 300,
    labelSmoothing: 0.1,
    cropPadding: 4,
    flip: true,
    mixupAlpha: 0.8,
    cutmixAlpha: 1.0,
  },
};

export const RECIPE_NAMES = Object.keys(RECIPES) as RecipeName[];

/** The epochs after which a 'step' recipe multiplies the lr: its milestone fractions of `epochs`, rounded, at least 1, without repeats. */
export function milestoneEpochs(recipe: Pick<TrainingRecipe, 'milestones'>, epochs: number): number[] {
  return [...new Set(recipe.milestones.map((m) => Math.max(1, Math.round(m * epochs))))].sort((a, b) => a - b);
}

/** A schedule and how often `fit` steps it. */
export interface ScheduleChoice {
  schedule: Schedule | undefined;
  every: 'epoch' | 'step';
}

/**
 * The recipe's schedule for a run of `epochs` × `stepsPerEpoch`: 'step' as
 * MultiStepLR at the milestone epochs (fractions rounded to whole epochs,
 * at least 1), 'cosine' as CosineWarmupLR and 'linear' as a LambdaLR with
 * warm-up then decay to 0, both stepped after every batch.
 */
export function recipeSchedule(
  optimizer: AnyOptimizer,
  recipe: Pick<TrainingRecipe, 'schedule' | 'milestones' | 'gamma' | 'warmup'>,
  epochs: number,
  stepsPerEpoch: number,
): ScheduleChoice {
  const total = Math.max(1, epochs * stepsPerEpoch);
  const warmupSteps = Math.round(recipe.warmup * total);
  switch (recipe.schedule) {
    case 'constant':
      return { schedule: undefined, every: 'epoch' };
    case 'step': {
      return { schedule: new MultiStepLR(optimizer, { milestones: milestoneEpochs(recipe, epochs), gamma: recipe.gamma }), every: 'epoch' };
    }
    case 'cosine':
      return { schedule: new CosineWarmupLR(optimizer, { warmupSteps, totalSteps: Math.max(total, warmupSteps) }), every: 'step' };
    case 'linear': {
      const lrLambda = (step: number) => (step < warmupSteps ? step / warmupSteps : Math.max(0, (total - step) / Math.max(1, total - warmupSteps)));
      return { schedule: new LambdaLR(optimizer, { lrLambda }), every: 'step' };
    }
  }
}
