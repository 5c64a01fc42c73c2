// Square Attack: Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a
// query-efficient black-box adversarial attack via random search" (ECCV
// 2020), as AutoAttack's code (square.py) runs it. It never computes a
// gradient: each query changes one random square of the perturbation and
// keeps the change if the margin loss fell, with squares that shrink on a
// fixed schedule (p_init = 0.8 of the image at first). A model that hides its
// gradients does not hide its outputs, so Square exposes gradient masking.
//
// Two small departures from the reference, both in the paper's spirit: the
// L∞ square's signs are drawn per example (the reference draws one sign per
// channel for the whole batch), and a square may start at any position,
// including the last row and column (the reference's floor((h − s)·U) never
// reaches them).
import * as F from '../nn/functional.js';
import { noGrad } from '../tensor/autograd.js';
import { full, rand, randint, tensor, zeros } from '../tensor/creation.js';
import { pad, where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { advance, Attack, bestOfRuns, exampleNorm, perExample, type AttackCore, type AttackOptions, type Norm, type Run } from './attack.js';

export interface SquareOptions extends AttackOptions {
  norm?: Norm;
  /** The budget: ‖x' − x‖ ≤ ε in the chosen norm. */
  eps?: number;
  /** Model evaluations per example and run (AutoAttack: 5,000). */
  queries?: number;
  /** The fraction of the image the first squares cover (0.8). */
  pInit?: number;
  /** Runs; later ones attack only the examples still unbroken. */
  restarts?: number;
  /** Stretch the square-size schedule to `queries` (the paper's 10,000-query schedule); AutoAttack does not. */
  rescaleSchedule?: boolean;
}

/**
 * The fraction p of the image a square covers at `iteration`: p_init halved
 * after iterations 10, 50, 200, 500, 1,000, 2,000, 4,000, 6,000 and 8,000
 * (of a 10,000-query schedule, onto which `iteration` is mapped when
 * `rescale`). The square's side is then max(round(√(p·h·w)), 1).
 */
export function squareFraction(iteration: number, pInit: number, queries: number, rescale: boolean): number {
  const it = rescale ? Math.floor((iteration / queries) * 10000) : iteration;
  const halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000].filter((at) => it > at).length;
  return pInit / 2 ** halvings;
}

/**
 * The L2 attack's square pattern of side s: two halves of opposite sign, each
 * a stack of concentric rectangles weighted 1/(k + 1)², unit L2 norm, and
 * transposed with probability ½. A float32 [s, s] tensor.
 */
export function squarePattern(s: number, transpose: boolean): Tensor {
  const cells = new Float64Array(s * s);
  const half = Math.floor(s / 2);
  const rectangles = (rows: number, sign: number, offset: number) => {
    let [r0, c0] = [Math.floor(rows / 2), Math.floor(s / 2)];
    for (let k = 0; k < Math.max(Math.floor(rows / 2) + 1, Math.floor(s / 2) + 1); k++, r0--, c0--) {
      for (let r = Math.max(r0, 0); r < Math.min(r0 + 2 * k + 1, rows); r++)
        for (let c = Math.max(c0, 0); c < Math.min(c0 + 2 * k + 1, s); c++) cells[(offset + r) * s + c] += sign / (k + 1) ** 2;
    }
  };
  const normalise = (from: number, to: number) => {
    let sum = 0;
    for (let i = from; i < to; i++) sum += cells[i] ** 2;
    for (let i = from; i < to; i++) cells[i] /= Math.sqrt(sum);
  };
  rectangles(half, 1, 0);
  normalise(0, half * s);
  rectangles(s - half, -1, half);
  normalise(half * s, s * s);
  normalise(0, s * s);
  const out = new Float32Array(s * s);
  for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) out[transpose ? c * s + r : r * s + c] = cells[r * s + c];
  return tensor(out, { shape: [s, s] });
}

/** Random ±1 of the given shape. */
function signs(shape: number[]): Tensor {
  return scope(() => randint(0, 2, shape).float().mul(2).sub(1));
}

/** Square Attack (Andriushchenko et al. 2020). Defaults as AutoAttack runs it: L∞, ε 0.3, 5,000 queries, p_init 0.8, 1 run, margin loss, box [0, 1]. */
export class Square extends Attack {
  readonly norm: Norm;
  readonly eps: number;
  readonly queries: number;
  readonly pInit: number;
  readonly restarts: number;
  readonly rescaleSchedule: boolean;

