// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_
// in PyTorch 1.13: both change the gradients in place.
import { noGrad, scalarTensor, scope, stack, Tensor } from '../tensor/index.js';
import { describeValue } from '../tensor/tensor.js';

function paramList(where: string, params: Tensor | readonly Tensor[]): readonly Tensor[] {
  const list = params instanceof Tensor ? [params] : params;
  if (!Array.isArray(list)) throw new TypeError(`${where}: expected a Tensor or an array of Tensors, got ${describeValue(params)}`);
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new TypeError(`${where}: params[${i}] is not a Tensor (${describeValue(p)})`);
  });
  return list;
}

/**
 * Scales the gradients of `params` together so that their total `normType`-norm
 * (the norm of all gradients as one vector) is at most `maxNorm`, and returns
 * that total norm from before clipping (a new scalar tensor the caller owns).
 * As PyTorch: the scale is min(1, maxNorm / (total + 1e-6)); normType may be
 * Infinity (the largest magnitude); parameters without a gradient are skipped,
 * and with none at all the norm is 0. `errorIfNonfinite` throws on a NaN or
 * infinite total instead of scaling by it.
 */
export function clipGradNorm(params: Tensor | readonly Tensor[], maxNorm: number, normType = 2, options: { errorIfNonfinite?: boolean } = {}): Tensor {
  const where = 'clipGradNorm';
  const list = paramList(where, params);
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) throw new RangeError(`${where}: maxNorm must be a number >= 0, got ${describeValue(maxNorm)}`);
  if (typeof normType !== 'number' || Number.isNaN(normType)) throw new TypeError(`${where}: normType must be a number (2, 1, Infinity, …), got ${describeValue(normType)}`);
  return scope(() => noGrad(() => {
    const grads = list.map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (grads.length === 0) return scalarTensor(0, { dtype: 'float32' });
    let total: Tensor;
    if (normType === Infinity) {
      const norms = grads.map((g) => g.abs().max());
      total = norms.length === 1 ? norms[0] : stack(norms).max();
    } else {
      total = stack(grads.map((g) => g.norm(normType))).norm(normType);
    }
    if (options.errorIfNonfinite && !Number.isFinite(total.item()))
      throw new RangeError(`${where}: the total norm of order ${normType} of the gradients is ${total.item()}, so it cannot be clipped; pass errorIfNonfinite: false to scale by it anyway`);
    // PyTorch computes maxNorm / (total + 1e-6) as reciprocal(total + 1e-6) · maxNorm,
    // and scales even when the factor is clamped to 1 (no branch on the device).
    const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1);
    for (const g of grads) g.mul_(coef);
    return total;
  }));
}

/** Clamps every gradient of `params` into [−clipValue, clipValue] in place (PyTorch's clip_grad_value_). */
export function clipGradValue(params: Tensor | readonly Tensor[], clipValue: number): void {
  const where = 'clipGradValue';
  const list = paramList(where, params);
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw new RangeError(`${where}: clipValue must be a number >= 0, got ${describeValue(clipValue)}`);
  scope(() => noGrad(() => {
    for (const p of list) p.grad?.clamp_(-clipValue, clipValue);
  }));
}
