// C&W L2: Carlini & Wagner, "Towards Evaluating the Robustness of Neural
// Networks" (IEEE S&P 2017), §V.A. It minimises ‖x' − x‖₂² + c·f(x') over
// w, where x' = ½(tanh(w) + 1) keeps x' in the box (scaled to any box), with
// the paper's best objective f6 over the logits Z:
//
//   targeted at t:    f(x') = max(max_{i≠t} Z_i − Z_t, −κ)
//   untargeted from y: f(x') = max(Z_y − max_{i≠y} Z_i, −κ)
//
// Adam runs on w for each value of c, and a binary search over c per example
// finds the smallest c that succeeds (×10 until the first success, as
// Carlini's code). Every example keeps the closest success of all its steps.
// Each step starts at the image, as Carlini's code, or beside it (startNoise).
import { enableGrad, noGrad } from '../tensor/autograd.js';
import { arange, full, zeros, zerosLike } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { advance, Attack, perExample, putRows, takeRows, type AttackCore, type AttackOptions } from './attack.js';
import { checkStartNoise, constSearch, cwObjective, fromTanhSpace, nextConst, reachedWithMargin, RowAdam, startingPoint, toTanhSpace } from './carlini-wagner.js';

export interface CWL2Options extends AttackOptions {
  /** κ, the confidence: a success needs the goal's logit ahead by at least κ (0: just ahead). */
  kappa?: number;
  /** Values of c tried per example (the binary search). Carlini's code: 9; the paper: 20 (CW_PAPER). */
  searchSteps?: number;
  /** Adam steps per value of c. */
  maxIterations?: number;
  /** c of the first search step. */
  initialConst?: number;
  /** Adam's learning rate on w. */
  lr?: number;
  /** Stops a search step when the loss has not fallen by 0.01% over a tenth of maxIterations. */
  abortEarly?: boolean;
  /** Each search step starts at the image plus uniform noise in [−s, s] (0: at the image, as Carlini's code); see startingPoint. */
  startNoise?: number;
}

/** Defaults of Carlini's reference code (nn_robust_attacks, l2_attack.py). */
export const CW_L2_DEFAULTS: Required<Omit<CWL2Options, keyof AttackOptions>> = { kappa: 0, searchSteps: 9, maxIterations: 10_000, initialConst: 1e-3, lr: 1e-2, abortEarly: true, startNoise: 0 };

/** The paper's settings for its tables: 20 steps of the binary search over c. */
export const CW_PAPER: CWL2Options = { searchSteps: 20 };

export class CWL2 extends Attack {
  readonly kappa: number;
  readonly searchSteps: number;
  readonly maxIterations: number;
  readonly initialConst: number;
  readonly lr: number;
  readonly abortEarly: boolean;
  readonly startNoise: number;

  /** Defaults: CW_L2_DEFAULTS (Carlini's code); `{ ...CW_PAPER }` for the paper's 20 search steps. */
  constructor(options: CWL2Options = {}) {
    super('CWL2', options);
    const o = { ...CW_L2_DEFAULTS, ...options };
    this.kappa = o.kappa;
    if (!(this.kappa >= 0) || !Number.isFinite(this.kappa)) throw new RangeError(`CWL2: kappa must be a finite number >= 0, got ${o.kappa}`);
    this.searchSteps = o.searchSteps;
    if (!Number.isInteger(this.searchSteps) || this.searchSteps < 1) throw new RangeError(`CWL2: searchSteps must be an integer >= 1, got ${o.searchSteps}`);
    this.maxIterations = o.maxIterations;
    if (!Number.isInteger(this.maxIterations) || this.maxIterations < 1) throw new RangeError(`CWL2: maxIterations must be an integer >= 1, got ${o.maxIterations}`);
    this.initialConst = o.initialConst;
    if (!(this.initialConst > 0) || !Number.isFinite(this.initialConst)) throw new RangeError(`CWL2: initialConst must be a finite number > 0, got ${o.initialConst}`);
    this.lr = o.lr;
    if (!(this.lr > 0) || !Number.isFinite(this.lr)) throw new RangeError(`CWL2: lr must be a finite number > 0, got ${o.lr}`);
    this.abortEarly = o.abortEarly;
    this.startNoise = o.startNoise;
    checkStartNoise('CWL2', this.startNoise, this.box);
  }

