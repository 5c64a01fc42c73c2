// C&W L0: Carlini & Wagner, "Towards Evaluating the Robustness of Neural
// Networks" (IEEE S&P 2017), §V.B. L0 is not differentiable, so the attack
// shrinks the set of pixels it may change: it solves an L2 problem
// (minimise c·f(x') + ‖x' − x‖₂², with c doubled until it succeeds) over
// the allowed pixels, then fixes the pixels that matter least, those with
// the smallest |δᵢ|·|∇ᵢ| (the change times the loss's gradient there, each
// summed over the channels), and repeats from the last solution (a warm
// start) until the L2 problem fails; the last success is returned. A pixel
// counts once however many channels it has, as in the paper. Per round it
// fixes pixels in order until one has |δ|·|∇| above 0.01 or 0.3·√(changed
// pixels) have been fixed, as Carlini's l0_attack.py. Defaults as that code,
// which also asks for a margin of 0.01 (κ), except that a value of c also
// ends when its loss stalls (abortEarly; see solveWithGrowingConst).
import { noGrad } from '../tensor/autograd.js';
import { full, tensor, zeros } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { advance, Attack, perExample, putRows, type AttackCore, type AttackOptions } from './attack.js';
import { checkStartNoise, solveWithGrowingConst, startingPoint } from './carlini-wagner.js';

export interface CWL0Options extends AttackOptions {
  /** κ, the margin every L2 problem asks for (Carlini's code: 0.01). */
  kappa?: number;
  /** Adam steps per value of c. */
  maxIterations?: number;
  lr?: number;
  /** c of the first problem; it doubles while a problem is not solved… */
  initialConst?: number;
  /** …up to this bound, where the attack stops. */
  largestConst?: number;
  /** A value of c ends early when the loss has not fallen by 0.01% over a tenth of maxIterations, at least 100 (C&W L2's test; Carlini's L0 code ends it only on success). */
  abortEarly?: boolean;
  /** The first problem starts at the image plus uniform noise in [−s, s] (0: at the image, as Carlini's code); see startingPoint. */
  startNoise?: number;
}

export const CW_L0_DEFAULTS: Required<Omit<CWL0Options, keyof AttackOptions>> = { kappa: 0.01, maxIterations: 1000, lr: 1e-2, initialConst: 1e-3, largestConst: 2e6, abortEarly: true, startNoise: 0 };

const CONST_FACTOR = 2;
// Carlini's code: a problem is solved when the hinge is below this; a pixel has changed when some channel moved by this.
const SOLVED_HINGE = 1e-4;
const CHANGED = 1e-4;
// The fixing rule of l0_attack.py: stop at a pixel whose |δ|·|∇| passes this, or after this fraction of √(changed pixels).
const SALIENT = 0.01;
const FIX_FRACTION = 0.3;

export class CWL0 extends Attack {
  readonly kappa: number;
  readonly maxIterations: number;
  readonly lr: number;
  readonly initialConst: number;
  readonly largestConst: number;
  readonly abortEarly: boolean;
  readonly startNoise: number;

  constructor(options: CWL0Options = {}) {
    super('CWL0', options);
    const o = { ...CW_L0_DEFAULTS, ...options };
    this.kappa = o.kappa;
    if (!(this.kappa >= 0) || !Number.isFinite(this.kappa)) throw new RangeError(`CWL0: kappa must be a finite number >= 0, got ${o.kappa}`);
    this.maxIterations = o.maxIterations;
    if (!Number.isInteger(this.maxIterations) || this.maxIterations < 1) throw new RangeError(`CWL0: maxIterations must be an integer >= 1, got ${o.maxIterations}`);
    this.lr = o.lr;
    if (!(this.lr > 0) || !Number.isFinite(this.lr)) throw new RangeError(`CWL0: lr must be a finite number > 0, got ${o.lr}`);
    this.initialConst = o.initialConst;
    if (!(this.initialConst > 0) || !Number.isFinite(this.initialConst)) throw new RangeError(`CWL0: initialConst must be a finite number > 0, got ${o.initialConst}`);
    this.largestConst = o.largestConst;
    if (!(this.largestConst > this.initialConst) || !Number.isFinite(this.largestConst)) throw new RangeError(`CWL0: largestConst must be finite and above initialConst (${this.initialConst}), got ${o.largestConst}`);
    this.abortEarly = o.abortEarly;
    this.startNoise = o.startNoise;
    checkStartNoise('CWL0', this.startNoise, this.box);
  }

