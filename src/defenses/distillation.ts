// Defensive distillation: Papernot, McDaniel, Wu, Jha & Swami, "Distillation
// as a Defense to Adversarial Perturbations against Deep Neural Networks"
// (IEEE S&P 2016). A teacher is trained with its softmax at temperature T,
// the training set is relabelled with the teacher's softmax at T, a student
// of the same architecture is trained on those soft labels at T, and the
// student is deployed at T = 1 (its logits as they are). T = 100 in the
// paper's MNIST runs. Carlini & Wagner (2017) show that it does not stop an
// attack on the logits.
import { noGrad } from '../tensor/autograd.js';
import { cat } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import type { LossFn } from '../train/trainer.js';
import { asFunction, type Classifier } from '../attacks/attack.js';

function checkTemperature(name: string, temperature: number): void {
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError(`${name}: the temperature must be a finite number > 0, got ${typeof temperature === 'number' ? temperature : describeValue(temperature)}`);
}

/**
 * The training objective at temperature T: cross-entropy of softmax(z / T)
 * against the targets, class indices (the teacher) or probabilities (the
 * student's soft labels).
 */
export function temperatureLoss(temperature: number): LossFn {
  checkTemperature('temperatureLoss', temperature);
  return (model: Module, inputs: Tensor, targets: Tensor) => scope(() => F.crossEntropy((model.forward(inputs) as Tensor).div(temperature), targets));
}

/**
 * The teacher's softmax at temperature T for every image, float32
 * [N, classes], `batchSize` at a time; a Module runs in evaluation mode.
 */
export function softLabels(teacher: Module | ((x: Tensor) => Tensor), images: Tensor, temperature: number, batchSize = 500): Tensor {
  checkTemperature('softLabels', temperature);
  if (!(images instanceof Tensor) || images.ndim < 2 || images.shape[0] === 0) throw new TypeError(`softLabels: expected a non-empty batch of images [N, …], got ${images instanceof Tensor ? images.describe() : describeValue(images)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`softLabels: batchSize must be a positive integer, got ${batchSize}`);
  const module = typeof teacher === 'function' ? null : teacher;
  const forward = module === null ? (teacher as (x: Tensor) => Tensor) : (x: Tensor) => module.forward(x) as Tensor;
  const wasTraining = module?.training ?? false;
  module?.eval();
  try {
    const parts: Tensor[] = [];
    noGrad(() => {
      for (let start = 0; start < images.shape[0]; start += batchSize) {
        const n = Math.min(batchSize, images.shape[0] - start);
        parts.push(scope(() => F.softmax(forward(images.narrow(0, start, n)).div(temperature), 1)));
      }
    });
    const labels = cat(parts);
    for (const p of parts) p.dispose();
    return labels;
  } finally {
    module?.train(wasTraining);
  }
}

// float32's smallest normal number: the floor that keeps log F finite and masks nothing float32 has not already rounded to 0.
const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * The network as the attacks Papernot et al. evaluated saw it: through its
 * softmax output F, computed in float32. Returns log F(x), with F floored at
 * float32's smallest normal number so the logarithm stays finite; a loss
 * over it is the cross-entropy of F, and differences of it are the
 * log-ratios of F. Where the softmax has rounded to exactly 0 or 1, as it
 * does for a distilled network deployed at T = 1 (logits about T times
 * larger), its gradient is exactly 0: the gradient masking that Carlini &
 * Wagner (2017, §VIII.A) found behind the failure of FGSM, L-BFGS, DeepFool
 * and JSMA-F on distilled networks. Attacks on the logits are unaffected.
 */
export function softmaxOutput(model: Classifier): (x: Tensor) => Tensor {
  const forward = asFunction('softmaxOutput', model);
  return (x: Tensor) => scope(() => F.softmax(forward(x), 1).clamp(FLOAT32_MIN_NORMAL, null).log());
}
