// Pieces of Carlini & Wagner's three attacks ("Towards Evaluating the
// Robustness of Neural Networks", IEEE S&P 2017): the objective f6 over the
// logits, the change of variables that keeps x' in the box, and the inner
// solver of the L0 and L∞ attacks, which grows c until Adam finds a success.
import { enableGrad, noGrad } from '../tensor/autograd.js';
import { arange, full, zeros, zerosLike } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { advance, goalMargin, perExample, putRows, takeRows } from './attack.js';
import { randomStartInBall } from './pgd.js';

// Carlini's code shrinks the box by this factor before arctanh, so the inputs
// at the box's edges map to finite w.
const TANH_SHRINK = 0.999999;

/** The paper's f6 per example [N]: max(−margin, −κ), minimised by the attack. */
export function cwObjective(logits: Tensor, goal: Tensor, targeted: boolean, kappa: number): Tensor {
  return scope(() => goalMargin(logits, goal, targeted).neg().clamp(-kappa, null));
}

/** Whether each example reaches the goal with a margin of at least κ (and of more than 0). */
export function reachedWithMargin(logits: Tensor, goal: Tensor, targeted: boolean, kappa: number): Tensor {
  return scope(() => {
    const margin = goalMargin(logits, goal, targeted);
    return margin.gt(0).logicalAnd(margin.ge(kappa));
  });
}

/** x' = ½(tanh(w) + 1) mapped onto the box [lo, hi], and its inverse (with Carlini's shrink). */
export function fromTanhSpace(w: Tensor, box: [number, number]): Tensor {
  const [lo, hi] = box;
  return scope(() => w.tanh().mul((hi - lo) / 2).add((hi + lo) / 2));
}

export function toTanhSpace(x: Tensor, box: [number, number]): Tensor {
  const [lo, hi] = box;
  return scope(() => x.sub((hi + lo) / 2).div((hi - lo) / 2).mul(TANH_SHRINK).atanh());
}

/**
 * The first iterate of a C&W attack: the image itself (Carlini's code), or,
 * for `startNoise` s > 0, the image plus uniform noise in [−s, s] per value,
 * clipped to the box. Gradient descent cannot leave a point where the
 * model's input gradient is exactly zero (an all-black image, on a network
 * whose first ReLUs are all off there); a start beside it can.
 */
export function startingPoint(x: Tensor, startNoise: number, box: [number, number]): Tensor {
  return startNoise > 0 ? randomStartInBall(x, 'linf', startNoise, box) : x.clone();
}

/** Checks a startNoise option: finite, from 0 to the box's width. */
export function checkStartNoise(name: string, startNoise: number, box: [number, number]): void {
  if (!(startNoise >= 0 && startNoise <= box[1] - box[0])) throw new RangeError(`${name}: startNoise must be a number from 0 to the box's width ${box[1] - box[0]}, got ${startNoise}`);
}

/** Rows of the variable RowAdam optimises, with Adam's state for them: both moments and, per row, the steps taken (float [k]). */
export interface AdamRows {
  variable: Tensor;
  expAvg: Tensor;
  expAvgSq: Tensor;
  steps: Tensor;
}

/**
 * Adam (PyTorch's update, β = (0.9, 0.999), ε = 1e-8) on a tensor whose rows
 * are independent problems, which can drop rows as their problems finish
 * (the attacks compute only the examples still running) and can resume rows
 * saved by rows() (each row counts its own steps for the bias correction).
 */
export class RowAdam {
  /** The optimised tensor (requires grad); replaced by keep(). */
  variable: Tensor;
  private expAvg: Tensor;
  private expAvgSq: Tensor;
  private steps: Tensor;

  /** Starts at `start` with no steps taken, or resumes rows saved by rows() (copied). */
  constructor(start: Tensor | AdamRows, private readonly lr: number) {
    const variable = start instanceof Tensor ? start : start.variable;
    this.variable = noGrad(() => variable.clone()).requiresGrad_(true);
    this.expAvg = start instanceof Tensor ? zerosLike(variable) : start.expAvg.clone();
    this.expAvgSq = start instanceof Tensor ? zerosLike(variable) : start.expAvgSq.clone();
    this.steps = start instanceof Tensor ? zeros([variable.shape[0]]) : start.steps.clone();
  }

