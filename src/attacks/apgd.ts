// APGD: Croce & Hein, "Reliable evaluation of adversarial robustness with an
// ensemble of diverse parameter-free attacks" (ICML 2020), as their code
// (fra31/auto-attack, autopgd_base.py) runs it. PGD without a step size to
// tune: the step starts at 2ε and is halved at checkpoints where the loss has
// stalled, each step mixes in momentum (0.75) from the last move, and every
// example keeps the highest-loss point it has seen. Losses: cross-entropy, or
// the difference of logits ratio (DLR), which is invariant to shifting and
// scaling the logits and so is not fooled by a saturated softmax. APGDT is
// AutoAttack's APGD-T: the targeted DLR loss aimed in turn at each of the
// classes the model ranks highest after the true one.
import { enableGrad, grad, noGrad } from '../tensor/autograd.js';
import { ones, rand, randn } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import { advance, Attack, bestOfRuns, exampleNorm, perExample, reached, targetRanking, type AttackCore, type AttackOptions, type Norm, type Run } from './attack.js';

export type APGDLoss = 'ce' | 'dlr';

export interface APGDOptions extends AttackOptions {
  norm?: Norm;
  /** The budget: ‖x' − x‖ ≤ ε in the chosen norm. */
  eps?: number;
  /** Iterations per run (the reference: 100). */
  steps?: number;
  /** Runs from independent random starts; later runs attack only the examples still unbroken. */
  restarts?: number;
  /** 'ce' (cross-entropy) or 'dlr' (difference of logits ratio). */
  loss?: APGDLoss;
  /** ρ: a step is halved when at most this fraction of the steps since the last checkpoint raised the loss. */
  rho?: number;
  /** Gradients averaged per step (expectation over transformation, for randomised models). */
  eotIter?: number;
}

// The reference divides by these to keep normalisations finite.
const TINY = 1e-12;

/**
 * The DLR loss, per example: −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12),
 * with z_π1 ≥ z_π2 ≥ … the sorted logits. logits [N, C ≥ 3], y int64 [N] → [N].
 */
export function dlrLoss(logits: Tensor, y: Tensor): Tensor {
  return scope(() => {
    const c = logits.shape[1];
    const { values: sorted, indices } = logits.sort({ dim: 1 });
    const zy = logits.gather(1, y.unsqueeze(1)).squeeze(1);
    const [first, second, third] = [1, 2, 3].map((k) => sorted.select(1, c - k));
    const bestOther = where(indices.select(1, c - 1).eq(y), second, first);
    return zy.sub(bestOther).div(first.sub(third).add(TINY)).neg();
  });
}

/**
 * The targeted DLR loss of APGD-T, per example:
 * −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12). logits [N, C ≥ 4] → [N].
 */
export function targetedDlrLoss(logits: Tensor, y: Tensor, target: Tensor): Tensor {
  return scope(() => {
    const c = logits.shape[1];
    const sorted = logits.sort({ dim: 1 }).values;
    const zy = logits.gather(1, y.unsqueeze(1)).squeeze(1);
    const zt = logits.gather(1, target.unsqueeze(1)).squeeze(1);
    const scale = sorted.select(1, c - 1).sub(sorted.select(1, c - 3).add(sorted.select(1, c - 4)).mul(0.5)).add(TINY);
    return zy.sub(zt).div(scale).neg();
  });
}

/**
 * The iterations after which APGD checks its step size, for a run of `steps`:
 * the paper's w_j = ⌈p_j·N⌉ with p_0 = 0, p_1 = 0.22 and
 * p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), in the reference's integer
 * form. For 100 steps: 22, 41, 57, 70, 80, 87, 93, 99.
 */
export function apgdCheckpoints(steps: number): number[] {
  const first = Math.max(Math.floor(0.22 * steps), 1);
  const shrink = Math.max(Math.floor(0.03 * steps), 1);
  const least = Math.max(Math.floor(0.06 * steps), 1);
  const points: number[] = [];
  for (let at = first, gap = first; at <= steps; gap = Math.max(gap - shrink, least), at += gap) points.push(at);
  return points;
}