  protected bound(): null {
    return null;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    if (x.ndim < 3) throw new RangeError(`CWL0: expected images [N, C, …] (a pixel spans the channels), got ${x.describe()}`);
    const n = x.shape[0];
    const pixelShape = [n, 1, ...x.shape.slice(2)];
    // Per example: the pixels it may still change (1) or has fixed to the clean value (0), c, the last success, where
    // the next problem starts (startingPoint, then the last solution: a warm start), and whether it has ended.
    let state = { allowed: full(pixelShape, 1), c: full([n], this.initialConst), last: x.clone(), start: startingPoint(x, this.startNoise, this.box), ended: zeros([n], { dtype: 'bool' }) };
    let iterations = 0;
    while (true) {
      const rows = noGrad(() => state.ended.logicalNot().nonzero().flatten());
      if (rows.shape[0] === 0) {
        rows.dispose();
        break;
      }
      const next = scope(() => {
        const clean = x.indexSelect(0, rows);
        const allowed = state.allowed.indexSelect(0, rows);
        const solution = solveWithGrowingConst(
          model,
          {
            x: clean,
            start: state.start.indexSelect(0, rows),
            goal: goal.indexSelect(0, rows),
            targeted,
            c: state.c.indexSelect(0, rows),
            kappa: this.kappa,
            box: this.box,
            image: (free, r) => where(allowed.indexSelect(0, r).bool(), free, clean.indexSelect(0, r)),
            penalty: (image, r) => image.sub(clean.indexSelect(0, r)).square().flatten(1).sum(1),
            divideByConst: false,
            solved: ({ hinge }) => hinge.lt(SOLVED_HINGE),
          },
          { lr: this.lr, maxIterations: this.maxIterations, largestConst: this.largestConst, constFactor: CONST_FACTOR, abortEarly: this.abortEarly },
        );
        iterations += solution.iterations;
        return noGrad(() => {
          const delta = solution.image.sub(clean);
          const fixed = fixPixels(allowed, delta, solution.gradient, solution.solved);
          // A solved example whose every pixel is fixed can go no further.
          const stuck = fixed.flatten(1).sum(1).eq(0);
          return putRows(state, rows, {
            allowed: fixed,
            c: solution.c,
            last: where(perExample(solution.solved, x.ndim), solution.image, state.last.indexSelect(0, rows)),
            start: solution.image,
            ended: solution.solved.logicalNot().logicalOr(stuck),
          });
        });
      });
      rows.dispose();
      state = advance(state, next);
    }
    for (const t of [state.allowed, state.c, state.start, state.ended]) t.dispose();
    return { adversarial: state.last, iterations };
  }
}

/**
 * The allowed pixels [m, 1, …] after one round: for each solved example,
 * allowed pixels are fixed in increasing order of |Σ_c δ|·Σ_c |∇| until one
 * passes 0.01 or 0.3·√(changed pixels) have been fixed (at least one).
 */
function fixPixels(allowed: Tensor, delta: Tensor, gradient: Tensor, solved: Tensor): Tensor {
  const [m] = allowed.shape;
  const change = delta.sum(1, { keepdim: true }).abs().mul(gradient.abs().sum(1, { keepdim: true })).flatten(1).toArray() as number[][];
  const changed = delta.abs().amax(1, { keepdim: true }).ge(CHANGED).flatten(1).sum(1).toArray() as number[];
  const mask = allowed.flatten(1).toArray() as number[][];
  const isSolved = solved.toArray() as boolean[];
  for (let i = 0; i < m; i++) {
    if (!isSolved[i]) continue;
    const order = change[i].map((_, j) => j).sort((a, b) => change[i][a] - change[i][b]);
    let fixedNow = 0;
    for (const j of order) {
      if (mask[i][j] === 0) continue;
      mask[i][j] = 0;
      fixedNow++;
      if (change[i][j] > SALIENT || fixedNow >= FIX_FRACTION * Math.sqrt(changed[i])) break;
    }
  }
  return tensor(mask.flat(), { shape: allowed.shape });
}