  /** One step from the variable's gradient. */
  step(): void {
    noGrad(() =>
      scope(() => {
        const grad = this.variable.grad;
        if (grad === null) throw new Error('RowAdam: the variable has no gradient; call backward() first');
        this.steps.add_(1);
        this.expAvg.mul_(0.9).add_(grad, { alpha: 0.1 });
        this.expAvgSq.mul_(0.999).addcmul_(grad, grad, { value: 0.001 });
        // Per row: 1 − βᵗ = −expm1(t·ln β), which keeps float32's precision where βᵗ is near 1.
        const correction = (beta: number) => perExample(this.steps.mul(Math.log(beta)).expm1().neg(), grad.ndim);
        const denom = this.expAvgSq.sqrt().div_(correction(0.999).sqrt()).add_(1e-8);
        this.variable.sub_(this.expAvg.div(denom).div_(correction(0.9)).mul_(this.lr));
        this.variable.grad = null;
      }),
    );
  }

  /** Rows `rows` (int64 indices) of the variable (without grad) and of Adam's state, copied. */
  rows(rows: Tensor): AdamRows {
    return takeRows({ variable: this.variable, expAvg: this.expAvg, expAvgSq: this.expAvgSq, steps: this.steps }, rows);
  }

  /** Keeps rows `rows` (int64 indices) of the variable and of Adam's state. */
  keep(rows: Tensor): void {
    const kept = this.rows(rows);
    kept.variable.requiresGrad_(true);
    this.dispose();
    Object.assign(this, kept);
  }

  dispose(): void {
    for (const t of [this.variable, this.expAvg, this.expAvgSq, this.steps]) t.dispose();
  }
}

/** One batch of problems for solveWithGrowingConst; rows are examples. */
export interface GrowingConstProblem {
  /** The clean inputs [m, …]. */
  x: Tensor;
  /** The images to start from (a warm start), [m, …]. */
  start: Tensor;
  goal: Tensor;
  targeted: boolean;
  /** c per example [m] to start with. */
  c: Tensor;
  /** The margin the hinge asks for: f = max(κ − margin, 0). */
  kappa: number;
  box: [number, number];
  /** The image of rows `rows` (int64 indices into the problem) from their free image ½(tanh(w) + 1); the identity by default. */
  image?: (free: Tensor, rows: Tensor) => Tensor;
  /** The distance term of rows `rows` at their images, [k]. */
  penalty: (image: Tensor, rows: Tensor) => Tensor;
  /**
   * Adam descends on (c·f + penalty)/c, the same minimiser at each c, instead of Carlini's c·f + penalty. C&W L∞
   * needs it: from its c₀ = 1e-5 the gradient at a pixel on the box's edge (c·∇f·tanh′ ≈ 1e-5·0.05·1e-6) is far
   * below Adam's ε = 1e-8, so the image does not move until c nears 1 (2% of MNIST targets failed at 200
   * iterations). C&W L0 must not: there the 1/c form's large penalty gradients at small c stay in Adam's second
   * moment, which is carried across c, and shrink the steps of the larger c that could succeed (3 of 900 MNIST
   * targets failed at 200 iterations, all 3 succeed on c·f + penalty).
   */
  divideByConst: boolean;
  /** Which of rows `rows` count as solved, from their hinge f, penalty, c and logits at the current point (bool [k]). */
  solved: (terms: { hinge: Tensor; penalty: Tensor; c: Tensor; logits: Tensor }, rows: Tensor) => Tensor;
}

export interface GrowingConstOptions {
  lr: number;
  maxIterations: number;
  /** c stops growing here: a row not solved below it has failed. */
  largestConst: number;
  constFactor: number;
  /** A row whose loss has not fallen by 0.01% over a tenth of maxIterations (at least 100) gives up on its c and tries the next. */
  abortEarly: boolean;
}

export interface GrowingConstSolution {
  /** Per row: solved below the largest c. */
  solved: Tensor;
  /** The image at which each row was solved (its start where not). */
  image: Tensor;
  /** ∂loss/∂w there (the L0 attack's guide to which pixels matter). */
  gradient: Tensor;
  /** The c at which each row was solved (or the first c past the largest). */
  c: Tensor;
  iterations: number;
}

