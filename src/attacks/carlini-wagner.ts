// Pieces of Carlini & Wagner's three attacks ("Towards Evaluating the
// Robustness of Neural Networks", IEEE S&P 2017): the objective f6 over the
// logits, the change of variables that keeps x' in the box, and the inner
// solver of the L0 and L∞ attacks, which grows c until Adam finds a success.
import { enableGrad, noGrad } from '../tensor/autograd.js';
import { full, zeros } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { Adam } from '../optim/adam.js';
import { advance, goalMargin, perExample } from './attack.js';

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
  /** Which of rows `rows` count as solved, from their hinge f, penalty, c and logits at the current point (bool [k]). */
  solved: (terms: { hinge: Tensor; penalty: Tensor; c: Tensor; logits: Tensor }, rows: Tensor) => Tensor;
}

export interface GrowingConstOptions {
  lr: number;
  maxIterations: number;
  /** c stops growing here: a row not solved below it has failed. */
  largestConst: number;
  constFactor: number;
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
 * solved within maxIterations try again with c × constFactor, until
 * c reaches largestConst. Carlini's L0 and L∞ attacks (l0_attack.py,
 * li_attack.py) share this loop; here it runs on a batch.
 */
export function solveWithGrowingConst(model: (x: Tensor) => Tensor, p: GrowingConstProblem, o: GrowingConstOptions): GrowingConstSolution {
  const m = p.x.shape[0];
  let w = noGrad(() => toTanhSpace(p.start, p.box));
  let state = { solved: zeros([m], { dtype: 'bool' }), image: p.start.clone(), gradient: zeros(p.x.shape), c: p.c.clone() };
  let iterations = 0;
  try {
    while (true) {
      const rows = noGrad(() => state.solved.logicalNot().logicalAnd(state.c.lt(o.largestConst)).nonzero().flatten());
      if (rows.shape[0] === 0) {
        rows.dispose();
        break;
      }
      const variable = w.indexSelect(0, rows).requiresGrad_(true);
      const optimizer = new Adam([variable], { lr: o.lr });
      const c = state.c.indexSelect(0, rows);
      let round = { solved: zeros([rows.shape[0]], { dtype: 'bool' }), image: state.image.indexSelect(0, rows), gradient: zeros(variable.shape) };
      try {
        for (let i = 0; i < o.maxIterations; i++) {
          const next = scope(() => {
            const terms = enableGrad(() => {
              const free = fromTanhSpace(variable, p.box);
              const image = p.image === undefined ? free : p.image(free, rows);
              const logits = model(image);
              const hinge = cwObjective(logits, p.goal.indexSelect(0, rows), p.targeted, p.kappa).add(p.kappa);
              return { image, logits, hinge, penalty: p.penalty(image, rows) };
            });
            optimizer.zeroGrad();
            enableGrad(() => terms.hinge.mul(c).add(terms.penalty).sum()).backward();
            const recorded = noGrad(() => {
              const now = p.solved({ hinge: terms.hinge.detach(), penalty: terms.penalty.detach(), c, logits: terms.logits.detach() }, rows).logicalAnd(round.solved.logicalNot());
              const wide = perExample(now, p.x.ndim);
              return {
                solved: round.solved.logicalOr(now),
                image: where(wide, terms.image.detach(), round.image),
                gradient: where(wide, variable.grad!, round.gradient),
              };
            });
            optimizer.step();
            return recorded;
          });
          iterations++;
          round = advance(round, next);
          if (noGrad(() => round.solved.all().item())) break;
        }
        const merged = noGrad(() =>
          scope(() => ({
            solved: state.solved.clone().indexPut_([rows], round.solved),
            image: state.image.clone().indexPut_([rows], round.image),
            gradient: state.gradient.clone().indexPut_([rows], round.gradient),
            c: state.c.clone().indexPut_([rows], where(round.solved, c, c.mul(o.constFactor))),
          })),
        );
        state = advance(state, merged);
        const moved = noGrad(() => w.clone().indexPut_([rows], variable.detach()));
        w.dispose();
        w = moved;
      } finally {
        optimizer.dispose();
        for (const t of [variable, c, rows, ...Object.values(round)]) t.dispose();
      }
    }
  } finally {
    w.dispose();
  }
  return { ...state, iterations };
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
