// L-BFGS: Szegedy, Zaremba, Sutskever, Bruna, Erhan, Goodfellow & Fergus,
// "Intriguing properties of neural networks" (ICLR 2014), §4.1. The first
// minimum-distortion attack: minimise c·|r| + loss_f(x + r, l) over the box
// with box-constrained L-BFGS, searching over c. Written as Carlini & Wagner
// write it, ‖δ‖₂² + c·loss(x + δ) with loss the cross-entropy of the target
// (untargeted, of the class ranked second on x: the paper's attack is
// targeted, and minus the label's cross-entropy has no minimum short of the
// box's corners), so the search is for the
// smallest c that succeeds: ×10 until the first success, then bisection, per
// example, keeping the closest success. The minimiser is projectedLbfgs
// (optim/projected-lbfgs.ts), started at x for every c.
import { noGrad } from '../tensor/autograd.js';
import { full } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { projectedLbfgs } from '../optim/projected-lbfgs.js';
import * as F from '../nn/functional.js';
import { advance, Attack, perExample, reached, type AttackCore, type AttackOptions } from './attack.js';
import { constSearch, nextConst } from './carlini-wagner.js';

export interface LBFGSAttackOptions extends AttackOptions {
  /** Values of c tried per example. */
  searchSteps?: number;
  /** c of the first search step. */
  initialConst?: number;
  /** L-BFGS iterations per value of c. */
  maxIterations?: number;
  /** Curvature pairs L-BFGS keeps. */
  history?: number;
}

export const LBFGS_ATTACK_DEFAULTS: Required<Omit<LBFGSAttackOptions, keyof AttackOptions>> = { searchSteps: 9, initialConst: 1e-2, maxIterations: 100, history: 10 };

export class LBFGSAttack extends Attack {
  readonly searchSteps: number;
  readonly initialConst: number;
  readonly maxIterations: number;
  readonly history: number;

  constructor(options: LBFGSAttackOptions = {}) {
    super('L-BFGS', options);
    const o = { ...LBFGS_ATTACK_DEFAULTS, ...options };
    this.searchSteps = o.searchSteps;
    if (!Number.isInteger(this.searchSteps) || this.searchSteps < 1) throw new RangeError(`L-BFGS: searchSteps must be an integer >= 1, got ${o.searchSteps}`);
    this.initialConst = o.initialConst;
    if (!(this.initialConst > 0) || !Number.isFinite(this.initialConst)) throw new RangeError(`L-BFGS: initialConst must be a finite number > 0, got ${o.initialConst}`);
    this.maxIterations = o.maxIterations;
    if (!Number.isInteger(this.maxIterations) || this.maxIterations < 1) throw new RangeError(`L-BFGS: maxIterations must be an integer >= 1, got ${o.maxIterations}`);
    this.history = o.history;
    if (!Number.isInteger(this.history) || this.history < 1) throw new RangeError(`L-BFGS: history must be an integer >= 1, got ${o.history}`);
  }

  protected bound(): null {
    return null;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    const n = x.shape[0];
    const aim = targeted ? goal : noGrad(() => scope(() => model(x).scatter(1, goal.view(-1, 1), -Infinity).argmax(1)));
    let search = constSearch(n, this.initialConst);
    let best = { l2: full([n], Infinity), adversarial: x.clone() };
    let iterations = 0;
    for (let step = 0; step < this.searchSteps; step++) {
      const c = search.c;
      const solution = projectedLbfgs((z) => z.sub(x).square().flatten(1).sum(1).add(c.mul(F.crossEntropy(model(z), aim, { reduction: 'none' }))), x, {
        lower: this.box[0],
        upper: this.box[1],
        maxIterations: this.maxIterations,
        history: this.history,
      });
      iterations += solution.iterations;
      const next = noGrad(() =>
        scope(() => {
          const succeeded = reached(model(solution.x), goal, targeted);
          const l2 = solution.x.sub(x).flatten(1).norm(2, 1);
          const closer = succeeded.logicalAnd(l2.lt(best.l2));
          return {
            best: { l2: where(closer, l2, best.l2), adversarial: where(perExample(closer, x.ndim), solution.x, best.adversarial) },
            search: nextConst(search, succeeded),
          };
        }),
      );
      solution.x.dispose();
      solution.value.dispose();
      best = advance(best, next.best);
      search = advance(search, next.search);
    }
    for (const t of [...Object.values(search), best.l2]) t.dispose();
    if (aim !== goal) aim.dispose();
    return { adversarial: best.adversarial, iterations };
  }
}
