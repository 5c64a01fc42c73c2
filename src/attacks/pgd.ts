// PGD: Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models
// Resistant to Adversarial Attacks" (ICLR 2018). Projected gradient ascent on
// the loss from a random start in the ε-ball: each step moves along the sign
// of the gradient (L∞) or the per-example normalised gradient (L2), projects
// back onto the ball, then clips to the box. Restarts keep, per example, the
// worst case found; a success from any restart counts.
import { noGrad } from '../tensor/autograd.js';
import { full, rand, randn, zeros } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { stack, where } from '../tensor/ops.js';
import { Attack, attackLoss, inputGradient, reached, type AttackCore, type AttackOptions, type Norm } from './attack.js';

export interface PGDOptions extends AttackOptions {
  norm?: Norm;
  /** The budget: ‖x' − x‖ ≤ ε in the chosen norm. */
  eps?: number;
  /** α, the length of each step. */
  stepSize?: number;
  steps?: number;
  /** Start uniformly in the ε-ball (Madry et al.) rather than at x. */
  randomStart?: boolean;
  /** Independent runs; each example keeps its worst case. */
  restarts?: number;
  /** Stop moving examples that already reach the goal. */
  earlyStop?: boolean;
  /** Keep every example's loss at every step (for the paper's loss-concentration figure). */
  recordLoss?: boolean;
}

/** Madry et al.'s MNIST attack: ε = 0.3, 40 steps of 0.01, random start. */
export const PGD_MNIST: PGDOptions = { norm: 'linf', eps: 0.3, stepSize: 0.01, steps: 40, randomStart: true };
/** Madry et al.'s CIFAR-10 attack: ε = 8/255, 7 steps of 2/255, random start. */
export const PGD_CIFAR10: PGDOptions = { norm: 'linf', eps: 8 / 255, stepSize: 2 / 255, steps: 7, randomStart: true };

// Keeps the L2 step finite where the gradient vanishes.
const GRAD_NORM_FLOOR = 1e-12;

export class PGD extends Attack {
  readonly norm: Norm;
  readonly eps: number;
  readonly stepSize: number;
  readonly steps: number;
  readonly randomStart: boolean;
  readonly restarts: number;
  readonly earlyStop: boolean;
  readonly recordLoss: boolean;

  /** Defaults: PGD_MNIST (Madry et al.'s MNIST setting). */
  constructor(options: PGDOptions = {}, name = 'PGD') {
    super(name, options);
    const o = { ...PGD_MNIST, ...options };
    this.norm = o.norm!;
    if (this.norm !== 'linf' && this.norm !== 'l2') throw new TypeError(`${name}: norm must be 'linf' or 'l2', got '${String(o.norm)}'`);
    this.eps = o.eps!;
    if (!(this.eps >= 0) || !Number.isFinite(this.eps)) throw new RangeError(`${name}: eps must be a finite number >= 0, got ${o.eps}`);
    this.stepSize = o.stepSize!;
    if (!(this.stepSize > 0) || !Number.isFinite(this.stepSize)) throw new RangeError(`${name}: stepSize must be a finite number > 0, got ${o.stepSize}`);
    this.steps = o.steps!;
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new RangeError(`${name}: steps must be an integer >= 1, got ${o.steps}`);
    this.restarts = o.restarts ?? 1;
    if (!Number.isInteger(this.restarts) || this.restarts < 1) throw new RangeError(`${name}: restarts must be an integer >= 1, got ${o.restarts}`);
    this.randomStart = o.randomStart ?? true;
    this.earlyStop = o.earlyStop ?? false;
    this.recordLoss = o.recordLoss ?? false;
  }

  protected bound(): { norm: Norm; eps: number } {
    return { norm: this.norm, eps: this.eps };
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    const n = x.shape[0];
    const [lo, hi] = this.box;
    // For L∞ the ball and the box intersect in a box, so one clamp projects onto both.
    const lower = this.norm === 'linf' ? x.sub(this.eps).clamp(lo, null) : null;
    const upper = this.norm === 'linf' ? x.add(this.eps).clamp(null, hi) : null;
    const best = x.clone();
    const bestLoss = full([n], -Infinity);
    const bestSuccess = zeros([n], { dtype: 'bool' });
    const histories: Tensor[] = [];
    let iterations = 0;
    for (let r = 0; r < this.restarts; r++) {
      const finished = scope(() => {
        // Later restarts attack only the examples no restart has broken yet,
        // unless every example's full loss history is wanted.
        const idx = r === 0 || this.recordLoss ? null : bestSuccess.logicalNot().nonzero().flatten();
        if (idx !== null && idx.shape[0] === 0) return true;
        const pick = (t: Tensor) => (idx === null ? t : t.indexSelect(0, idx));
        const run = this.runOnce(model, pick(x), pick(goal), targeted, lower && pick(lower), upper && pick(upper));
        iterations += this.steps;
        if (run.history) histories.push(run.history.keep());
        noGrad(() => {
          const [oldX, oldLoss, oldSuccess] = [pick(best), pick(bestLoss), pick(bestSuccess)];
          // Success beats failure; between equals, the higher loss wins.
          const better = run.success.logicalAnd(oldSuccess.logicalNot()).logicalOr(run.success.eq(oldSuccess).logicalAnd(run.loss.gt(oldLoss)));
          const rows = better.view(better.shape[0], ...Array<number>(x.ndim - 1).fill(1));
          const updates: [Tensor, Tensor][] = [
            [best, where(rows, run.xr, oldX)],
            [bestLoss, where(better, run.loss, oldLoss)],
            [bestSuccess, run.success.logicalOr(oldSuccess)],
          ];
          for (const [target, value] of updates) {
            if (idx === null) target.copy_(value);
            else target.indexPut_([idx], value);
          }
        });
        return false;
      });
      if (finished) break;
    }
    const lossHistory = this.recordLoss ? stack(histories) : undefined;
    for (const h of histories) h.dispose();
    return { adversarial: best, iterations, lossHistory, loss: bestLoss, success: bestSuccess };
  }

