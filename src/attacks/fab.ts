// FAB: Croce & Hein, "Minimally distorted adversarial examples with a fast
// adaptive boundary attack" (ICML 2020), as AutoAttack's code (fab_base.py)
// runs it. Each step linearises the model at the current point, picks the
// class boundary that is closest under that linearisation, and projects both
// the current point and the clean input onto that hyperplane inside the box;
// it moves to a mix of the two (biased towards the clean input by α ≤ α_max,
// overshooting by η), and whenever it is adversarial it records the point if
// it is the closest so far and steps back towards the clean input by β.
// FAB-T, the targeted version in AutoAttack, linearises only the boundary
// between the true class and one target, and tries the classes the model
// ranks highest after the true one in turn.
import { enableGrad, grad, noGrad } from '../tensor/autograd.js';
import { full, rand, randn } from '../tensor/creation.js';
import { oneHot, pad, stack, where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { advance, Attack, bestOfRuns, exampleNorm, perExample, targetRanking, type AttackCore, type AttackOptions, type Norm, type Run } from './attack.js';

export interface FABOptions extends AttackOptions {
  norm?: Norm;
  /** Results farther than ε count as failures; also the radius (halved) of random restarts. Default 0.3 (L∞) or 1 (L2), as the reference. */
  eps?: number;
  /** Iterations per run (the reference: 100). */
  steps?: number;
  /** Runs; the first starts at the clean input, later ones at random points within ε/2. */
  restarts?: number;
  /** α_max, the largest weight of the clean input's projection in each step. */
  alphaMax?: number;
  /** η, the overshoot of each projection. */
  eta?: number;
  /** β, the factor of the backward step towards the clean input after each adversarial iterate. */
  beta?: number;
}

export interface FABTOptions extends FABOptions {
  /** How many of the classes ranked highest after the true one are tried as targets (the reference: 9). */
  targetClasses?: number;
}

// A distance that means "none found yet", and the reference's floors.
const FAR = 1e10;
const TINY = 1e-12;
const MIN_STEP = 1e-8;

/**
 * The smallest change δ (in L∞ or L2) that moves each row t of `points` onto
 * the hyperplane w·z = b while keeping t + δ inside [lo, hi]. Where the box
 * does not allow reaching the hyperplane, δ moves as far towards it as the
 * box allows. points, w [B, D], b [B] → δ [B, D].
 *
 * Each coordinate moves towards the hyperplane until it reaches the box; for
 * L∞ every unsaturated coordinate moves by the same λ, for L2 coordinate i by
 * λ·|wᵢ|. The progress towards the hyperplane is piecewise linear and
 * increasing in λ with breakpoints where coordinates saturate, so the solution
 * is found on the sorted breakpoints in one pass.
 */
export function projectOntoHyperplane(points: Tensor, w: Tensor, b: Tensor, norm: Norm, box: [number, number] = [0, 1]): Tensor {
  return noGrad(() =>
    scope(() => {
      const [lo, hi] = box;
      const gap = b.sub(w.mul(points).sum(1)); // the change of w·z needed, [B]
      const direction = w.sign().mul(gap.sign().add(gap.eq(0).float()).unsqueeze(1)); // where each coordinate moves, ±1 or 0
      const room = where(direction.gt(0), points.neg().add(hi), points.sub(lo)).mul(direction.ne(0).float()); // how far it can move, ≥ 0
      const a = w.abs();
      // λ at which each coordinate saturates, and its rate of progress until then.
      const [breaks, rate] = norm === 'linf' ? [room, a] : [room.div(a.clamp(TINY, null)).mul(a.gt(0).float()).add(a.eq(0).float().mul(FAR)), a.square()];
      const { values: sorted, indices } = breaks.sort({ dim: 1 });
      const rates = rate.gather(1, indices);
      const saturatedProgress = rates.mul(sorted).cumsum(1); // Σ over saturated coordinates
      // Σ of the rates after each breakpoint, as suffix sums: exactly zero past the last non-zero rate.
      const remainingRate = pad(rates.flip(1).cumsum(1).flip(1).narrow(1, 1, rates.shape[1] - 1), [0, 1]);
      const progress = saturatedProgress.add(sorted.mul(remainingRate)); // at each breakpoint
      const needed = gap.abs().unsqueeze(1);
      const before = progress.lt(needed).sum(1, { keepdim: true }); // breakpoints passed before the solution
      const reachable = before.lt(breaks.shape[1]);
      const last = before.sub(1).clamp(0, null);
      const passed = before.gt(0).float();
      const doneProgress = saturatedProgress.gather(1, last).mul(passed);
      const leftRate = where(passed.gt(0), remainingRate.gather(1, last), rate.sum(1, { keepdim: true }));
      const lambda = needed.sub(doneProgress).div(leftRate.clamp(TINY, null));
      const scaled = norm === 'linf' ? lambda.expand(room.shape) : lambda.mul(a);
      const move = where(reachable, scaled.minimum(room), room);
      return move.mul(direction).mul(a.gt(0).float());
    }),
  );
}

/** FAB (Croce & Hein 2020), untargeted: every class boundary linearised per step. Defaults as the reference: L∞, ε 0.3, 100 steps, 1 restart, α_max 0.1, η 1.05, β 0.9, box [0, 1]. */
export class FAB extends Attack {
  readonly norm: Norm;
  readonly eps: number;
  readonly steps: number;
  readonly restarts: number;
  readonly alphaMax: number;
  readonly eta: number;
  readonly beta: number;

  constructor(options: FABOptions = {}, name = 'FAB') {
    super(name, options);
    this.norm = options.norm ?? 'linf';
    if (this.norm !== 'linf' && this.norm !== 'l2') throw new TypeError(`${name}: norm must be 'linf' or 'l2', got '${String(options.norm)}'`);
    this.eps = options.eps ?? (this.norm === 'linf' ? 0.3 : 1);
    if (!(this.eps > 0) || !Number.isFinite(this.eps)) throw new RangeError(`${name}: eps must be a finite number > 0, got ${options.eps}`);
    this.steps = options.steps ?? 100;
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new RangeError(`${name}: steps must be an integer >= 1, got ${options.steps}`);
    this.restarts = options.restarts ?? 1;
    if (!Number.isInteger(this.restarts) || this.restarts < 1) throw new RangeError(`${name}: restarts must be an integer >= 1, got ${options.restarts}`);
    this.alphaMax = options.alphaMax ?? 0.1;
    if (!(this.alphaMax >= 0 && this.alphaMax <= 1)) throw new RangeError(`${name}: alphaMax must be in [0, 1], got ${options.alphaMax}`);
    this.eta = options.eta ?? 1.05;
    if (!(this.eta >= 1) || !Number.isFinite(this.eta)) throw new RangeError(`${name}: eta must be a finite number >= 1, got ${options.eta}`);
    this.beta = options.beta ?? 0.9;
    if (!(this.beta > 0 && this.beta <= 1)) throw new RangeError(`${name}: beta must be in (0, 1], got ${options.beta}`);
  }

  protected bound(): { norm: Norm; eps: number } {
    return { norm: this.norm, eps: this.eps };
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean, labels: Tensor): AttackCore {
    const best = bestOfRuns(
      x,
      (idx, r) => {
        const pick = (t: Tensor) => (idx === null ? t : t.indexSelect(0, idx));
        return this.runOnce(model, pick(x), pick(labels), targeted ? pick(goal) : null, r > 0);
      },
      this.restarts,
    );
    return this.finish(best);
  }

  /** The attack's result from its runs: the closest adversarial point within ε, or the clean input. */
  protected finish(best: Run & { runs: number }): AttackCore {
    return { adversarial: best.x, iterations: best.runs * this.steps };
  }

  /**
   * One run from the clean input (or a random point within ε/2). Returns per
   * example the closest adversarial point found within ε, else the clean
   * input; success; and minus the distance as the score.
   */
  protected runOnce(model: (x: Tensor) => Tensor, x0: Tensor, y: Tensor, target: Tensor | null, randomStart: boolean): Run {
    const n = x0.shape[0];
    const [lo, hi] = this.box;
    const flat0 = x0.flatten(1);
    let s = noGrad(() => {
      let x1 = x0.clone();
      if (randomStart) {
        const t = this.norm === 'linf' ? rand(x0.shape).mul(2).sub(1) : randn(x0.shape);
        x1 = x0.add(t.div(perExample(exampleNorm(t, this.norm), x0.ndim)).mul(this.eps * 0.5)).clamp(lo, hi);
      }
      return { x1, adv: x0.clone(), distance: full([n], FAR) };
    });
    for (let it = 0; it < this.steps; it++) {
      const next = scope(() => {
        const { f, g } = this.boundary(model, s.x1, y, target);
        return noGrad(() => {
          const w = g.flatten(1);
          const b = w.mul(s.x1.flatten(1)).sum(1).sub(f);
          const d1 = projectOntoHyperplane(s.x1.flatten(1), w, b, this.norm, this.box);
          const d2 = projectOntoHyperplane(flat0, w, b, this.norm, this.box);
          const a1 = exampleNorm(d1, this.norm).clamp(MIN_STEP, null);
          const a2 = exampleNorm(d2, this.norm).clamp(MIN_STEP, null);
          const alpha = a1.div(a1.add(a2)).clamp(0, this.alphaMax).unsqueeze(1);
          const moved = s.x1
            .flatten(1)
            .add(d1.mul(this.eta))
            .mul(alpha.neg().add(1))
            .add(flat0.add(d2.mul(this.eta)).mul(alpha))
            .clamp(lo, hi)
            .view(x0.shape);
          const adversarial = model(moved).argmax(1).ne(y);
          const distance = exampleNorm(moved.sub(x0), this.norm);
          const closer = adversarial.logicalAnd(distance.lt(s.distance));
          const rows = (m: Tensor) => perExample(m, x0.ndim);
          return {
            x1: where(rows(adversarial), x0.add(moved.sub(x0).mul(this.beta)), moved),
            adv: where(rows(closer), moved, s.adv),
            distance: where(closer, distance, s.distance),
          };
        });
      });
      s = advance(s, next);
    }
    return noGrad(() => {
      const success = s.distance.le(this.eps);
      const out = { x: where(perExample(success, x0.ndim), s.adv, x0), success, score: s.distance.neg() };
      for (const t of Object.values(s)) t.dispose();
      return out;
    });
  }

  /**
   * The boundary to cross at x under linearisation: f = z_j − z_y and its
   * gradient g for the class j whose linearised boundary is closest (or for
   * the target), [N] and [N, …].
   */
  private boundary(model: (x: Tensor) => Tensor, x: Tensor, y: Tensor, target: Tensor | null): { f: Tensor; g: Tensor } {
    return scope(() => {
      const xr = x.detach().requiresGrad_(true);
      const logits = enableGrad(() => model(xr));
      if (target !== null) {
        const diff = enableGrad(() => logits.gather(1, target.unsqueeze(1)).sub(logits.gather(1, y.unsqueeze(1))).squeeze(1));
        const [g] = grad(enableGrad(() => diff.sum()), xr);
        return { f: diff.detach(), g: g! };
      }
      // The Jacobian, one backward pass per class.
      const classes = logits.shape[1];
      const rows: Tensor[] = [];
      for (let c = 0; c < classes; c++) {
        const pick = noGrad(() => oneHot(full([x.shape[0]], c, { dtype: 'int64' }), classes).float());
        rows.push(grad(logits, xr, { gradOutputs: [pick], retainGraph: c < classes - 1 })[0]!.flatten(1));
      }
      return noGrad(() => {
        const z = logits.detach();
        const jacobian = stack(rows, 1); // [N, C, D]
        const df = z.sub(z.gather(1, y.unsqueeze(1))); // z_j − z_y, [N, C]
        const dg = jacobian.sub(jacobian.gather(1, y.view(-1, 1, 1).expand(x.shape[0], 1, jacobian.shape[2])));
        const dual = this.norm === 'linf' ? dg.abs().sum(2) : dg.square().sum(2).sqrt();
        // The linearised distance to each boundary; the true class has none.
        const dist = df.abs().div(dual.add(TINY)).scatter(1, y.unsqueeze(1), Infinity);
        const j = dist.argmin(1, { keepdim: true });
        return { f: df.gather(1, j).squeeze(1), g: dg.gather(1, j.unsqueeze(2).expand(x.shape[0], 1, dg.shape[2])).squeeze(1).view(x.shape) };
      });
    });
  }
}

/**
 * FAB-T (Croce & Hein 2020), AutoAttack's targeted FAB: the boundary between
 * the true class and one target at a time, for the classes the model ranks
 * 2nd, 3rd, … on the clean input, each tried only on the examples still
 * unbroken. An example counts as broken once it is misclassified within ε.
 */
export class FABT extends FAB {
  readonly targetClasses: number;

  constructor(options: FABTOptions = {}) {
    super(options, 'FAB-T');
    this.targetClasses = options.targetClasses ?? 9;
    if (!Number.isInteger(this.targetClasses) || this.targetClasses < 1)
      throw new RangeError(`FAB-T: targetClasses must be an integer >= 1, got ${options.targetClasses}`);
  }

  protected override perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean, labels: Tensor): AttackCore {
    if (targeted) return super.perturb(model, x, goal, targeted, labels);
    const ranking = targetRanking(this.name, model, x, this.targetClasses, { classes: 2, what: 'a target other than the true class' });
    const best = bestOfRuns(
      x,
      (idx, attempt) => {
        const rank = 1 + Math.floor(attempt / this.restarts);
        const pick = (t: Tensor) => (idx === null ? t : t.indexSelect(0, idx));
        return this.runOnce(model, pick(x), pick(labels), pick(ranking.select(1, rank)), attempt % this.restarts > 0);
      },
      this.targetClasses * this.restarts,
    );
    ranking.dispose();
    return this.finish(best);
  }
}