/**
 * Minimises c·f + penalty with Adam on w (x' = ½(tanh(w) + 1) on the box) from
 * the warm start, stopping each row at its first solved point; rows not
 * solved within maxIterations go on with c × constFactor from where they
 * are, with Adam's state, until c reaches largestConst. Carlini's L0 and L∞ attacks (l0_attack.py,
 * li_attack.py) share this loop; here it runs on a batch. With abortEarly,
 * a row also leaves a value of c when its loss stalls, by C&W L2's test:
 * Carlini's loop spends all maxIterations on every c too small to succeed,
 * and the last problem of each example fails by design, so without the
 * test most of the attack's time goes to values of c that cannot win.
 */
export function solveWithGrowingConst(model: (x: Tensor) => Tensor, p: GrowingConstProblem, o: GrowingConstOptions): GrowingConstSolution {
  const m = p.x.shape[0];
  // w and Adam's state, carried from one value of c to the next as in Carlini's code (one optimiser per problem).
  let saved: AdamRows = noGrad(() => ({ variable: toTanhSpace(p.start, p.box), expAvg: zeros(p.x.shape), expAvgSq: zeros(p.x.shape), steps: zeros([m]) }));
  let state = { solved: zeros([m], { dtype: 'bool' }), image: p.start.clone(), gradient: zeros(p.x.shape), c: p.c.clone() };
  let iterations = 0;
  try {
    while (true) {
      const rows = noGrad(() => state.solved.logicalNot().logicalAnd(state.c.lt(o.largestConst)).nonzero().flatten());
      if (rows.shape[0] === 0) {
        rows.dispose();
        break;
      }
      const round = descendRows(model, p, o, rows, saved, state);
      iterations += round.iterations;
      const { solved, image, gradient, c } = round;
      state = advance(state, scope(() => putRows(state, rows, { solved, image, gradient, c: noGrad(() => where(solved, c, c.mul(o.constFactor))) })));
      saved = advance(saved, putRows(saved, rows, round.saved));
      for (const t of [rows, solved, image, gradient, c, ...Object.values(round.saved)]) t.dispose();
    }
  } finally {
    for (const t of Object.values(saved)) t.dispose();
  }
  return { ...state, iterations };
}

// The stall test's shortest window. In tanh space a pixel at the edge of the box (w ≈ ±7.25) needs hundreds of
// Adam steps before the image moves, so over a shorter window a loss that is about to fall looks flat; this is
// Carlini's own window at his default of 1,000 iterations.
const STALL_WINDOW = 100;

/**
 * One value of c for rows `rows` of the problem: Adam from their saved w and
 * Adam state, each row stopping (and leaving the batch) at its first solved
 * point. Returns, per row, whether it was solved, its image and gradient
 * there, its c, and, for the rows not solved, their w and Adam state at the
 * end (where the next c goes on).
 */
