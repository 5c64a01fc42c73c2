// C&W L∞: Carlini & Wagner, "Towards Evaluating the Robustness of Neural
// Networks" (IEEE S&P 2017), §V.C. The L∞ norm is a poor objective for
// gradient descent (only the largest change gets a gradient), so the attack
// minimises c·f(x') + Σᵢ max(|x'ᵢ − xᵢ| − τ, 0) instead: every change above τ
// is penalised. After each success τ falls to 0.9 × the largest change, and
// the next problem starts from the last success (a warm start) with the same
// c; c doubles (up to a bound) while a problem is not solved. The attack
// ends when a problem fails or τ falls below 1/256 of the box, and returns
// the last success. Defaults as Carlini's li_attack.py, except that a value
// of c also ends when its loss stalls (abortEarly; see solveWithGrowingConst),
// except in the first problem.
import { noGrad } from '../tensor/autograd.js';
import { full, zeros } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { advance, Attack, exampleNorm, perExample, putRows, reached, type AttackCore, type AttackOptions } from './attack.js';
import { checkStartNoise, solveWithGrowingConst, startingPoint } from './carlini-wagner.js';

export interface CWLinfOptions extends AttackOptions {
  /** κ, the margin a success needs (Carlini's code: 0). */
  kappa?: number;
  /** Adam steps per value of c. */
  maxIterations?: number;
  lr?: number;
  /** c of the first problem; it doubles while a problem is not solved… */
  initialConst?: number;
  /** …up to this bound, where the attack gives up. */
  largestConst?: number;
  /** τ's factor after each success. */
  decreaseFactor?: number;
  /** A value of c ends early when the loss has not fallen by 0.01% over a tenth of maxIterations, at least 100 (C&W L2's test; Carlini's L∞ code ends it only on success); not in the first problem, whose loss is the same at every c. */
  abortEarly?: boolean;
  /** The first problem starts at the image plus uniform noise in [−s, s] (0: at the image, as Carlini's code); see startingPoint. */
  startNoise?: number;
}

export const CW_LINF_DEFAULTS: Required<Omit<CWLinfOptions, keyof AttackOptions>> = { kappa: 0, maxIterations: 1000, lr: 5e-3, initialConst: 1e-5, largestConst: 20, decreaseFactor: 0.9, abortEarly: true, startNoise: 0 };

const CONST_FACTOR = 2;
// A problem counts as solved when its loss is below this fraction of c (and the goal is reached), as in Carlini's code.
const SOLVED_LOSS = 1e-4;

export class CWLinf extends Attack {
  readonly kappa: number;
  readonly maxIterations: number;
  readonly lr: number;
  readonly initialConst: number;
  readonly largestConst: number;
  readonly abortEarly: boolean;
  readonly startNoise: number;
  readonly decreaseFactor: number;

  constructor(options: CWLinfOptions = {}) {
    super('CWLinf', options);
    const o = { ...CW_LINF_DEFAULTS, ...options };
    this.kappa = o.kappa;
    if (!(this.kappa >= 0) || !Number.isFinite(this.kappa)) throw new RangeError(`CWLinf: kappa must be a finite number >= 0, got ${o.kappa}`);
    this.maxIterations = o.maxIterations;
    if (!Number.isInteger(this.maxIterations) || this.maxIterations < 1) throw new RangeError(`CWLinf: maxIterations must be an integer >= 1, got ${o.maxIterations}`);
    this.lr = o.lr;
    if (!(this.lr > 0) || !Number.isFinite(this.lr)) throw new RangeError(`CWLinf: lr must be a finite number > 0, got ${o.lr}`);
    this.initialConst = o.initialConst;
    if (!(this.initialConst > 0) || !Number.isFinite(this.initialConst)) throw new RangeError(`CWLinf: initialConst must be a finite number > 0, got ${o.initialConst}`);
    this.largestConst = o.largestConst;
    if (!(this.largestConst > this.initialConst) || !Number.isFinite(this.largestConst)) throw new RangeError(`CWLinf: largestConst must be finite and above initialConst (${this.initialConst}), got ${o.largestConst}`);
    this.abortEarly = o.abortEarly;
    this.startNoise = o.startNoise;
    checkStartNoise('CWLinf', this.startNoise, this.box);
    this.decreaseFactor = o.decreaseFactor;
    if (!(this.decreaseFactor > 0 && this.decreaseFactor < 1)) throw new RangeError(`CWLinf: decreaseFactor must be in (0, 1), got ${o.decreaseFactor}`);
  }

  protected bound(): null {
    return null;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    const [lo, hi] = this.box;
    const n = x.shape[0];
    const smallestTau = (hi - lo) / 256;
    // Per example: τ, c, the last success (x itself until there is one), where the next problem starts (startingPoint,
    // then the last solution: a warm start) and whether the attack has ended.
    let state = { tau: full([n], hi - lo), c: full([n], this.initialConst), last: x.clone(), start: startingPoint(x, this.startNoise, this.box), ended: zeros([n], { dtype: 'bool' }) };
    let iterations = 0;
    // The first problem, τ = the box's width, has no penalty: f alone at every c, so a stall there is no reason to try
    // the next c, which would go on with the same descent. It runs without the stall test: a digit whose target needs
    // background pixels raised, each at the box's edge where tanh is flat, can show no fall in f for hundreds of steps
    // while w moves, and MNIST's hardest targets need thousands.
    let firstProblem = true;
    while (true) {
      const rows = noGrad(() => state.ended.logicalNot().logicalAnd(state.tau.gt(smallestTau)).nonzero().flatten());
      if (rows.shape[0] === 0) {
        rows.dispose();
        break;
      }
      const next = scope(() => {
        const clean = x.indexSelect(0, rows);
        const tau = state.tau.indexSelect(0, rows);
        const goals = goal.indexSelect(0, rows);
        const solution = solveWithGrowingConst(
          model,
          {
            x: clean,
            start: state.start.indexSelect(0, rows),
            goal: goals,
            targeted,
            c: state.c.indexSelect(0, rows),
            kappa: this.kappa,
            box: this.box,
            penalty: (image, r) => image.sub(clean.indexSelect(0, r)).abs().sub(perExample(tau.indexSelect(0, r), x.ndim)).relu().flatten(1).sum(1),
            divideByConst: true,
            solved: ({ hinge, penalty, c, logits }, r) => hinge.mul(c).add(penalty).lt(c.mul(SOLVED_LOSS)).logicalAnd(reached(logits, goals.indexSelect(0, r), targeted)),
          },
          { lr: this.lr, maxIterations: this.maxIterations, largestConst: this.largestConst, constFactor: CONST_FACTOR, abortEarly: this.abortEarly && !firstProblem },
        );
        iterations += solution.iterations;
        return noGrad(() => {
          const largest = exampleNorm(solution.image.sub(clean), 'linf');
          const nextTau = where(largest.lt(tau), largest, tau).mul(this.decreaseFactor);
          return putRows(state, rows, {
            tau: where(solution.solved, nextTau, tau),
            c: solution.c,
            last: where(perExample(solution.solved, x.ndim), solution.image, state.last.indexSelect(0, rows)),
            start: solution.image,
            ended: solution.solved.logicalNot(),
          });
        });
      });
      rows.dispose();
      firstProblem = false;
      state = advance(state, next);
    }
    for (const t of [state.tau, state.c, state.start, state.ended]) t.dispose();
    return { adversarial: state.last, iterations };
  }
}
