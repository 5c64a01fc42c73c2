// Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW in PyTorch 1.13
// (their single-tensor implementations, step for step). They differ only in
// where weight decay enters: Adam adds λθ to the gradient (L2), AdamW shrinks
// the parameter by 1 − lr·λ before the update (decoupled, Loshchilov & Hutter).
import { zerosLike, type Tensor } from '../tensor/index.js';
import { describeValue } from '../tensor/tensor.js';
import { checkBoolean, checkNonNegative, Optimizer, stepTensor, type BaseOptions, type ParamGroup, type ParamsInput, type StateKind } from './optimizer.js';

export interface AdamOptions extends BaseOptions {
  /** Decay rates (β1, β2) of the running averages of the gradient and of its square, each in [0, 1). */
  betas: [number, number];
  /** Added to the denominator √v̂ for numerical stability. */
  eps: number;
  /** Weight decay λ: L2 for Adam, decoupled for AdamW. */
  weightDecay: number;
  /** AMSGrad: normalise by the running maximum of v (Reddi et al., "On the Convergence of Adam and Beyond"). */
  amsgrad: boolean;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

/**
 * Adam's state per parameter, under PyTorch's names once in a state dict:
 * step (a float32 scalar tensor, as in PyTorch 1.13), exp_avg, exp_avg_sq and,
 * with AMSGrad, max_exp_avg_sq.
 */
export type AdamState = { step: Tensor; expAvg: Tensor; expAvgSq: Tensor; maxExpAvgSq?: Tensor | null };

abstract class AdamBase extends Optimizer<AdamOptions, AdamState> {
  /** Whether weight decay is decoupled from the gradient (AdamW). */
  protected abstract readonly decoupled: boolean;

  protected override checkOptions(o: AdamOptions, where: string): void {
    checkNonNegative(where, 'learning rate', o.lr);
    checkNonNegative(where, 'epsilon value', o.eps);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new TypeError(`${where}: betas must be a pair [beta1, beta2], got ${describeValue(o.betas)}`);
    o.betas.forEach((beta, i) => {
      if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) throw new RangeError(`${where}: invalid beta parameter at index ${i}: ${describeValue(beta)}; expected 0 <= beta < 1`);
    });
    checkNonNegative(where, 'weight_decay', o.weightDecay);
    checkBoolean(where, 'amsgrad', o.amsgrad);
    checkBoolean(where, 'maximize', o.maximize);
  }

  protected override stateSpec(group: ParamGroup<AdamOptions>): { required: Record<string, StateKind>; optional: Record<string, StateKind> } {
    const required: Record<string, StateKind> = { step: 'step', exp_avg: 'param', exp_avg_sq: 'param' };
    if (group.amsgrad) required.max_exp_avg_sq = 'param';
    // A state saved with AMSGrad may be loaded into a group without it.
    return { required, optional: group.amsgrad ? {} : { max_exp_avg_sq: 'param' } };
  }

  protected override updateGroup(group: ParamGroup<AdamOptions>): void {
    const { lr, eps, weightDecay, amsgrad, maximize } = group;
    const [beta1, beta2] = group.betas;
    for (const param of group.params) {
      const raw = param.grad;
      if (raw === null) continue;
      let grad = maximize ? raw.neg() : raw;
      const state = this.stateFor(param, amsgrad);
      state.step.add_(1);
      if (this.decoupled) param.mul_(1 - lr * weightDecay);
      else if (weightDecay !== 0) grad = grad.add(param, { alpha: weightDecay });
      state.expAvg.mul_(beta1).add_(grad, { alpha: 1 - beta1 });
      state.expAvgSq.mul_(beta2).addcmul_(grad, grad, { value: 1 - beta2 });
      // The bias corrections in double precision from the step count, as PyTorch's non-capturable path.
      const step = state.step.item();
      const stepSize = lr / (1 - beta1 ** step);
      const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
      let second = state.expAvgSq;
      if (amsgrad) {
        const max = state.maxExpAvgSq!;
        max.copy_(max.maximum(state.expAvgSq));
        second = max;
      }
      const denom = second.sqrt().div_(biasCorrection2Sqrt).add_(eps);
      param.addcdiv_(state.expAvg, denom, { value: -stepSize });
    }
  }

  // The parameter's state, created on its first step; the tensors are kept,
  // so the scope around step() leaves them to the optimizer.
  private stateFor(param: Tensor, amsgrad: boolean): AdamState {
    let state = this.state.get(param);
    if (state === undefined) {
      state = { step: stepTensor(0).keep(), expAvg: zerosLike(param).keep(), expAvgSq: zerosLike(param).keep() };
      this.state.set(param, state);
    }
    // AMSGrad may be switched on for a group after it started.
    if (amsgrad && state.maxExpAvgSq == null) state.maxExpAvgSq = zerosLike(param).keep();
    return state;
  }
}

/**
 * Adam (torch.optim.Adam; Kingma & Ba). Per parameter with gradient g at step t:
 * g ← g + λθ; m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε). Defaults: lr 1e-3,
 * betas [0.9, 0.999], eps 1e-8, weightDecay 0.
 */
export class Adam extends AdamBase {
  protected override readonly decoupled = false;

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('Adam', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false }, options);
  }
}

/**
 * AdamW (torch.optim.AdamW; Loshchilov & Hutter, "Decoupled Weight Decay
 * Regularization"): Adam with θ ← θ·(1 − lr·λ) before the update instead of
 * L2 in the gradient. Defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2.
 */
export class AdamW extends AdamBase {
  protected override readonly decoupled = true;

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('AdamW', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false }, options);
  }
}
