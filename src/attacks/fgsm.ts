// FGSM: Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial
// Examples" (ICLR 2015). One step of size ε along the sign of the input
// gradient of the loss: x' = x + ε·sign(∇ₓJ(θ, x, y)), an L∞ attack.
import { noGrad } from '../tensor/autograd.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { Attack, inputGradient, type AttackCore, type AttackOptions, type Norm } from './attack.js';

export interface FGSMOptions extends AttackOptions {
  /** The L∞ budget; 0.3 is Madry et al.'s MNIST setting (Goodfellow et al. used 0.25 on MNIST, 0.1 on CIFAR-10). */
  eps?: number;
  /** Clip the result to the box (default true); the paper did not, so false reproduces it. */
  clip?: boolean;
}

export class FGSM extends Attack {
  readonly eps: number;

  constructor(options: FGSMOptions = {}) {
    super('FGSM', options);
    this.eps = options.eps ?? 0.3;
    if (!(this.eps >= 0) || !Number.isFinite(this.eps)) throw new RangeError(`FGSM: eps must be a finite number >= 0, got ${options.eps}`);
    this.clipsToBox = options.clip ?? true;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    const { grad } = inputGradient(model, x, goal, targeted);
    const adversarial = noGrad(() =>
      scope(() => {
        const stepped = x.add(grad.sign().mul(this.eps));
        return this.clipsToBox ? stepped.clamp(this.box[0], this.box[1]) : stepped;
      }),
    );
    return { adversarial, iterations: 1 };
  }

  protected bound(): { norm: Norm; eps: number } {
    return { norm: 'linf', eps: this.eps };
  }
}
