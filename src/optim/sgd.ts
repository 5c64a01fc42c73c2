// Stochastic gradient descent with momentum, as torch.optim.SGD in PyTorch 1.13
// (its single-tensor implementation, step for step).
import type { Tensor } from '../tensor/index.js';
import { describeValue } from '../tensor/tensor.js';
import { checkBoolean, checkNonNegative, Optimizer, type BaseOptions, type ParamGroup, type ParamsInput, type StateKind } from './optimizer.js';

export interface SGDOptions extends BaseOptions {
  /** Momentum factor μ (0: plain SGD). */
  momentum: number;
  /** Dampening τ: the gradient enters the buffer scaled by 1 − τ (not on the first step). */
  dampening: number;
  /** L2 penalty λ added to the gradient: g + λθ. */
  weightDecay: number;
  /** Nesterov momentum: step along g + μ·b instead of b; needs momentum > 0 and dampening 0. */
  nesterov: boolean;
  /** Ascend the objective instead of descending it. */
  maximize: boolean;
}

/** SGD's state per parameter: the momentum buffer, null when momentum is 0 (as PyTorch stores None). */
export type SGDState = { momentumBuffer: Tensor | null };

const SGD_DEFAULTS: Omit<SGDOptions, 'lr'> = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };

/**
 * SGD (torch.optim.SGD). Per parameter with gradient g:
 * g ← g + λθ; b ← g on the first step, else μb + (1 − τ)g; g ← g + μb (Nesterov)
 * or b; θ ← θ − lr·g. Note PyTorch's form of momentum: the learning rate
 * multiplies the buffer, not the gradient inside it.
 *
 * `lr` has no default: give it in the options or in every group.
 */
export class SGD extends Optimizer<SGDOptions, SGDState> {
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    // NaN stands for "required": checkOptions rejects it unless every group sets lr.
    super('SGD', params, { ...SGD_DEFAULTS, lr: NaN }, options);
  }

  protected override checkOptions(o: SGDOptions, where: string): void {
    if (typeof o.lr === 'number' && Number.isNaN(o.lr)) throw new TypeError(`${where}: lr is required (SGD has no default learning rate)`);
    checkNonNegative(where, 'learning rate', o.lr);
    checkNonNegative(where, 'momentum', o.momentum);
    checkNonNegative(where, 'weight_decay', o.weightDecay);
    if (typeof o.dampening !== 'number' || !Number.isFinite(o.dampening)) throw new TypeError(`${where}: dampening must be a finite number, got ${describeValue(o.dampening)}`);
    checkBoolean(where, 'nesterov', o.nesterov);
    checkBoolean(where, 'maximize', o.maximize);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0))
      throw new RangeError(`${where}: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ${o.momentum}, dampening ${o.dampening})`);
  }

  protected override stateSpec(): { required: Record<string, StateKind>; optional: Record<string, StateKind> } {
    return { required: {}, optional: { momentum_buffer: 'param' } };
  }

  protected override updateGroup(group: ParamGroup<SGDOptions>): void {
    const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
    for (const param of group.params) {
      const grad = param.grad;
      if (grad === null) continue;
      let d = maximize ? grad.neg() : grad;
      if (weightDecay !== 0) d = d.add(param, { alpha: weightDecay });
      let buffer = this.state.get(param)?.momentumBuffer ?? null;
      if (momentum !== 0) {
        if (buffer === null) {
          // PyTorch starts the buffer at the gradient itself, without dampening.
          buffer = d.clone().keep();
        } else {
          buffer.mul_(momentum).add_(d, { alpha: 1 - dampening });
        }
        d = nesterov ? d.add(buffer, { alpha: momentum }) : buffer;
      }
      param.add_(d, { alpha: -lr });
      this.state.set(param, { momentumBuffer: buffer });
    }
  }
}