  constructor(options: SquareOptions = {}) {
    super('Square', options);
    this.norm = options.norm ?? 'linf';
    if (this.norm !== 'linf' && this.norm !== 'l2') throw new TypeError(`Square: norm must be 'linf' or 'l2', got '${String(options.norm)}'`);
    this.eps = options.eps ?? 0.3;
    if (!(this.eps > 0) || !Number.isFinite(this.eps)) throw new RangeError(`Square: eps must be a finite number > 0, got ${options.eps}`);
    this.queries = options.queries ?? 5000;
    if (!Number.isInteger(this.queries) || this.queries < 1) throw new RangeError(`Square: queries must be an integer >= 1, got ${options.queries}`);
    this.pInit = options.pInit ?? 0.8;
    if (!(this.pInit > 0 && this.pInit <= 1)) throw new RangeError(`Square: pInit must be in (0, 1], got ${options.pInit}`);
    this.restarts = options.restarts ?? 1;
    if (!Number.isInteger(this.restarts) || this.restarts < 1) throw new RangeError(`Square: restarts must be an integer >= 1, got ${options.restarts}`);
    this.rescaleSchedule = options.rescaleSchedule ?? false;
  }

  protected bound(): { norm: Norm; eps: number } {
    return { norm: this.norm, eps: this.eps };
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    if (x.ndim !== 4) throw new RangeError(`Square: expects images [N, C, H, W], got ${x.describe()}`);
    const spent = zeros([x.shape[0]]);
    const best = bestOfRuns(
      x,
      (idx) => {
        const pick = (t: Tensor) => (idx === null ? t : t.indexSelect(0, idx));
        const run = this.runOnce(model, pick(x), pick(goal), targeted);
        noGrad(() => (idx === null ? spent.add_(run.queries) : spent.indexPut_([idx], spent.indexSelect(0, idx).add(run.queries))));
        run.queries.dispose();
        return run;
      },
      this.restarts,
    );
    return { adversarial: best.x, iterations: this.queries * best.runs, queries: spent };
  }

  /** The margin (≤ 0 once the goal is reached) and the loss the search lowers, per example. */
  private marginAndLoss(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): { margin: Tensor; loss: Tensor } {
    return scope(() => {
      const logits = model(x);
      const zGoal = logits.gather(1, goal.unsqueeze(1)).squeeze(1);
      const others = logits.scatter(1, goal.unsqueeze(1), -Infinity).amax(1);
      if (!targeted) return { margin: zGoal.sub(others), loss: zGoal.sub(others) };
      return { margin: others.sub(zGoal), loss: F.crossEntropy(logits, goal, { reduction: 'none' }) };
    });
  }