  /**
   * One run of `steps` steps from a (random) start; the loss history when
   * recordLoss. With early stopping, examples that reach the goal leave the
   * working batch, so later steps cost only what is still unbroken.
   */
  private runOnce(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean, lower: Tensor | null, upper: Tensor | null): { xr: Tensor; loss: Tensor; success: Tensor; history?: Tensor } {
    const prune = this.earlyStop && !this.recordLoss;
    let xr = this.randomStart ? randomStartInBall(x, this.norm, this.eps, this.box) : x.clone();
    // The points of examples that left the batch, and where the working examples belong.
    const finished = prune ? xr.clone() : null;
    let active: Tensor | null = null;
    let work = { x, goal, lower, upper };
    const losses: Tensor[] = [];
    for (let k = 0; k < this.steps && xr.shape[0] > 0; k++) {
      const { next, loss, hit } = scope(() => {
        const { grad, loss, logits } = inputGradient(model, xr, work.goal, targeted);
        const moved = noGrad(() => this.project(this.step(xr, grad), work.x, work.lower, work.upper));
        if (!this.earlyStop) return { next: moved, loss, hit: null };
        const hit = reached(logits, work.goal, targeted);
        if (prune) return { next: moved, loss, hit };
        return { next: noGrad(() => where(hit.view(hit.shape[0], ...Array<number>(x.ndim - 1).fill(1)), xr, moved)), loss, hit: null };
      });
      if (this.recordLoss) losses.push(loss);
      else loss.dispose();
      if (hit !== null && noGrad(() => hit.any().item())) {
        // Examples that reached the goal keep the point where they did.
        const kept = noGrad(() =>
          scope(() => {
            const gone = hit.nonzero().flatten();
            const keep = hit.logicalNot().nonzero().flatten();
            finished!.indexPut_([active === null ? gone : active.indexSelect(0, gone)], xr.indexSelect(0, gone));
            const positions = active === null ? keep : active.indexSelect(0, keep);
            const pick = (t: Tensor | null) => (t === null ? null : t.indexSelect(0, positions));
            return { positions, xr: next.indexSelect(0, keep), work: { x: pick(x)!, goal: pick(goal)!, lower: pick(lower), upper: pick(upper) } };
          }),
        );
        for (const t of [next, xr, active, ...(work.x === x ? [] : [work.x, work.goal, work.lower, work.upper])]) t?.dispose();
        active = kept.positions;
        xr = kept.xr;
        work = kept.work;
      } else {
        xr.dispose();
        xr = next;
      }
      hit?.dispose();
    }
    if (finished !== null) {
      if (xr.shape[0] > 0) noGrad(() => (active === null ? finished.copy_(xr) : finished.indexPut_([active], xr)));
      for (const t of [xr, active, ...(work.x === x ? [] : [work.x, work.goal, work.lower, work.upper])]) t?.dispose();
      xr = finished;
    }
    const [loss, success] = noGrad(() => {
      const logits = model(xr);
      return [attackLoss(logits, goal, targeted), reached(logits, goal, targeted)];
    });
    const history = this.recordLoss ? stack([...losses, loss]) : undefined;
    for (const t of losses) t.dispose();
    return { xr, loss, success, history };
  }

  private step(xr: Tensor, grad: Tensor): Tensor {
    return scope(() => {
      if (this.norm === 'linf') return xr.add(grad.sign().mul(this.stepSize));
      const n = xr.shape[0];
      const norms = grad.flatten(1).norm(2, 1).clamp(GRAD_NORM_FLOOR, null).view(n, ...Array(xr.ndim - 1).fill(1));
      return xr.add(grad.div(norms).mul(this.stepSize));
    });
  }

  /** Projection onto the ε-ball around x, then clipping to the box. */
  private project(moved: Tensor, x: Tensor, lower: Tensor | null, upper: Tensor | null): Tensor {
    return scope(() => {
      if (this.norm === 'linf') return moved.clamp(lower!, upper!);
      const n = x.shape[0];
      const delta = moved.sub(x);
      const norms = delta.flatten(1).norm(2, 1);
      const factor = norms.clamp(GRAD_NORM_FLOOR, null).reciprocal().mul(this.eps).clamp(null, 1).view(n, ...Array(x.ndim - 1).fill(1));
      return x.add(delta.mul(factor)).clamp(this.box[0], this.box[1]);
    });
  }
}

/**
 * A uniform draw from the ε-ball around each example of x, clipped to the box.
 * For L2 the radius is ε·U^(1/d) with d the example's size, so the draw is
 * uniform in the ball rather than on its surface.
 */
export function randomStartInBall(x: Tensor, norm: Norm, eps: number, box: [number, number]): Tensor {
  return noGrad(() =>
    scope(() => {
      let delta: Tensor;
      if (norm === 'linf') {
        delta = rand(x.shape, { dtype: x.dtype }).mul(2 * eps).sub(eps);
      } else {
        const n = x.shape[0];
        const d = x.numel() / n;
        const direction = randn(x.shape, { dtype: x.dtype });
        const norms = direction.flatten(1).norm(2, 1).clamp(GRAD_NORM_FLOOR, null);
        const radius = rand([n], { dtype: 'float64' }).pow(1 / d).mul(eps).to(x.dtype);
        delta = direction.mul(radius.div(norms).view(n, ...Array(x.ndim - 1).fill(1)));
      }
      return x.add(delta).clamp(box[0], box[1]);
    }),
  );
}
