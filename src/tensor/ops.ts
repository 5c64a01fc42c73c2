// Functions over several tensors, and the free-function forms of methods, as
// in PyTorch's `torch.*` namespace.
import { aten } from './native.js';
import { dtypeCode } from './dtype.js';
import { describeValue, Tensor, type TensorOrScalar } from './tensor.js';

const op = {
  cat: aten('cat'),
  stack: aten('stack'),
  einsum: aten('einsum'),
  whereTT: aten('where', 'self'),
  whereTS: aten('where', 'ScalarOther'),
  whereST: aten('where', 'ScalarSelf'),
  full: aten('full'),
  oneHot: aten('one_hot'),
  pad: aten('pad'),
  outer: aten('outer'),
};

function tensorList(name: string, tensors: readonly Tensor[]): number[] {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TypeError(`${name}: expected a non-empty array of tensors`);
  return tensors.map((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${name}: element ${i} is not a Tensor (${describeValue(t)})`);
    return t.handle;
  });
}

/** Joins tensors along an existing dimension. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(op.cat(tensorList('cat', tensors), dim));
}

/** Joins tensors of equal shape along a new dimension. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(op.stack(tensorList('stack', tensors), dim));
}

/** Einstein summation: `einsum('bij,bjk->bik', a, b)`. */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  if (typeof equation !== 'string') throw new TypeError(`einsum: the equation must be a string, got ${describeValue(equation)}`);
  return new Tensor(op.einsum(equation, tensorList('einsum', operands), null));
}

/** Elements of x where condition holds, else of y; either may be a number. */
export function where(condition: Tensor, x: TensorOrScalar, y: TensorOrScalar): Tensor {
  if (!(condition instanceof Tensor)) throw new TypeError(`where: condition must be a bool Tensor, got ${describeValue(condition)}`);
  if (x instanceof Tensor && y instanceof Tensor) return new Tensor(op.whereTT(condition.handle, x.handle, y.handle));
  if (x instanceof Tensor && typeof y === 'number') return new Tensor(op.whereTS(condition.handle, x.handle, y));
  if (typeof x === 'number' && y instanceof Tensor) return new Tensor(op.whereST(condition.handle, x, y.handle));
  if (typeof x === 'number' && typeof y === 'number') {
    // A JavaScript number has no int/float kind, so two numbers give the default
    // float32, as torch.where(c, 2.0, -1.0) does (libtorch alone would infer int64 from 2).
    const xs = new Tensor(op.full([], x, dtypeCode('float32')));
    try {
      return new Tensor(op.whereTS(condition.handle, xs.handle, y));
    } finally {
      xs.dispose();
    }
  }
  throw new TypeError(`where: x and y must be Tensors or numbers, got ${describeValue(x)} and ${describeValue(y)}`);
}

/** One-hot encoding of int64 class indices; `numClasses` −1 infers it. */
export function oneHot(indices: Tensor, numClasses = -1): Tensor {
  if (!(indices instanceof Tensor)) throw new TypeError(`oneHot: expected an int64 Tensor, got ${describeValue(indices)}`);
  return new Tensor(op.oneHot(indices.handle, numClasses));
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

/**
 * Pads the last dimensions: `pad` lists (before, after) pairs starting from
 * the last dimension, as in `torch.nn.functional.pad`.
 */
export function pad(input: Tensor, padding: readonly number[], options: { mode?: PadMode; value?: number } = {}): Tensor {
  if (!(input instanceof Tensor)) throw new TypeError(`pad: expected a Tensor, got ${describeValue(input)}`);
  if (!Array.isArray(padding) || padding.length % 2 !== 0 || padding.some((p) => !Number.isInteger(p)))
    throw new TypeError(`pad: padding must be an even-length array of integers, got ${JSON.stringify(padding)}`);
  if (padding.length / 2 > input.ndim)
    throw new RangeError(`pad: padding of length ${padding.length} pads more dimensions than the input has (${input.describe()})`);
  const mode = options.mode ?? 'constant';
  if (!['constant', 'reflect', 'replicate', 'circular'].includes(mode)) throw new TypeError(`pad: unknown mode '${mode}'`);
  if (mode !== 'constant' && options.value !== undefined) throw new TypeError(`pad: a fill value only applies to mode 'constant'`);
  return new Tensor(op.pad(input.handle, padding, mode, mode === 'constant' ? options.value ?? 0 : null));
}

export function outer(a: Tensor, b: Tensor): Tensor {
  return new Tensor(op.outer(a.handle, b.handle));
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}

export function add(a: Tensor, b: TensorOrScalar, options?: { alpha?: number }): Tensor {
  return a.add(b, options);
}

export function sub(a: Tensor, b: TensorOrScalar, options?: { alpha?: number }): Tensor {
  return a.sub(b, options);
}

export function mul(a: Tensor, b: TensorOrScalar): Tensor {
  return a.mul(b);
}

export function div(a: Tensor, b: TensorOrScalar): Tensor {
  return a.div(b);
}

export function minimum(a: Tensor, b: Tensor): Tensor {
  return a.minimum(b);
}

export function maximum(a: Tensor, b: Tensor): Tensor {
  return a.maximum(b);
}