  private runOnce(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): Run & { queries: Tensor } {
    return noGrad(() => {
      const [n, c, h, w] = x.shape;
      const [lo, hi] = this.box;
      const lower = x.sub(this.eps).clamp(lo, null);
      const upper = x.add(this.eps).clamp(null, hi);
      const start = scope(() => {
        if (this.norm === 'linf') return x.add(signs([n, c, 1, w]).mul(this.eps)).clamp(lo, hi);
        // L2: a grid of 5 × 5 squares with random signs.
        const s = Math.max(Math.floor(h / 5), 1);
        const offset = Math.floor((h - 5 * s) / 2);
        let delta = zeros(x.shape);
        for (let i = 0, row = offset; i < Math.floor(h / s) && row + s <= h; i++, row += s)
          for (let j = 0, col = offset; j < Math.floor(w / s) && col + s <= w; j++, col += s)
            delta = delta.add(this.place(this.pattern(s).mul(signs([n, c, 1, 1])), row, col, h, w));
        return x.add(this.toBudget(delta)).clamp(lo, hi);
      });
      let s: { best: Tensor; margin: Tensor; loss: Tensor; queries: Tensor } = { best: start, ...this.marginAndLoss(model, start, goal, targeted), queries: full([n], 1) };
      for (let i = 0; i < this.queries; i++) {
        const working = scope(() => s.margin.gt(0).nonzero().flatten());
        if (working.shape[0] === 0) {
          working.dispose();
          break;
        }
        const next = scope(() => {
          const xs = x.indexSelect(0, working);
          const bestNow = s.best.indexSelect(0, working);
          const marginNow = s.margin.indexSelect(0, working);
          const lossNow = s.loss.indexSelect(0, working);
          const m = working.shape[0];
          const p = squareFraction(i, this.pInit, this.queries, this.rescaleSchedule);
          let side = Math.max(Math.round(Math.sqrt(p * h * w)), this.norm === 'linf' ? 1 : 3);
          if (this.norm === 'l2' && side % 2 === 0) side++;
          side = Math.min(side, h, w);
          const [row, col] = [randint(0, h - side + 1, [1]).item(), randint(0, w - side + 1, [1]).item()];
          let candidate: Tensor;
          if (this.norm === 'linf') {
            const square = this.place(signs([m, c, 1, 1]).mul(2 * this.eps).expand(m, c, side, side), row, col, h, w);
            candidate = bestNow.add(square).clamp(lower.indexSelect(0, working), upper.indexSelect(0, working));
          } else {
            candidate = this.l2Candidate(xs, bestNow, side, row, col);
          }
          const { margin, loss } = this.marginAndLoss(model, candidate, goal.indexSelect(0, working), targeted);
          const lowered = loss.lt(lossNow);
          const accept = lowered.logicalOr(margin.le(0));
          const scatter = (all: Tensor, values: Tensor) => all.clone().indexPut_([working], values);
          return {
            best: scatter(s.best, where(perExample(accept, 4), candidate, bestNow)),
            margin: scatter(s.margin, where(accept, margin, marginNow)),
            loss: scatter(s.loss, where(lowered, loss, lossNow)),
            queries: scatter(s.queries, s.queries.indexSelect(0, working).add(1)),
          };
        });
        working.dispose();
        s = advance(s, next);
      }
      lower.dispose();
      upper.dispose();
      const success = s.margin.le(0);
      const out = { x: s.best, success, score: s.margin.neg(), queries: s.queries };
      s.loss.dispose();
      s.margin.dispose();
      return out;
    });
  }

  /** An [N, C, side, side] block placed at (row, col) of an [N, C, h, w] zero image. */
  private place(block: Tensor, row: number, col: number, h: number, w: number): Tensor {
    const side = block.shape[2];
    return pad(block, [col, w - side - col, row, h - side - row]);
  }

  private pattern(s: number): Tensor {
    return squarePattern(s, rand([1]).item() > 0.5);
  }

  /** Rescales each example's perturbation to L2 norm ε. */
  private toBudget(delta: Tensor): Tensor {
    return scope(() => delta.div(perExample(exampleNorm(delta, 'l2').add(1e-12), 4)).mul(this.eps));
  }

  /**
   * The L2 proposal: the mass of two random windows of the current
   * perturbation (plus what budget is left) moves into the first window as a
   * fresh square pattern on top of the window's old content; the second
   * window is cleared; the whole perturbation is rescaled to ε.
   */
  private l2Candidate(x: Tensor, best: Tensor, side: number, row: number, col: number): Tensor {
    return scope(() => {
      const [m, c, h, w] = x.shape;
      const delta = best.sub(x);
      const [row2, col2] = [randint(0, h - side + 1, [1]).item(), randint(0, w - side + 1, [1]).item()];
      const window1 = delta.narrow(2, row, side).narrow(3, col, side);
      const mask1 = this.place(full([1, 1, side, side], 1), row, col, h, w);
      const mask2 = this.place(full([1, 1, side, side], 1), row2, col2, h, w);
      const windowNorm = (t: Tensor) => t.square().sum([2, 3], { keepdim: true }).sqrt();
      const imageNorm = perExample(exampleNorm(delta, 'l2'), 4);
      const inWindows = windowNorm(delta.mul(mask1.maximum(mask2)));
      let fresh = this.pattern(side).view(1, 1, side, side).mul(signs([m, c, 1, 1]));
      fresh = fresh.add(window1.div(windowNorm(window1).add(1e-12)));
      const budget = imageNorm.square().neg().add(this.eps ** 2).clamp(0, null).div(c).add(inWindows.square()).sqrt();
      fresh = fresh.div(windowNorm(fresh).add(1e-12)).mul(budget);
      const updated = delta.mul(mask2.neg().add(1)).mul(mask1.neg().add(1)).add(this.place(fresh, row, col, h, w));
      return x.add(this.toBudget(updated)).clamp(this.box[0], this.box[1]);
    });
  }
}
