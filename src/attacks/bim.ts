// BIM / I-FGSM: Kurakin, Goodfellow & Bengio, "Adversarial Examples in the
// Physical World" (ICLR 2017 workshop). FGSM iterated with small steps from
// the clean input, each followed by projection onto the L∞ ε-ball and the box:
// PGD without the random start. Their schedule: α = 1/255 and
// min(255·ε + 4, 1.25·255·ε) steps.
import { PGD, type PGDOptions } from './pgd.js';

export interface BIMOptions extends Omit<PGDOptions, 'norm' | 'randomStart'> {}

export class BIM extends PGD {
  /** eps defaults to 0.3 (MNIST); stepSize and steps follow Kurakin et al.'s rule for that eps unless given. */
  constructor(options: BIMOptions = {}) {
    const eps = options.eps ?? 0.3;
    super(
      {
        ...options,
        norm: 'linf',
        eps,
        stepSize: options.stepSize ?? 1 / 255,
        steps: options.steps ?? Math.max(1, Math.round(Math.min(255 * eps + 4, 1.25 * 255 * eps))),
        randomStart: false,
      },
      'BIM',
    );
  }
}