type LossOf = (logits: Tensor) => Tensor;

/** What one run carries from step to step, per example. */
interface RunState {
  xAdv: Tensor;
  /** The iterate before xAdv, for the momentum term. */
  xOld: Tensor;
  grad: Tensor;
  /** The highest-loss point so far, its gradient and loss. */
  xBest: Tensor;
  gradBest: Tensor;
  lossBest: Tensor;
  /** The latest point that reached the goal, and whether any did. */
  xBestAdv: Tensor;
  success: Tensor;
  /** Step sizes, [N]. */
  step: Tensor;
  /** The best loss and whether the step was halved at the last checkpoint. */
  lossBestLastCheck: Tensor;
  reducedLastCheck: Tensor;
}

/** APGD (Croce & Hein 2020). Defaults: L∞, ε = 0.3, 100 steps, 1 restart, cross-entropy, ρ = 0.75, box [0, 1]. */
export class APGD extends Attack {
  readonly norm: Norm;
  readonly eps: number;
  readonly steps: number;
  readonly restarts: number;
  readonly loss: APGDLoss;
  readonly rho: number;
  readonly eotIter: number;

  constructor(options: APGDOptions = {}, name = 'APGD') {
    super(name, options);
    this.norm = options.norm ?? 'linf';
    if (this.norm !== 'linf' && this.norm !== 'l2') throw new TypeError(`${name}: norm must be 'linf' or 'l2', got '${String(options.norm)}'`);
    this.eps = options.eps ?? 0.3;
    if (!(this.eps > 0) || !Number.isFinite(this.eps)) throw new RangeError(`${name}: eps must be a finite number > 0, got ${options.eps}`);
    this.steps = options.steps ?? 100;
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new RangeError(`${name}: steps must be an integer >= 1, got ${options.steps}`);
    this.restarts = options.restarts ?? 1;
    if (!Number.isInteger(this.restarts) || this.restarts < 1) throw new RangeError(`${name}: restarts must be an integer >= 1, got ${options.restarts}`);
    this.loss = options.loss ?? 'ce';
    if (this.loss !== 'ce' && this.loss !== 'dlr') throw new TypeError(`${name}: loss must be 'ce' or 'dlr', got '${String(options.loss)}'`);
    this.rho = options.rho ?? 0.75;
    if (!(this.rho > 0 && this.rho <= 1)) throw new RangeError(`${name}: rho must be in (0, 1], got ${options.rho}`);
    this.eotIter = options.eotIter ?? 1;
    if (!Number.isInteger(this.eotIter) || this.eotIter < 1) throw new RangeError(`${name}: eotIter must be an integer >= 1, got ${options.eotIter}`);
  }

  protected bound(): { norm: Norm; eps: number } {
    return { norm: this.norm, eps: this.eps };
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean, labels: Tensor): AttackCore {
    const classes = noGrad(() => scope(() => model(x.narrow(0, 0, 1)).shape[1]));
    if (this.loss === 'dlr' && classes < (targeted ? 4 : 3))
      throw new RangeError(`${this.name}: the ${targeted ? 'targeted ' : ''}DLR loss needs at least ${targeted ? 4 : 3} classes, the model has ${classes}`);
    const lossOf = (y: Tensor, t: Tensor): LossOf => {
      if (this.loss === 'ce') return targeted ? (z) => F.crossEntropy(z, t, { reduction: 'none' }).neg() : (z) => F.crossEntropy(z, y, { reduction: 'none' });
      return targeted ? (z) => targetedDlrLoss(z, y, t) : (z) => dlrLoss(z, y);
    };
    const best = bestOfRuns(
      x,
      (idx) => {
        const pick = (t: Tensor) => (idx === null ? t : t.indexSelect(0, idx));
        const [xs, ys, gs] = [pick(x), pick(labels), pick(goal)];
        return this.runOnce(model, xs, lossOf(ys, gs), (z) => reached(z, gs, targeted));
      },
      this.restarts,
    );
    return { adversarial: best.x, success: best.success, loss: best.score, iterations: best.runs * this.steps };
  }

