// LARS (You et al., 2017, "Large Batch Training of Convolutional Networks"),
// as the MAE code's util/lars.py uses it for linear probing (after MoCo v3):
// layer-wise trust ratios for weight matrices, none for biases and norms.
import type { Tensor } from '../tensor/index.js';
import { onesLike, zerosLike } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { checkNonNegative, Optimizer, type BaseOptions, type ParamGroup, type ParamsInput, type StateKind } from './optimizer.js';

export interface LARSOptions extends BaseOptions {
  /** L2 penalty λ added to the gradient of parameters with more than one dimension. */
  weightDecay: number;
  /** Momentum μ of the buffer. */
  momentum: number;
  /** η: the update of a weight matrix is scaled to η·‖θ‖/‖g + λθ‖ of its gradient. */
  trustCoefficient: number;
}

/** LARS's state per parameter: the momentum buffer `mu`. */
export type LARSState = { mu: Tensor };

const LARS_DEFAULTS: LARSOptions = { lr: 0, weightDecay: 0, momentum: 0.9, trustCoefficient: 0.001 };

/**
 * LARS as the official MAE code. Per parameter θ with gradient g: for θ with
 * more than one dimension, d = g + λθ scaled by q = η‖θ‖/‖d‖ (q = 1 when
 * either norm is 0); biases and norm weights take d = g as it is. Then
 * μ ← μ·m + d (starting from zeros) and θ ← θ − lr·μ.
 */
export class LARS extends Optimizer<LARSOptions, LARSState> {
  constructor(params: ParamsInput<LARSOptions>, options: Partial<LARSOptions> = {}) {
    super('LARS', params, LARS_DEFAULTS, options);
  }

  protected override checkOptions(o: LARSOptions, where: string): void {
    checkNonNegative(where, 'learning rate', o.lr);
    checkNonNegative(where, 'weight_decay', o.weightDecay);
    checkNonNegative(where, 'momentum', o.momentum);
    checkNonNegative(where, 'trust_coefficient', o.trustCoefficient);
  }

  protected override stateSpec(): { required: Record<string, StateKind>; optional: Record<string, StateKind> } {
    return { required: { mu: 'param' }, optional: {} };
  }

  protected override updateGroup(group: ParamGroup<LARSOptions>): void {
    const { lr, weightDecay, momentum, trustCoefficient } = group;
    for (const param of group.params) {
      const grad = param.grad;
      if (grad === null) continue;
      let d = grad;
      if (param.ndim > 1) {
        d = d.add(param, { alpha: weightDecay });
        const paramNorm = param.norm();
        const updateNorm = d.norm();
        const one = onesLike(paramNorm);
        const q = where(paramNorm.gt(0), where(updateNorm.gt(0), paramNorm.mul(trustCoefficient).div(updateNorm), one), one);
        d = d.mul(q);
      }
      let mu = this.state.get(param)?.mu;
      if (mu === undefined) {
        mu = zerosLike(param).keep();
        this.state.set(param, { mu });
      }
      mu.mul_(momentum).add_(d);
      param.add_(mu, { alpha: -lr });
    }
  }
}