  protected bound(): null {
    return null;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    const n = x.shape[0];
    const w0 = noGrad(() => toTanhSpace(x, this.box));
    // The binary search over c, per example.
    let search = constSearch(n, this.initialConst);
    // The closest success so far, over every value of c.
    let best = { l2: full([n], Infinity), adversarial: x.clone() };
    let iterations = 0;
    for (let step = 0; step < this.searchSteps; step++) {
      // Carlini's code, with 10 or more steps, spends the last one on the upper bound.
      if (this.searchSteps >= 10 && step === this.searchSteps - 1) search = advance(search, { ...search, c: search.upper.clone() });
      const run = this.descend(model, x, w0, goal, targeted, search.c, best);
      iterations += run.iterations;
      best = advance(best, run.best);
      search = advance(search, noGrad(() => scope(() => nextConst(search, run.succeeded))));
      run.succeeded.dispose();
    }
    for (const t of [...Object.values(search), best.l2, w0]) t.dispose();
    return { adversarial: best.adversarial, iterations };
  }

  /**
   * Adam on w from w0 for one value of c per example; updates `best` and says
   * which examples succeeded. Each example stops on its own when its loss has
   * not fallen by 0.01% over a tenth of maxIterations (Carlini's early abort,
   * which his code runs per batch, by default of one example); the rest of
   * the batch goes on without it.
   */
  private descend(model: (x: Tensor) => Tensor, x: Tensor, w0: Tensor, goal: Tensor, targeted: boolean, c: Tensor, start: { l2: Tensor; adversarial: Tensor }) {
    const n = x.shape[0];
    const fresh = () => ({ l2: start.l2.clone(), adversarial: start.adversarial.clone(), succeeded: zeros([n], { dtype: 'bool' }) });
    let result = fresh();
    // The examples still running (rows: indices into the batch), their inputs and their part of the result.
    let running = { rows: arange(n, { dtype: 'int64' }), x: x.clone(), w0: w0.clone(), goal: goal.clone(), c: c.clone(), previous: full([n], Infinity), ...fresh() };
    // Adam runs on the offset from w0, from 0 (at the image, Carlini's start) or from the start beside it.
    const offset = this.startNoise > 0 ? noGrad(() => scope(() => toTanhSpace(startingPoint(x, this.startNoise, this.box), this.box).sub(w0))) : zerosLike(w0);
    const adam = new RowAdam(offset, this.lr);
    offset.dispose();
    const checkEvery = Math.max(1, Math.floor(this.maxIterations / 10));
    let iterations = 0;
    // Writes the running examples' part back into the result.
    const settle = () => {
      const r = running;
      result = advance(result, putRows(result, r.rows, { l2: r.l2, adversarial: r.adversarial, succeeded: r.succeeded }));
    };
    try {
      for (let i = 0; i < this.maxIterations; i++) {
        const r = running;
        const next = scope(() => {
          const { adversarial, l2, logits, losses } = enableGrad(() => {
            const adversarial = fromTanhSpace(adam.variable.add(r.w0), this.box);
            const logits = model(adversarial);
            const l2 = adversarial.sub(r.x).square().flatten(1).sum(1);
            // f + κ ≥ 0 (Carlini's code's form): the same gradient, and a loss whose stall test works for any κ.
            const f = cwObjective(logits, r.goal, targeted, this.kappa).add(this.kappa);
            return { adversarial, l2, logits, losses: l2.add(r.c.mul(f)) };
          });
          enableGrad(() => losses.sum()).backward();
          adam.step();
          // The point the loss was computed at (before this step) is the one recorded, as in Carlini's code.
          return noGrad(() => {
            const reached = reachedWithMargin(logits, r.goal, targeted, this.kappa);
            const closer = reached.logicalAnd(l2.lt(r.l2));
            return {
              l2: where(closer, l2, r.l2),
              adversarial: where(perExample(closer, x.ndim), adversarial.detach(), r.adversarial),
              succeeded: r.succeeded.logicalOr(reached),
              losses: losses.detach(),
            };
          });
        });
        iterations++;
        const { losses, ...kept } = next;
        running = advance(running, { ...running, ...kept });
        if (this.abortEarly && i % checkEvery === 0) {
          const going = noGrad(() => scope(() => losses.le(running.previous.mul(0.9999)).nonzero().flatten()));
          running = advance(running, { ...running, previous: losses });
          if (going.shape[0] < running.rows.shape[0]) {
            settle();
            running = advance(running, takeRows(running, going));
            adam.keep(going);
          }
          going.dispose();
          if (running.rows.shape[0] === 0) break;
        } else losses.dispose();
      }
      settle();
    } finally {
      adam.dispose();
      for (const t of Object.values(running)) t.dispose();
    }
    const { succeeded, ...best } = result;
    return { best, succeeded, iterations };
  }
}
