// DeepFool: Moosavi-Dezfooli, Fawzi & Frossard, "DeepFool: a simple and
// accurate method to fool deep neural networks" (CVPR 2016), Algorithm 2 and
// §3.3. At each step the classifier is linearised at the current point and
// the point moves to the nearest linearised decision boundary:
//
//   w_k = ∇Z_k − ∇Z_{k̂},  f_k = Z_k − Z_{k̂},  l = argmin_{k≠k̂} |f_k| / ‖w_k‖_q
//   L2 (q = 2):  r = (|f_l| + 1e-4) · w_l / ‖w_l‖₂²
//   L∞ (q = 1):  r = (|f_l| + 1e-4) · sign(w_l) / ‖w_l‖₁
//
// accumulating r_tot; the result is x + (1 + overshoot)·r_tot, clipped to the
// box. Targeted, only the target's boundary with the current top class is
// used. The per-class gradients of a batch come from one forward pass and one
// backward pass per candidate class (each example's logits depend only on
// itself), not from a backward pass per class per example.
import { enableGrad, grad, noGrad } from '../tensor/autograd.js';
import { zeros } from '../tensor/creation.js';
import { cat, stack } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { advance, Attack, perExample, reached, type AttackCore, type AttackOptions, type Norm } from './attack.js';

export interface DeepFoolOptions extends AttackOptions {
  /** The norm of the perturbation: 'l2' (the paper's main attack) or 'linf' (§3.3, q = 1). */
  norm?: Norm;
  /** The factor η the total perturbation is enlarged by, to cross the boundary (the paper: 0.02). */
  overshoot?: number;
  maxIterations?: number;
  /** Untargeted: how many of the classes ranked highest on the clean input are candidates (the paper's code: 10). */
  candidates?: number;
}

export const DEEPFOOL_DEFAULTS: Required<Omit<DeepFoolOptions, keyof AttackOptions>> = { norm: 'l2', overshoot: 0.02, maxIterations: 50, candidates: 10 };

// Keeps r finite where the linearised boundary is flat (Algorithm 2 adds 1e-4 to |f|, the code to the norm).
const STEP_FLOOR = 1e-4;
const NORM_FLOOR = 1e-8;

export class DeepFool extends Attack {
  readonly norm: Norm;
  readonly overshoot: number;
  readonly maxIterations: number;
  readonly candidates: number;

  constructor(options: DeepFoolOptions = {}) {
    super('DeepFool', options);
    const o = { ...DEEPFOOL_DEFAULTS, ...options };
    this.norm = o.norm;
    if (this.norm !== 'l2' && this.norm !== 'linf') throw new TypeError(`DeepFool: norm must be 'l2' or 'linf', got '${String(o.norm)}'`);
    this.overshoot = o.overshoot;
    if (!(this.overshoot >= 0) || !Number.isFinite(this.overshoot)) throw new RangeError(`DeepFool: overshoot must be a finite number >= 0, got ${o.overshoot}`);
    this.maxIterations = o.maxIterations;
    if (!Number.isInteger(this.maxIterations) || this.maxIterations < 1) throw new RangeError(`DeepFool: maxIterations must be an integer >= 1, got ${o.maxIterations}`);
    this.candidates = o.candidates;
    if (!Number.isInteger(this.candidates) || this.candidates < 2) throw new RangeError(`DeepFool: candidates must be an integer >= 2, got ${o.candidates}`);
  }

  protected bound(): null {
    return null;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    const n = x.shape[0];
    // Candidate classes per example [N, K]: untargeted, the original class first, then the next highest;
    // targeted, the target alone (the current top class is found at every step).
    const { classes, active } = noGrad(() =>
      scope(() => {
        const logits = model(x);
        // Examples that already reach the goal are left as they are.
        const active = reached(logits, goal, targeted).logicalNot();
        if (targeted) return { classes: goal.view(-1, 1), active };
        const k = Math.min(this.candidates, logits.shape[1]);
        const others = logits.scatter(1, goal.view(-1, 1), -Infinity).argsort({ dim: 1, descending: true }).narrow(1, 0, k - 1);
        return { classes: cat([goal.view(-1, 1), others], 1), active };
      }),
    );
    let state = { total: zeros(x.shape), adversarial: x.clone(), active };
    let iterations = 0;
    for (let i = 0; i < this.maxIterations; i++) {
      const next = scope(() => {
        const idx = state.active.nonzero().flatten();
        if (idx.shape[0] === 0) return null;
        const point = state.adversarial.indexSelect(0, idx);
        const step = this.step(model, point, goal.indexSelect(0, idx), classes.indexSelect(0, idx), targeted);
        return noGrad(() => {
          const total = state.total.clone().indexPut_([idx], step, { accumulate: true });
          const adversarial = x.add(total.mul(1 + this.overshoot)).clamp(this.box[0], this.box[1]);
          const stillFailing = reached(model(adversarial.indexSelect(0, idx)), goal.indexSelect(0, idx), targeted).logicalNot();
          const active = state.active.clone().indexPut_([idx], stillFailing);
          return { total, adversarial, active };
        });
      });
      if (next === null) break;
      iterations++;
      state = advance(state, next);
    }
    state.total.dispose();
    state.active.dispose();
    classes.dispose();
    return { adversarial: state.adversarial, iterations };
  }

  /** One linearised step r [m, …] for a sub-batch `point` that has not reached its goal yet. */
  private step(model: (x: Tensor) => Tensor, point: Tensor, goal: Tensor, candidates: Tensor, targeted: boolean): Tensor {
    return scope(() => {
      const m = point.shape[0];
      const input = point.detach().requiresGrad_(true);
      const logits = enableGrad(() => model(input));
      const C = logits.shape[1];
      // ∇Z_k for every class the step may need, from one backward pass each: [m, C, D].
      const jacobian = stack(
        Array.from({ length: C }, (_, k) => {
          const [g] = grad(enableGrad(() => logits.narrow(1, k, 1).sum()), input, { retainGraph: k < C - 1 });
          return g!.flatten(1);
        }),
        1,
      );
      return noGrad(() => {
        const z = logits.detach();
        // The class the boundary is measured from (k̂) and the classes across it (K of them).
        const [from, across] = targeted
          ? [z.scatter(1, goal.view(-1, 1), -Infinity).argmax(1).view(-1, 1), goal.view(-1, 1)]
          : [goal.view(-1, 1), candidates.narrow(1, 1, candidates.shape[1] - 1)];
        const K = across.shape[1];
        const f = z.gather(1, across).sub(z.gather(1, from)); // [m, K]
        const D = jacobian.shape[2];
        const w = jacobian.gather(1, across.unsqueeze(2).expand(m, K, D)).sub(jacobian.gather(1, from.unsqueeze(2).expand(m, 1, D))); // [m, K, D]
        const dual = this.norm === 'l2' ? w.norm(2, 2) : w.abs().sum(2);
        const l = f.abs().div(dual.add(NORM_FLOOR)).argmin(1).view(-1, 1); // [m, 1]
        const fl = f.gather(1, l).view(-1).abs().add(STEP_FLOOR);
        const wl = w.gather(1, l.unsqueeze(2).expand(m, 1, D)).view(m, D);
        const r =
          this.norm === 'l2'
            ? wl.mul(perExample(fl.div(wl.square().sum(1).add(NORM_FLOOR)), 2))
            : wl.sign().mul(perExample(fl.div(wl.abs().sum(1).add(NORM_FLOOR)), 2));
        return r.view(point.shape);
      });
    });
  }
}
