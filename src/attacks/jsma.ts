// JSMA: Papernot, McDaniel, Jha, Fredrikson, Celik & Swami, "The Limitations
// of Deep Learning in Adversarial Settings" (EuroS&P 2016), Algorithms 2 and 3.
// An L0 attack: each iteration changes the pair of features (p, q) with the
// largest saliency
//
//   α = ∂F_t/∂x_p + ∂F_t/∂x_q,  β = Σ_{j≠t} (∂F_j/∂x_p + ∂F_j/∂x_q)
//   S(p, q) = −α·β  where α > 0 and β < 0 (features increased, θ > 0),
//                   where α < 0 and β > 0 (features decreased, θ < 0),
//
// by θ (in units of the box's width), clipped to the box; a feature leaves
// the search domain once changed. It stops at the target, when no pair is
// admissible, or when the changed features would pass γ of all features.
// F is the logits (JSMA-Z, the paper's) or the softmax (JSMA-F), the two
// variants Carlini & Wagner compare with. Untargeted, the saliency is taken
// against the true class (α from −F_y, β from −Σ_{j≠y} F_j).
import { enableGrad, grad, noGrad } from '../tensor/autograd.js';
import { full } from '../tensor/creation.js';
import { cat, stack, where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import { advance, Attack, putRows, reached, type AttackCore, type AttackOptions } from './attack.js';

export type JSMAVariant = 'z' | 'f';

export interface JSMAOptions extends AttackOptions {
  /** The change of a selected feature, a fraction of the box's width: > 0 increases features (the paper's θ = +1), < 0 decreases them. */
  theta?: number;
  /** The largest fraction of the features that may change, in (0, 1] (the paper's MNIST runs: 0.145). */
  gamma?: number;
  /** 'z': saliency of the logits (Papernot et al.); 'f': of the softmax probabilities. */
  variant?: JSMAVariant;
}

export const JSMA_DEFAULTS: Required<Omit<JSMAOptions, keyof AttackOptions>> = { theta: 1, gamma: 1, variant: 'z' };

// Examples whose pair scores (features² floats each) are computed together.
const PAIR_CHUNK = 16;

export class JSMA extends Attack {
  readonly theta: number;
  readonly gamma: number;
  readonly variant: JSMAVariant;

  constructor(options: JSMAOptions = {}) {
    super('JSMA', options);
    const o = { ...JSMA_DEFAULTS, ...options };
    this.theta = o.theta;
    if (!Number.isFinite(this.theta) || this.theta === 0 || Math.abs(this.theta) > 1) throw new RangeError(`JSMA: theta must be in [-1, 0) or (0, 1], got ${o.theta}`);
    this.gamma = o.gamma;
    if (!(this.gamma > 0 && this.gamma <= 1)) throw new RangeError(`JSMA: gamma must be in (0, 1], got ${o.gamma}`);
    this.variant = o.variant;
    if (this.variant !== 'z' && this.variant !== 'f') throw new TypeError(`JSMA: variant must be 'z' (logits) or 'f' (softmax), got '${String(o.variant)}'`);
  }

  protected bound(): null {
    return null;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): AttackCore {
    const [lo, hi] = this.box;
    const n = x.shape[0];
    const features = x.numel() / n;
    const maxChanged = Math.floor(this.gamma * features);
    const increase = this.theta > 0;
    // The search domain: features that can still move in θ's direction.
    let state = noGrad(() =>
      scope(() => ({
        adversarial: x.clone(),
        domain: (increase ? x.lt(hi) : x.gt(lo)).flatten(1),
        active: reached(model(x), goal, targeted).logicalNot(),
        changed: full([n], 0),
      })),
    );
    let iterations = 0;
    while (true) {
      const next = scope(() => {
        const idx = noGrad(() => state.active.logicalAnd(state.changed.add(2).le(maxChanged)).nonzero().flatten());
        if (idx.shape[0] === 0) return null;
        const point = state.adversarial.indexSelect(0, idx);
        const { alpha, beta } = this.derivatives(model, point, goal.indexSelect(0, idx), targeted);
        return noGrad(() => {
          const domain = state.domain.indexSelect(0, idx);
          const { pairs, admissible } = bestPairs(alpha, beta, domain, increase);
          const flat = point.flatten(1);
          const moved = flat.scatter(1, pairs, flat.gather(1, pairs).add(this.theta * (hi - lo)).clamp(lo, hi));
          const updated = where(admissible.view(-1, 1), moved, flat).view(point.shape);
          const stillFailing = reached(model(updated), goal.indexSelect(0, idx), targeted).logicalNot();
          return putRows(state, idx, {
            adversarial: updated,
            domain: where(admissible.view(-1, 1), domain.scatter(1, pairs, 0), domain),
            // An example with no admissible pair has failed; it leaves the loop.
            active: stillFailing.logicalAnd(admissible),
            changed: state.changed.indexSelect(0, idx).add(admissible.float().mul(2)),
          });
        });
      });
      if (next === null) break;
      iterations++;
      state = advance(state, next);
    }
    for (const t of [state.domain, state.active, state.changed]) t.dispose();
    return { adversarial: state.adversarial, iterations };
  }

  /** ∂F_t/∂x and Σ_{j≠t} ∂F_j/∂x per feature, [m, D] each, from two backward passes (signs flipped when untargeted). */
  private derivatives(model: (x: Tensor) => Tensor, point: Tensor, goal: Tensor, targeted: boolean): { alpha: Tensor; beta: Tensor } {
    return scope(() => {
      const input = point.detach().requiresGrad_(true);
      const outputs = enableGrad(() => {
        const logits = model(input);
        return this.variant === 'z' ? logits : F.softmax(logits, 1);
      });
      const own = enableGrad(() => outputs.gather(1, goal.view(-1, 1)).sum());
      const [dOwn] = grad(own, input, { retainGraph: true });
      const [dAll] = grad(enableGrad(() => outputs.sum()), input);
      const alpha = dOwn!.flatten(1);
      const beta = dAll!.flatten(1).sub(alpha);
      return targeted ? { alpha, beta } : { alpha: alpha.neg(), beta: beta.neg() };
    });
  }
}

/**
 * The most salient admissible pair per example: `pairs` int64 [m, 2] and
 * whether any pair was admissible, bool [m]. Pair scores take m·D² floats,
 * so examples are scored a few at a time.
 */
function bestPairs(alpha: Tensor, beta: Tensor, domain: Tensor, increase: boolean): { pairs: Tensor; admissible: Tensor } {
  const [m, D] = alpha.shape;
  const pairs: Tensor[] = [];
  const admissible: Tensor[] = [];
  for (let start = 0; start < m; start += PAIR_CHUNK) {
    const k = Math.min(PAIR_CHUNK, m - start);
    const [p, ok] = scope(() => {
      const a = alpha.narrow(0, start, k);
      const b = beta.narrow(0, start, k);
      const inDomain = domain.narrow(0, start, k);
      const A = a.unsqueeze(2).add(a.unsqueeze(1)); // [k, D, D]
      const B = b.unsqueeze(2).add(b.unsqueeze(1));
      const signs = increase ? A.gt(0).logicalAnd(B.lt(0)) : A.lt(0).logicalAnd(B.gt(0));
      const distinct = inDomain.unsqueeze(2).logicalAnd(inDomain.unsqueeze(1)).logicalAnd(full([D, D], 1).triu(1).bool());
      const score = where(signs.logicalAnd(distinct), A.mul(B).neg(), -1).flatten(1);
      const best = score.argmax(1);
      const ok = score.gather(1, best.view(-1, 1)).view(-1).gt(0);
      return [stack([best.div(D, { roundingMode: 'floor' }), best.remainder(D)], 1), ok];
    });
    pairs.push(p);
    admissible.push(ok);
  }
  const result = { pairs: cat(pairs), admissible: cat(admissible) };
  for (const t of [...pairs, ...admissible]) t.dispose();
  return result;
}
