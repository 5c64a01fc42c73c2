// Box-constrained L-BFGS for a batch of independent problems: minimise
// fᵢ(xᵢ) subject to lower ≤ xᵢ ≤ upper, for every row i of a batch at once.
//
// Each row keeps its own curvature pairs (s, y) and runs the two-loop
// recursion (Nocedal & Wright, Algorithm 7.4) over its free variables: those
// at a bound whose gradient points out of the box are held (the active set
// of L-BFGS-B, Byrd, Lu, Nocedal & Zhu 1995). The step x ← P(x + t·d) is
// projected onto the box and t halves until the Armijo condition holds.
// This is the projected-gradient form of L-BFGS-B, without its generalised
// Cauchy point and subspace minimisation: no L-BFGS-B exists for TypeScript,
// and libtorch's LBFGS is unconstrained. Rows stop on their own when their
// projected gradient vanishes.
import { enableGrad, grad, noGrad } from '../tensor/autograd.js';
import { full, zeros } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export interface ProjectedLbfgsOptions {
  /** The box, the same for every variable. */
  lower: number;
  upper: number;
  /** Curvature pairs kept per row (m). */
  history?: number;
  maxIterations?: number;
  /** A row stops when its largest projected-gradient entry is below this. */
  tolerance?: number;
  /** Halvings of the step before a row gives up on an iteration. */
  maxHalvings?: number;
}

export interface ProjectedLbfgsResult {
  /** The minimisers [n, …]. */
  x: Tensor;
  /** fᵢ there, [n]. */
  value: Tensor;
  iterations: number;
}

// The Armijo condition's constant, and the curvature a pair needs to be kept.
const ARMIJO = 1e-4;
const CURVATURE = 1e-10;

/** The value [n] and gradient [n, …] of every row's objective at x. */
function evaluate(f: (x: Tensor) => Tensor, x: Tensor): { value: Tensor; gradient: Tensor } {
  return scope(() => {
    const input = x.detach().requiresGrad_(true);
    const value = enableGrad(() => f(input));
    if (value.ndim !== 1 || value.shape[0] !== x.shape[0]) throw new TypeError(`projectedLbfgs: the objective must return one value per row, [${x.shape[0]}], got ${value.describe()}`);
    const [g] = grad(enableGrad(() => value.sum()), input);
    return { value: value.detach(), gradient: g! };
  });
}

/**
 * Minimises the per-row objective `f` (x [n, …] → [n]) from `x0` inside the
 * box; see ProjectedLbfgsOptions. Rows must not interact in `f`.
 */
