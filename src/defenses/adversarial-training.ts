// Adversarial training as training objectives for the shared training loop
// (train/trainer.ts `fit`): the model learns on examples an attack makes
// against its current weights.
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { FGSM } from '../attacks/fgsm.js';
import { PGD, type PGDOptions } from '../attacks/pgd.js';
import type { Attack } from '../attacks/attack.js';
import type { LossFn } from '../train/trainer.js';

export interface FgsmTrainingOptions {
  /** The FGSM budget used during training (Goodfellow et al.: 0.25 on MNIST). */
  eps: number;
  /** Weight of the clean loss: α·J(x) + (1 − α)·J(x + ε·sign ∇ₓJ); the paper's 0.5. */
  alpha?: number;
  box?: [number, number];
}

/**
 * Goodfellow et al. (2015)'s objective: α·J(θ, x, y) + (1 − α)·J(θ, x + ε·sign(∇ₓJ(θ, x, y)), y),
 * the adversarial example held constant as in the paper.
 */
export function fgsmTraining(options: FgsmTrainingOptions): LossFn {
  const alpha = options.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`fgsmTraining: alpha must be in [0, 1], got ${alpha}`);
  const attack = new FGSM({ eps: options.eps, box: options.box });
  return (model: Module, inputs: Tensor, targets: Tensor) =>
    scope(() => {
      const adversarial = attack.run(model, inputs, { labels: targets }).adversarial;
      const clean = F.crossEntropy(model.forward(inputs), targets);
      const adv = F.crossEntropy(model.forward(adversarial), targets);
      return clean.mul(alpha).add(adv.mul(1 - alpha));
    });
}

/**
 * Madry et al. (2018)'s saddle-point objective: every batch is replaced by
 * the attack's adversarial examples against the current model (PGD by
 * default, configured by `attack` options or given as an attack).
 */
export function pgdTraining(attack: Attack | PGDOptions = {}): LossFn {
  const adversary = 'run' in attack ? attack : new PGD(attack as PGDOptions);
  return (model: Module, inputs: Tensor, targets: Tensor) =>
    scope(() => F.crossEntropy(model.forward(adversary.run(model, inputs, { labels: targets }).adversarial), targets));
}