  /**
   * One run of `steps` iterations from a random point on the ε-sphere (or
   * from `start`, as the reference's x_init). Returns
   * per example the last point that reached the goal (if any) or else the
   * highest-loss point, whether the goal was reached, and the best loss.
   */
  protected runOnce(model: (x: Tensor) => Tensor, x: Tensor, lossOf: LossOf, hit: (logits: Tensor) => Tensor, start?: Tensor): Run {
    const n = x.shape[0];
    const [lo, hi] = this.box;
    const lower = this.norm === 'linf' ? noGrad(() => x.sub(this.eps).clamp(lo, null)) : null;
    const upper = this.norm === 'linf' ? noGrad(() => x.add(this.eps).clamp(null, hi)) : null;
    const project = (v: Tensor): Tensor =>
      scope(() => {
        if (this.norm === 'linf') return v.clamp(lower!, upper!);
        const d = v.sub(x);
        const norms = exampleNorm(d, 'l2');
        return x.add(d.div(perExample(norms.add(TINY), x.ndim)).mul(perExample(norms.clamp(null, this.eps), x.ndim))).clamp(lo, hi);
      });
    const first = noGrad(() =>
      scope(() => {
        if (start !== undefined) return start.clone();
        const t = this.norm === 'linf' ? rand(x.shape).mul(2).sub(1) : randn(x.shape);
        return x.add(t.div(perExample(exampleNorm(t, this.norm).add(TINY), x.ndim)).mul(this.eps)).clamp(lo, hi);
      }),
    );
    const at0 = this.gradientAt(model, first, lossOf);
    let s: RunState = noGrad(() => ({
      xAdv: first,
      xOld: first.clone(),
      grad: at0.grad,
      xBest: first.clone(),
      gradBest: at0.grad.clone(),
      lossBest: at0.loss,
      xBestAdv: first.clone(),
      success: hit(at0.logits),
      step: ones([n]).mul(2 * this.eps),
      lossBestLastCheck: at0.loss.clone(),
      reducedLastCheck: ones([n], { dtype: 'bool' }),
    }));
    at0.logits.dispose();
    // losses[i] is the loss at the i-th iterate; losses[0] at the start.
    const losses: Tensor[] = [at0.loss.clone()];
    const checkpoints = new Set(apgdCheckpoints(this.steps));
    let sinceCheck = 0;
    for (let i = 0; i < this.steps; i++) {
      const moved = noGrad(() =>
        scope(() => {
          const a = i > 0 ? 0.75 : 1;
          const direction = this.norm === 'linf' ? s.grad.sign() : s.grad.div(perExample(exampleNorm(s.grad, 'l2').add(TINY), x.ndim));
          const z = project(s.xAdv.add(direction.mul(perExample(s.step, x.ndim))));
          return project(s.xAdv.add(z.sub(s.xAdv).mul(a)).add(s.xAdv.sub(s.xOld).mul(1 - a)));
        }),
      );
      const at = this.gradientAt(model, moved, lossOf);
      losses.push(at.loss.clone());
      sinceCheck++;
      const next = noGrad(() =>
        scope((): RunState => {
          const reachedNow = hit(at.logits);
          const improved = at.loss.gt(s.lossBest);
          const rows = (m: Tensor) => perExample(m, x.ndim);
          const state: RunState = {
            ...s,
            xOld: s.xAdv,
            xAdv: moved,
            grad: at.grad,
            xBestAdv: where(rows(reachedNow), moved, s.xBestAdv),
            success: s.success.logicalOr(reachedNow),
            xBest: where(rows(improved), moved, s.xBest),
            gradBest: where(rows(improved), at.grad, s.gradBest),
            lossBest: where(improved, at.loss, s.lossBest),
          };
          if (!checkpoints.has(i + 1)) return state;
          // Halve the step where the loss rose in at most ρ of the steps since
          // the last checkpoint, or where the best loss has not moved since it
          // and the step was not halved there; restart those from their best point.
          let rises = losses[i + 1].gt(losses[i]).float();
          for (let j = i - sinceCheck + 1; j < i; j++) rises = rises.add(losses[j + 1].gt(losses[j]).float());
          const oscillating = rises.le(sinceCheck * this.rho);
          const stalled = s.reducedLastCheck.logicalNot().logicalAnd(s.lossBestLastCheck.ge(state.lossBest));
          const reduce = oscillating.logicalOr(stalled);
          return {
            ...state,
            step: where(reduce, state.step.mul(0.5), state.step),
            xAdv: where(rows(reduce), state.xBest, state.xAdv),
            grad: where(rows(reduce), state.gradBest, state.grad),
            reducedLastCheck: reduce,
            lossBestLastCheck: state.lossBest.clone(),
          };
        }),
      );
      if (checkpoints.has(i + 1)) sinceCheck = 0;
      at.logits.dispose();
      for (const t of [at.loss, at.grad, moved]) if (!Object.values(next).includes(t)) t.dispose();
      s = advance(s, next);
    }
    for (const t of losses) t.dispose();
    const out = noGrad(() => ({ x: where(perExample(s.success, x.ndim), s.xBestAdv, s.xBest), success: s.success.clone(), score: s.lossBest.clone() }));
    for (const t of Object.values(s)) t.dispose();
    lower?.dispose();
    upper?.dispose();
    return out;
  }