function descendRows(model: (x: Tensor) => Tensor, p: GrowingConstProblem, o: GrowingConstOptions, rows: Tensor, saved: AdamRows, state: { image: Tensor; c: Tensor }) {
  const k = rows.shape[0];
  const c = state.c.indexSelect(0, rows);
  let found = { solved: zeros([k], { dtype: 'bool' }), image: state.image.indexSelect(0, rows), gradient: zeros([k, ...p.x.shape.slice(1)]) };
  // The unsolved rows' w and Adam state where they leave (a solved row's is never used again).
  let left = takeRows(saved, rows);
  // The rows still running: their places in `found`, their rows of the problem, their c and goals.
  let running = { at: arange(k, { dtype: 'int64' }), rows: rows.clone(), c: c.clone(), goal: p.goal.indexSelect(0, rows), previous: full([k], Infinity) };
  const adam = new RowAdam(left, o.lr);
  const checkEvery = Math.max(STALL_WINDOW, Math.floor(o.maxIterations / 10));
  let iterations = 0;
  try {
    for (let i = 0; i < o.maxIterations && running.at.shape[0] > 0; i++) {
      const r = running;
      const now = scope(() => {
        const terms = enableGrad(() => {
          const free = fromTanhSpace(adam.variable, p.box);
          const image = p.image === undefined ? free : p.image(free, r.rows);
          const logits = model(image);
          const hinge = cwObjective(logits, r.goal, p.targeted, p.kappa).add(p.kappa);
          return { image, logits, hinge, penalty: p.penalty(image, r.rows) };
        });
        // The gradient reported (L0's pixel ranking) is that of c·f + penalty either way.
        const loss = enableGrad(() => (p.divideByConst ? terms.hinge.add(terms.penalty.div(r.c)) : terms.hinge.mul(r.c).add(terms.penalty)));
        enableGrad(() => loss.sum()).backward();
        const gradient = noGrad(() => (p.divideByConst ? adam.variable.grad!.mul(perExample(r.c, p.x.ndim)) : adam.variable.grad!.clone()));
        const solved = noGrad(() => p.solved({ hinge: terms.hinge.detach(), penalty: terms.penalty.detach(), c: r.c, logits: terms.logits.detach() }, r.rows));
        const point = { solved, loss: loss.detach(), image: terms.image.detach(), gradient };
        adam.step();
        return point;
      });
      iterations++;
      // At a check, rows that stalled leave unsolved, from where Adam has taken them.
      let stalled: Tensor | null = null;
      if (o.abortEarly && i % checkEvery === 0) {
        stalled = noGrad(() => scope(() => now.solved.logicalNot().logicalAnd(now.loss.gt(running.previous.mul(0.9999)))));
        running = advance(running, { ...running, previous: now.loss.clone() });
      }
      const leaving = stalled === null ? now.solved : noGrad(() => now.solved.logicalOr(stalled!));
      if (noGrad(() => leaving.any().item())) {
        const next = scope(() => {
          const solvedNow = noGrad(() => now.solved.nonzero().flatten());
          const gaveUp = stalled === null ? null : noGrad(() => stalled!.nonzero().flatten());
          const going = noGrad(() => leaving.logicalNot().nonzero().flatten());
          return {
            found: putRows(found, running.at.indexSelect(0, solvedNow), takeRows({ solved: now.solved, image: now.image, gradient: now.gradient }, solvedNow)),
            left: gaveUp === null ? left : putRows(left, running.at.indexSelect(0, gaveUp), adam.rows(gaveUp)),
            running: takeRows(running, going),
            going,
          };
        });
        found = advance(found, next.found);
        left = advance(left, next.left);
        running = advance(running, next.running);
        adam.keep(next.going);
        next.going.dispose();
      }
      if (stalled !== null) for (const t of [stalled, leaving]) t.dispose();
      for (const t of Object.values(now)) t.dispose();
    }
    // The rows that ran out of iterations keep going from here with the next c.
    left = advance(left, scope(() => putRows(left, running.at, adam.rows(arange(running.at.shape[0], { dtype: 'int64' })))));
  } finally {
    adam.dispose();
    for (const t of Object.values(running)) t.dispose();
  }
  return { ...found, saved: left, c, iterations };
}

// c's upper bound before a success is known ("no upper bound yet").
const NO_BOUND = 1e10;

/** The start of the search over c for n examples: c₀ each, no bounds yet. */
export function constSearch(n: number, initialConst: number): { lower: Tensor; upper: Tensor; c: Tensor } {
  return { lower: zeros([n]), upper: full([n], NO_BOUND), c: full([n], initialConst) };
}

/**
 * The next c per example (Carlini's rule): after a success the upper bound
 * falls to c; after a failure the lower bound rises to c; c moves to the
 * middle of the bounds, or ×10 while no success has given an upper bound.
 */
export function nextConst(search: { lower: Tensor; upper: Tensor; c: Tensor }, succeeded: Tensor): { lower: Tensor; upper: Tensor; c: Tensor } {
  const upper = where(succeeded, search.upper.minimum(search.c), search.upper);
  const lower = where(succeeded, search.lower, search.lower.maximum(search.c));
  const c = where(upper.lt(NO_BOUND * 0.1), lower.add(upper).div(2), search.c.mul(10));
  return { lower, upper, c };
}