export function projectedLbfgs(f: (x: Tensor) => Tensor, x0: Tensor, options: ProjectedLbfgsOptions): ProjectedLbfgsResult {
  const { lower, upper } = options;
  const history = options.history ?? 10;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-5;
  const maxHalvings = options.maxHalvings ?? 20;
  if (!(lower < upper)) throw new RangeError(`projectedLbfgs: the box needs lower < upper, got [${lower}, ${upper}]`);
  if (!Number.isInteger(history) || history < 1) throw new RangeError(`projectedLbfgs: history must be an integer >= 1, got ${history}`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new RangeError(`projectedLbfgs: maxIterations must be an integer >= 1, got ${maxIterations}`);
  const n = x0.shape[0];
  const D = x0.numel() / n;
  let x = noGrad(() => scope(() => x0.detach().flatten(1).clamp(lower, upper)));
  const shaped = (flat: Tensor) => flat.view(x0.shape);
  let { value, gradient } = scope(() => {
    const e = evaluate((z) => f(z), shaped(x));
    return { value: e.value, gradient: e.gradient.flatten(1) };
  });
  // Ring buffers of the pairs; ρ = 0 marks an empty slot, which the recursion then skips.
  const pairs = { s: zeros([n, history, D]), y: zeros([n, history, D]), rho: zeros([n, history]) };
  let active = scope(() => full([n], 1).bool());
  let iterations = 0;
  try {
    for (let k = 0; k < maxIterations; k++) {
      const step = scope(() =>
        noGrad(() => {
          // Variables held at a bound: at the lower bound with g > 0, or at the upper with g < 0.
          const held = x.le(lower).logicalAnd(gradient.gt(0)).logicalOr(x.ge(upper).logicalAnd(gradient.lt(0)));
          const projected = where(held, 0, gradient);
          const moving = active.logicalAnd(projected.abs().amax(1).gt(tolerance));
          if (!moving.any().item()) return null;
          const direction = where(held, 0, twoLoop(projected, pairs, k, history)).neg();
          // Ascent directions (a broken curvature model) fall back to steepest descent.
          const slope = direction.mul(projected).sum(1);
          const d = where(slope.lt(0).view(-1, 1), direction, projected.neg());
          let t = full([n], 1);
          let accepted = moving.logicalNot();
          let candidate = x.clone();
          let trial = { value: value.clone(), gradient: gradient.clone() };
          for (let h = 0; h <= maxHalvings && !accepted.all().item(); h++) {
            const proposal = x.add(d.mul(t.view(-1, 1))).clamp(lower, upper);
            const e = evaluate(f, shaped(proposal));
            const g = e.gradient.flatten(1);
            const decrease = value.add(gradient.mul(proposal.sub(x)).sum(1).mul(ARMIJO));
            const ok = accepted.logicalNot().logicalAnd(e.value.le(decrease));
            candidate = where(ok.view(-1, 1), proposal, candidate);
            trial = { value: where(ok, e.value, trial.value), gradient: where(ok.view(-1, 1), g, trial.gradient) };
            accepted = accepted.logicalOr(ok);
            t = where(accepted, t, t.mul(0.5));
          }
          // Rows whose line search failed have converged as far as this method goes.
          const progressed = moving.logicalAnd(candidate.ne(x).any(1));
          const s = candidate.sub(x);
          const y = trial.gradient.sub(gradient);
          const sy = s.mul(y).sum(1);
          const keep = progressed.logicalAnd(sy.gt(CURVATURE));
          const slot = k % history;
          return { candidate, trial, keep, s, y, sy, progressed, moving, slot };
        }),
      );
      if (step === null) break;
      iterations++;
      noGrad(() => scope(() => {
        const { keep, slot } = step;
        const keepWide = keep.view(-1, 1);
        pairs.s.select(1, slot).copy_(where(keepWide, step.s, pairs.s.select(1, slot)));
        pairs.y.select(1, slot).copy_(where(keepWide, step.y, pairs.y.select(1, slot)));
        pairs.rho.select(1, slot).copy_(where(keep, step.sy.reciprocal(), pairs.rho.select(1, slot)));
      }));
      const nextActive = noGrad(() => scope(() => active.logicalAnd(step.progressed.logicalOr(step.moving.logicalNot()))));
      for (const t of [x, value, gradient, active, step.keep, step.s, step.y, step.sy, step.progressed, step.moving]) t.dispose();
      x = step.candidate;
      value = step.trial.value;
      gradient = step.trial.gradient;
      active = nextActive;
    }
  } finally {
    for (const t of [pairs.s, pairs.y, pairs.rho, gradient, active]) t.dispose();
  }
  const result = noGrad(() => scope(() => shaped(x).clone()));
  x.dispose();
  return { x: result, value, iterations };
}

/** H·q by the two-loop recursion over each row's stored pairs (newest first), with H₀ = γI from the newest pair. */
function twoLoop(q: Tensor, pairs: { s: Tensor; y: Tensor; rho: Tensor }, k: number, history: number): Tensor {
  const slots = Array.from({ length: Math.min(k, history) }, (_, i) => (k - 1 - i + history * 2) % history);
  let r = q;
  const alphas: Tensor[] = [];
  for (const slot of slots) {
    const rho = pairs.rho.select(1, slot);
    const alpha = rho.mul(pairs.s.select(1, slot).mul(r).sum(1));
    alphas.push(alpha);
    r = r.sub(pairs.y.select(1, slot).mul(alpha.view(-1, 1)));
  }
  if (slots.length > 0) {
    const newest = slots[0];
    const y = pairs.y.select(1, newest);
    const yy = y.square().sum(1);
    const rho = pairs.rho.select(1, newest);
    // γ = sᵀy / yᵀy = 1 / (ρ·yᵀy); 1 where the newest slot is empty.
    const gamma = where(rho.gt(0), rho.mul(yy).reciprocal(), 1);
    r = r.mul(gamma.view(-1, 1));
  }
  slots
    .slice()
    .reverse()
    .forEach((slot, i) => {
      const alpha = alphas[slots.length - 1 - i];
      const rho = pairs.rho.select(1, slot);
      const beta = rho.mul(pairs.y.select(1, slot).mul(r).sum(1));
      r = r.add(pairs.s.select(1, slot).mul(alpha.sub(beta).view(-1, 1)));
    });
  return r;
}