  /** ∇ₓ of the loss (averaged over eotIter forward passes), with the loss and logits of the last pass. */
  private gradientAt(model: (x: Tensor) => Tensor, x: Tensor, lossOf: LossOf): { grad: Tensor; loss: Tensor; logits: Tensor } {
    return scope(() => {
      let total: Tensor | null = null;
      let last: { loss: Tensor; logits: Tensor } | null = null;
      for (let e = 0; e < this.eotIter; e++) {
        const xr = x.detach().requiresGrad_(true);
        const logits = enableGrad(() => model(xr));
        const loss = enableGrad(() => lossOf(logits));
        const [g] = grad(enableGrad(() => loss.sum()), xr);
        total = total === null ? g! : total.add(g!);
        last = { loss: loss.detach(), logits: logits.detach() };
      }
      return { grad: this.eotIter === 1 ? total! : total!.div(this.eotIter), loss: last!.loss, logits: last!.logits };
    });
  }
}

export interface APGDTOptions extends Omit<APGDOptions, 'loss'> {
  /** How many of the classes ranked highest after the true one are tried as targets (the reference: 9). */
  targetClasses?: number;
}

/**
 * APGD-T (Croce & Hein 2020): APGD on the targeted DLR loss, aimed in turn at
 * the 2nd, 3rd, … highest-scoring classes of the clean input, each target run
 * only on the examples still unbroken. Untargeted in effect: an example counts
 * as broken once the model misclassifies it. With explicit targets it runs
 * the targeted DLR loss towards those.
 */
export class APGDT extends APGD {
  readonly targetClasses: number;

  constructor(options: APGDTOptions = {}) {
    super({ ...options, loss: 'dlr' }, 'APGD-T');
    this.targetClasses = options.targetClasses ?? 9;
    if (!Number.isInteger(this.targetClasses) || this.targetClasses < 1)
      throw new RangeError(`APGD-T: targetClasses must be an integer >= 1, got ${options.targetClasses}`);
  }

  protected override perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean, labels: Tensor): AttackCore {
    if (targeted) return super.perturb(model, x, goal, targeted, labels);
    const ranking = targetRanking(this.name, model, x, this.targetClasses, { classes: 4, what: 'the targeted DLR loss' });
    const best = bestOfRuns(
      x,
      (idx, attempt) => {
        const rank = 1 + Math.floor(attempt / this.restarts);
        const pick = (t: Tensor) => (idx === null ? t : t.indexSelect(0, idx));
        const [xs, ys] = [pick(x), pick(labels)];
        const target = pick(ranking.select(1, rank));
        return this.runOnce(model, xs, (z) => targetedDlrLoss(z, ys, target), (z) => reached(z, ys, false));
      },
      this.targetClasses * this.restarts,
    );
    ranking.dispose();
    return { adversarial: best.x, success: best.success, loss: best.score, iterations: best.runs * this.steps };
  }
}
