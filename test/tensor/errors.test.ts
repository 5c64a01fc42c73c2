// Bad calls into the engine: each must throw a catchable Error whose message
// names the op and what was wrong, leave no native tensor behind, and leave
// the process running. Messages that come from libtorch are those of
// libtorch 1.13 (Debian's libtorch-dev), the version this project builds on.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  arange,
  cat,
  cudaIsAvailable,
  F,
  grad,
  linspace,
  liveTensors,
  manualSeed,
  ones,
  randint,
  scope,
  setNumThreads,
  stack,
  Tensor,
  tensor,
  zeros,
} from '../../src/index.js';
import { native } from '../../src/tensor/native.js';

const START = liveTensors();

type ErrorKind = typeof Error | typeof TypeError | typeof RangeError;

const none = (): undefined => undefined;
const long = (values: number[]): Tensor => tensor(values, { dtype: 'int64' });

/**
 * Registers a test: `build` makes the operands, then `call(operands)` must
 * throw a `kind` whose message matches `pattern`, and must leave exactly as
 * many live native tensors as there were before it (a failed call leaks no
 * handle). Everything `build` made is disposed by the scope afterwards.
 */
function refuses<T>(name: string, build: () => T, call: (operands: T) => unknown, kind: ErrorKind, pattern: RegExp): void {
  test(name, () => {
    scope(() => {
      const operands = build();
      const before = liveTensors();
      let thrown: unknown;
      try {
        call(operands);
      } catch (error) {
        thrown = error;
      }
      assert.ok(thrown instanceof kind, `expected a ${kind.name}, got ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`);
      assert.match(thrown.message, pattern);
      assert.equal(liveTensors(), before, 'the failed call left native tensors behind');
    });
  });
}

// ---- mismatched shapes -------------------------------------------------------

refuses('add of shapes that do not broadcast', () => [ones([2, 3]), ones([4, 3])], ([a, b]) => a.add(b), Error,
  /^add: The size of tensor a \(2\) must match the size of tensor b \(4\) at non-singleton dimension 0 \[self=float32\[2, 3\], other=float32\[4, 3\]\]/);
refuses('matmul of [2, 3] by [2, 3]', () => [ones([2, 3]), ones([2, 3])], ([a, b]) => a.matmul(b), Error,
  /^matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
refuses('bmm with mismatched inner sizes', () => [ones([2, 3, 4]), ones([2, 5, 4])], ([a, b]) => a.bmm(b), Error,
  /^bmm: Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[2, 5\].*self=float32\[2, 3, 4\], mat2=float32\[2, 5, 4\]/);
refuses('bmm of 2-D tensors', () => [ones([2, 3]), ones([3, 2])], ([a, b]) => a.bmm(b), Error, /^bmm: batch1 must be a 3D tensor \[self=float32\[2, 3\]/);
refuses('cat of tensors that differ outside the cat dimension', () => [ones([2, 3]), ones([2, 4])], (ts) => cat(ts, 0), Error,
  /^cat: Sizes of tensors must match except in dimension 0\. Expected size 3 but got size 4 for tensor number 1.*tensors=\[float32\[2, 3\], float32\[2, 4\]\]/);
refuses('stack of tensors of different shapes', () => [ones([2, 3]), ones([2, 4])], (ts) => stack(ts), Error,
  /^stack: stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and \[2, 4\] at entry 1/);
refuses('conv2d with 3 input channels and a 2-channel weight', () => [ones([1, 3, 8, 8]), ones([4, 2, 3, 3])], ([x, w]) => F.conv2d(x, w), RangeError,
  /^conv2d: input float32\[1, 3, 8, 8\] has 3 channels but weight float32\[4, 2, 3, 3\] with groups=1 expects 2/);
refuses('conv2d with a kernel larger than the input', () => [ones([1, 3, 2, 2]), ones([4, 3, 3, 3])], ([x, w]) => F.conv2d(x, w), Error,
  /^conv2d: Calculated padded input size per channel: \(2 x 2\)\. Kernel size: \(3 x 3\)\. Kernel size can't be greater than actual input size \[input=float32\[1, 3, 2, 2\], weight=float32\[4, 3, 3, 3\]/);
refuses('conv2d of a 2-D input', () => [ones([3, 8]), ones([4, 3, 3, 3])], ([x, w]) => F.conv2d(x, w), RangeError,
  /^conv2d: expected a 3-D \[C, H, W\] or 4-D \[N, C, H, W\] input, got float32\[3, 8\]/);
refuses('linear with in-features that differ', () => [ones([2, 3]), ones([4, 5])], ([x, w]) => F.linear(x, w), RangeError,
  /^linear: input float32\[2, 3\] has last dimension 3 but weight float32\[4, 5\] expects 5/);
refuses('linear with a bias of the wrong length', () => [ones([2, 3]), ones([4, 3]), ones([5])], ([x, w, b]) => F.linear(x, w, b), Error,
  /^linear: The expanded size of the tensor \(4\) must match the existing size \(5\).*input=float32\[2, 3\], weight=float32\[4, 3\]/);
refuses('layerNorm over a shape that is not the input\'s tail', () => ones([2, 3]), (x) => F.layerNorm(x, [4]), RangeError,
  /^layerNorm: normalizedShape \[4\] does not match the trailing dimensions of input float32\[2, 3\]/);
refuses('layerNorm with a weight of the wrong shape', () => [ones([2, 3]), ones([4])], ([x, w]) => F.layerNorm(x, [3], { weight: w }), Error,
  /^layer_norm: Expected weight to be of same shape as normalized_shape, but got weight of shape \[4\] and normalized_shape = \[3\]/);
refuses('crossEntropy with one target per class instead of per sample', () => [ones([2, 3]), long([0, 1, 2])], ([x, t]) => F.crossEntropy(x, t), RangeError,
  /^crossEntropy: class-index target int64\[3\] does not match input float32\[2, 3\]; expected shape \[2\]/);
refuses('crossEntropy with a probability target of another shape', () => [ones([2, 3]), ones([2, 4])], ([x, t]) => F.crossEntropy(x, t), RangeError,
  /^crossEntropy: a probability target must have the input's shape float32\[2, 3\], got float32\[2, 4\]/);
refuses('mseLoss of [2, 3] against [3, 2]', () => [ones([2, 3]), ones([3, 2])], ([x, t]) => F.mseLoss(x, t), RangeError,
  /^mseLoss: input float32\[2, 3\] and target float32\[3, 2\] must have the same shape/);
refuses('copy_ from a tensor that does not broadcast', () => [ones([3]), ones([4])], ([a, b]) => a.copy_(b), Error,
  /^copy_: The size of tensor a \(3\) must match the size of tensor b \(4\).*self=float32\[3\], src=float32\[4\]/);

// ---- wrong dtypes --------------------------------------------------------------

refuses('gather with float indices', () => [ones([3]), tensor([0, 1])], ([x, i]) => x.gather(0, i), Error,
  /^gather: gather\(\): Expected dtype int64 for index \[self=float32\[3\], dim=0, index=float32\[2\]/);
refuses('indexSelect with float indices', () => [ones([3]), tensor([0, 1])], ([x, i]) => x.indexSelect(0, i), Error,
  /^index_select: index_select\(\): Expected dtype int32 or int64 for index \[self=float32\[3\], dim=0, index=float32\[2\]\]/);
refuses('index() with a float index tensor', () => [ones([2, 3]), tensor([0.5])], ([x, i]) => x.index(i), Error,
  /^index\.Tensor: tensors used as indices must be long, byte or bool tensors \[self=float32\[2, 3\]\]/);
refuses('embedding with float indices', () => [tensor([0, 1]), ones([4, 2])], ([i, w]) => F.embedding(i, w), TypeError,
  /^embedding: indices must be int64 or int32, got float32\[2\]/);
refuses('crossEntropy with an int32 target', () => [ones([2, 3]), tensor([0, 1], { dtype: 'int32' })], ([x, t]) => F.crossEntropy(x, t), TypeError,
  /^crossEntropy: target must be int64 class indices or float probabilities, got int32\[2\]/);
refuses('softmax of an int64 tensor', () => arange(4), (x) => F.softmax(x, 0), Error,
  /^softmax\.int: "softmax_lastdim_kernel_impl" not implemented for 'Long' \[self=int64\[4\], dim=0\]/);
refuses('softmax of a bool tensor', () => tensor([true, false]), (x) => F.softmax(x, 0), Error,
  /^softmax\.int: "softmax_lastdim_kernel_impl" not implemented for 'Bool' \[self=bool\[2\]/);
refuses('mean of a bool tensor', () => tensor([true]), (x) => x.mean(), Error,
  /^mean: mean\(\): could not infer output dtype\. Input dtype must be either a floating point or complex dtype\. Got: Bool \[self=bool\[1\]\]/);
refuses('binaryCrossEntropy of bool tensors', () => [tensor([true]), tensor([true])], ([x, t]) => F.binaryCrossEntropy(x, t), Error,
  /^binary_cross_entropy: "binary_cross_entropy" not implemented for 'Bool' \[self=bool\[1\], target=bool\[1\]/);
refuses('int64 tensor add_ a float tensor', () => [long([1, 2]), tensor([0.5, 0.5])], ([a, b]) => a.add_(b), Error,
  /^add_\.Tensor: result type Float can't be cast to the desired output type Long \[self=int64\[2\], other=float32\[2\]/);
refuses('int64 tensor mul_ 0.5', () => long([1, 2]), (a) => a.mul_(0.5), Error,
  /^mul_\.Scalar: result type Float can't be cast to the desired output type Long \[self=int64\[2\], other=0\.5\]/);
refuses('bool tensor add_ 1', () => tensor([true]), (a) => a.add_(1), Error,
  /^add_\.Scalar: result type Long can't be cast to the desired output type Bool \[self=bool\[1\]/);
refuses('oneHot of float classes', () => tensor([0, 1]), (x) => F.oneHot(x, 3), Error,
  /^one_hot: one_hot is only applicable to index tensor\. \[self=float32\[2\], num_classes=3\]/);

// ---- indices out of range ---------------------------------------------------------

refuses('gather at index 5 of 3', () => [ones([3]), long([0, 5])], ([x, i]) => x.gather(0, i), Error,
  /^gather: index 5 is out of bounds for dimension 0 with size 3 \[self=float32\[3\]/);
refuses('indexSelect at index 5 of 3', () => [ones([3]), long([0, 5])], ([x, i]) => x.indexSelect(0, i), Error,
  /^index_select: index out of range in self \[self=float32\[3\], dim=0, index=int64\[2\]\]/);
refuses('select at index 3 of 3', () => ones([3]), (x) => x.select(0, 3), Error,
  /^select\.int: select\(\): index 3 out of range for tensor of size \[3\] at dimension 0/);
refuses('narrow past the end', () => ones([3]), (x) => x.narrow(0, 2, 2), Error,
  /^narrow: start \(2\) \+ length \(2\) exceeds dimension size \(3\)\./);
refuses('index() with integer 3 of 3', () => ones([3]), (x) => x.index(3), RangeError,
  /^index: index 3 is out of bounds for dimension 0 with size 3/);
refuses('index() with an index tensor holding 3 of 3', () => [ones([3]), long([3])], ([x, i]) => x.index(i), Error,
  /^index\.Tensor: index 3 is out of bounds for dimension 0 with size 3 \[self=float32\[3\]\]/);
refuses('index() with more indices than dimensions', () => ones([2, 3]), (x) => x.index(0, 0, 0), RangeError,
  /^index: too many indices \(3\) for a tensor of shape \[2, 3\]/);
refuses('embedding of row 4 in a 4-row table', () => [long([4]), ones([4, 2])], ([i, w]) => F.embedding(i, w), Error,
  /^embedding: index out of range in self \[weight=float32\[4, 2\], indices=int64\[1\]/);
refuses('embedding with paddingIdx outside the table', () => [long([0]), ones([4, 2])], ([i, w]) => F.embedding(i, w, { paddingIdx: 9 }), RangeError,
  /^embedding: paddingIdx must be an integer within \[-4, 3\] for weight float32\[4, 2\], got 9/);
refuses('crossEntropy with target = C', () => [ones([2, 3]), long([0, 3])], ([x, t]) => F.crossEntropy(x, t), Error,
  /^cross_entropy_loss: Target 3 is out of bounds\. \[self=float32\[2, 3\], target=int64\[2\]/);
refuses('oneHot of class 3 with 3 classes', () => long([0, 3]), (x) => F.oneHot(x, 3), Error,
  /^one_hot: Class values must be smaller than num_classes\. \[self=int64\[2\], num_classes=3\]/);
refuses('oneHot of class -1', () => long([0, -1]), (x) => F.oneHot(x, 3), Error, /^one_hot: Class values must be non-negative\./);
refuses('scatter at index 5 of 3', () => [ones([3]), long([5]), tensor([1])], ([x, i, s]) => x.scatter(0, i, s), Error,
  /^scatter\.src: index 5 is out of bounds for dimension 0 with size 3/);
refuses('indexPut_ at index 5 of 3', () => [ones([3]), long([5]), tensor([1])], ([x, i, v]) => x.indexPut_([i], v), Error,
  /^index_put_: index 5 is out of bounds for dimension 0 with size 3/);
refuses('indexPut_ with no index tensor', () => [ones([3]), tensor([1])], ([x, v]) => x.indexPut_([null], v), TypeError,
  /^indexPut_: indices must be an array with at least one index Tensor/);

// ---- shapes: item, reshape, view, expand, permute, dims ------------------------------

refuses('item() of 3 elements', () => ones([3]), (x) => x.item(), TypeError,
  /^item: a tensor with 3 elements cannot be converted to a number \(shape float32\[3\]\)/);
refuses('item() of an empty tensor', () => ones([0]), (x) => x.item(), TypeError, /^item: a tensor with 0 elements cannot be converted/);
refuses('reshape of 6 elements to [4, 2]', () => ones([2, 3]), (x) => x.reshape(4, 2), RangeError,
  /^reshape: shape \[4, 2\] is invalid for input float32\[2, 3\] of 6 elements/);
refuses('reshape with two inferred dimensions', () => ones([2, 3]), (x) => x.reshape(-1, -1), RangeError,
  /^reshape: only one dimension can be inferred \(-1\), got \[-1, -1\]/);
refuses('reshape to [-1, 4] of 6 elements', () => ones([2, 3]), (x) => x.reshape(-1, 4), RangeError, /^reshape: shape \[-1, 4\] is invalid for input float32\[2, 3\]/);
refuses('reshape with a negative size', () => ones([2, 3]), (x) => x.reshape(-2, 3), Error, /^reshape: invalid shape dimension -2 \[self=float32\[2, 3\]/);
refuses('reshape with a fractional size', () => ones([2, 3]), (x) => x.reshape(2, 1.5), TypeError, /^reshape: sizes must be integers, got \[2, 1\.5\]/);
refuses('view to the wrong number of elements', () => ones([2, 3]), (x) => x.view(4, 2), RangeError,
  /^view: shape \[4, 2\] is invalid for input float32\[2, 3\] of 6 elements/);
refuses('view of a non-contiguous tensor', () => ones([2, 3]).transpose(0, 1), (x) => x.view(6), Error,
  /^view: view size is not compatible with input tensor's size and stride.*Use \.reshape\(\.\.\.\) instead\. \[self=float32\[3, 2\], size=\[6\]\]/);
refuses('expand [2, 3] to [3, 3]', () => ones([2, 3]), (x) => x.expand(3, 3), Error,
  /^expand: The expanded size of the tensor \(3\) must match the existing size \(2\) at non-singleton dimension 0\.\s+Target sizes: \[3, 3\]\.\s+Tensor sizes: \[2, 3\]/);
refuses('in-place add on an expanded tensor', () => ones([1, 3]).expand(2, 3), (x) => x.add_(1), Error,
  /^add_\.Scalar: unsupported operation: more than one element of the written-to tensor refers to a single memory location/);
refuses('permute with a repeated dim', () => ones([2, 3]), (x) => x.permute(0, 0), Error,
  /^permute: permute\(\): duplicate dims are not allowed\. \[self=float32\[2, 3\]\]/);
refuses('sum over dim 2 of a 2-D tensor', () => ones([2, 3]), (x) => x.sum(2), Error,
  /^sum\.dim_IntList: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\) \[self=float32\[2, 3\]/);
refuses('softmax over dim 2 of a 2-D tensor', () => ones([2, 3]), (x) => F.softmax(x, 2), Error,
  /^softmax\.int: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)/);
refuses('transpose of dims 0 and 2 of a 2-D tensor', () => ones([2, 3]), (x) => x.transpose(0, 2), Error,
  /^transpose\.int: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\) \[self=float32\[2, 3\], dim0=0, dim1=2\]/);
refuses('squeeze of dim -3 of a 2-D tensor', () => ones([2, 3]), (x) => x.squeeze(-3), Error,
  /^squeeze\.dim: Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)/);
refuses('size(5) of a 2-D tensor', () => ones([2, 3]), (x) => x.size(5), RangeError, /^size: dimension 5 is out of range for a tensor of shape \[2, 3\]/);

// ---- devices ------------------------------------------------------------------------

test("zeros on 'cuda' without CUDA", (t) => {
  if (cudaIsAvailable()) {
    t.skip('this libtorch has CUDA, so the call is valid');
    return;
  }
  const before = liveTensors();
  assert.throws(() => zeros([2], { device: 'cuda' }), (e: Error) => e instanceof Error && /^device 'cuda' is not available: this libtorch build has no CUDA support/.test(e.message));
  assert.equal(liveTensors(), before);
});
refuses("zeros on device 'gpu'", none, () => zeros([2], { device: 'gpu' as 'cpu' }), TypeError, /^unknown device 'gpu'; expected 'cpu', 'cuda' or 'cuda:N'/);
// Without CUDA there is no device 7; with fewer than 8 GPUs neither.
refuses("zeros on 'cuda:7'", none, () => zeros([2], { device: 'cuda:7' }), Error, /^device 'cuda:7' (is not available|does not exist)/);
refuses("tensor() on device 'gpu'", none, () => tensor([1], { device: 'gpu' as 'cpu' }), TypeError, /^unknown device 'gpu'/);
refuses("to('gpu')", () => ones([2]), (x) => x.to('gpu' as 'cpu'), TypeError, /^to: 'gpu' is neither a dtype \(float32,.*\) nor a device \('cpu', 'cuda', 'cuda:N'\)/);
refuses("to({ device: 'gpu' })", () => ones([2]), (x) => x.to({ device: 'gpu' as 'cpu' }), TypeError, /^unknown device 'gpu'/);

// ---- disposed tensors ---------------------------------------------------------------

const disposed = (): Tensor => {
  const t = ones([2]);
  t.dispose();
  return t;
};
refuses('a disposed tensor as self', disposed, (x) => x.add(1), Error, /tensor has been disposed and can no longer be used/);
refuses('a disposed tensor as the argument', () => [ones([2]), disposed()], ([a, b]) => a.add(b), Error, /tensor has been disposed/);
refuses('a disposed tensor inside the list for cat', () => [ones([2]), disposed()], (ts) => cat(ts), Error, /tensor has been disposed/);
refuses('a disposed tensor as the gradient for backward', () => [ones([2], { requiresGrad: true }).mul(2), disposed()], ([y, g]) => y.backward(g), Error,
  /tensor has been disposed/);
refuses('a disposed tensor to a functional op', disposed, (x) => F.relu(x), Error, /tensor has been disposed/);
refuses('the shape of a disposed tensor', disposed, (x) => x.shape, Error, /tensor has been disposed/);

test('dispose twice is harmless', () => {
  const before = liveTensors();
  const t = ones([2]);
  t.dispose();
  t.dispose();
  assert.equal(t.isDisposed, true);
  assert.equal(liveTensors(), before);
});

// ---- autograd misuse ------------------------------------------------------------------

refuses('backward on a tensor that does not require grad', () => ones([2]).sum(), (y) => y.backward(), TypeError,
  /^backward: element 0 of tensors does not require grad and has no grad_fn/);
refuses('backward on a non-scalar without a gradient', () => ones([2], { requiresGrad: true }).mul(2), (y) => y.backward(), TypeError,
  /^backward: grad can be implicitly created only for scalar outputs; this output has shape float32\[2\], so pass a gradient/);
refuses('backward with a gradient of another shape', () => [ones([1], { requiresGrad: true }).mul(2), ones([2])], ([y, g]) => y.backward(g), RangeError,
  /^backward: gradient 0 float32\[2\] does not match the shape of output 0 float32\[1\]/);
refuses('grad() of an input not in the graph without allowUnused', () => {
  const x = ones([2], { requiresGrad: true });
  return [x.mul(2).sum(), ones([2], { requiresGrad: true })];
}, ([y, unused]) => grad(y, unused), Error, /^grad: One of the differentiated Tensors appears to not have been used in the graph/);
refuses('grad() with respect to a tensor that does not require grad', () => [ones([2], { requiresGrad: true }).mul(2).sum(), ones([2])], ([y, x]) => grad(y, x), TypeError,
  /^grad: input 0 does not require grad/);
refuses('grad() with a gradOutput of another shape', () => {
  const x = ones([1], { requiresGrad: true });
  return [x.mul(2), x, ones([3])];
}, ([y, x, g]) => grad(y, x, { gradOutputs: [g] }), RangeError, /^grad: gradient 0 float32\[3\] does not match the shape of output 0 float32\[1\]/);
refuses('a second backward through a freed graph', () => {
  const loss = ones([2], { requiresGrad: true }).mul(ones([2])).exp().sum();
  loss.backward();
  return loss;
}, (loss) => loss.backward(), Error, /^backward: Trying to backward through the graph a second time/);
refuses('backward after a saved tensor was changed in place', () => {
  const y = ones([2], { requiresGrad: true }).mul(1).exp();
  y.mul_(2);
  return y.sum();
}, (loss) => loss.backward(), Error, /^backward: one of the variables needed for gradient computation has been modified by an inplace operation/);
refuses('an in-place op on a leaf that requires grad', () => ones([2], { requiresGrad: true }), (x) => x.add_(1), Error,
  /^add_\.Scalar: a leaf Variable that requires grad is being used in an in-place operation/);
refuses('requiresGrad_ on an int64 tensor', () => arange(3), (x) => x.requiresGrad_(), Error,
  /^requiresGrad_: Only Tensors of floating point and complex dtype can require gradients/);
refuses('an int64 tensor created with requiresGrad', none, () => tensor([1, 2], { dtype: 'int64', requiresGrad: true }), Error,
  /^requiresGrad_: Only Tensors of floating point and complex dtype can require gradients/);
refuses('requiresGrad_(false) on a computed tensor', () => ones([2], { requiresGrad: true }).mul(2), (y) => y.requiresGrad_(false), Error,
  /^requiresGrad_: only leaf tensors can stop requiring grad; float32\[2\] was computed by MulBackward\d, use detach\(\) instead/);
refuses('retainGrad on a tensor that does not require grad', () => ones([2]), (x) => x.retainGrad(), Error,
  /^retainGrad: can't retain_grad on Tensor that has requires_grad=False/);
refuses('assigning a grad of another shape', () => [ones([2], { requiresGrad: true }), ones([3])], ([x, g]) => { x.grad = g; }, TypeError,
  /^grad: assigned grad float32\[3\] does not match the tensor float32\[2\]/);

// ---- NaN, infinities and impossible ranges ----------------------------------------------

refuses('binaryCrossEntropy of an input above 1', () => [tensor([1.5, 0.5]), tensor([1, 0])], ([x, t]) => F.binaryCrossEntropy(x, t), Error,
  /^binary_cross_entropy: all elements of input should be between 0 and 1 \[self=float32\[2\]/);
refuses('binaryCrossEntropy of a NaN input', () => [tensor([NaN, 0.5]), tensor([1, 0])], ([x, t]) => F.binaryCrossEntropy(x, t), Error,
  /^binary_cross_entropy: all elements of input should be between 0 and 1/);
refuses('linspace with steps -1', none, () => linspace(0, 1, -1), RangeError, /^linspace: steps must be a non-negative integer, got -1/);
refuses('arange with step 0', none, () => arange(0, 1, 0), RangeError, /^arange: step must not be zero/);
refuses('arange with a step of the wrong sign', none, () => arange(0, 10, -1), RangeError, /^arange: the range from 0 to 10 cannot be reached with step -1/);
refuses('arange to Infinity', none, () => arange(0, Infinity), TypeError, /^arange: end must be a finite number, got number Infinity/);
refuses('randint with low = high', none, () => randint(5, 5, [2]), RangeError, /^randint: expects integers low < high, got low=5 high=5/);
refuses('randint with low > high', none, () => randint(6, 5, [2]), RangeError, /^randint: expects integers low < high, got low=6 high=5/);
refuses('manualSeed(-1)', none, () => manualSeed(-1), RangeError, /^manualSeed: seed must be a non-negative integer, got -1/);
refuses('manualSeed(1.5)', none, () => manualSeed(1.5), RangeError, /^manualSeed: seed must be a non-negative integer, got 1\.5/);
refuses('bernoulli_ with p = NaN', () => ones([2]), (x) => x.bernoulli_(NaN), RangeError, /^bernoulli_: expects 0 <= p <= 1, got NaN/);
refuses('normal_ with a negative std', () => ones([2]), (x) => x.normal_(0, -1), RangeError, /^normal_: expects std >= 0, got -1/);
refuses('norm with p = NaN', () => ones([2]), (x) => x.norm(NaN), TypeError, /^norm: p must be a number/);
// The raw addon accepts 2^31 − 1 threads, after which the next parallel op ends
// the process inside libgomp; the public function must refuse it first.
refuses('setNumThreads(2^31 − 1)', none, () => setNumThreads(2 ** 31 - 1), RangeError, /^setNumThreads: expects an integer from 1 to \d+, got 2147483647/);
refuses('setNumThreads(0)', none, () => setNumThreads(0), RangeError, /^setNumThreads: expects an integer from 1/);

// ---- bad options ------------------------------------------------------------------------

refuses('maxPool2d with kernel 0', () => ones([1, 1, 4, 4]), (x) => F.maxPool2d(x, 0), RangeError, /^maxPool2d: kernelSize must be integers >= 1, got 0/);
refuses('maxPool2d with a kernel larger than the input', () => ones([1, 1, 2, 2]), (x) => F.maxPool2d(x, 3), Error,
  /^max_pool2d: Given input size: \(1x2x2\)\. Calculated output size: \(1x0x0\)\. Output size is too small/);
refuses('conv2d with stride 0', () => [ones([1, 1, 4, 4]), ones([1, 1, 3, 3])], ([x, w]) => F.conv2d(x, w, null, { stride: 0 }), RangeError,
  /^conv2d: stride must be integers >= 1, got 0/);
refuses('conv2d with negative padding', () => [ones([1, 1, 4, 4]), ones([1, 1, 3, 3])], ([x, w]) => F.conv2d(x, w, null, { padding: -1 }), RangeError,
  /^conv2d: padding must be integers >= 0, got -1/);
refuses('avgPool2d with padding over half the kernel', () => ones([1, 1, 2, 2]), (x) => F.avgPool2d(x, 2, { padding: 2 }), Error,
  /^avg_pool2d: pad should be at most half of kernel size, but got pad=2 and kernel_size=2/);
refuses('dropout with p = 1.5', () => ones([2]), (x) => F.dropout(x, 1.5), RangeError, /^dropout: probability has to be between 0 and 1, got 1\.5/);
refuses('pad with an odd-length padding', () => ones([2, 2]), (x) => F.pad(x, [1]), TypeError, /^pad: padding must be an even-length array of integers, got \[1\]/);
refuses('reflect padding as wide as the input', () => ones([1, 1, 3]), (x) => F.pad(x, [3, 3], { mode: 'reflect' }), Error,
  /^pad: Argument #4: Padding size should be less than the corresponding input dimension, but got: padding \(3, 3\) at dimension 2 of input \[1, 1, 3\]/);
refuses('interpolate with both size and scaleFactor', () => ones([1, 1, 2, 2]), (x) => F.interpolate(x, { size: 4, scaleFactor: 2 }), TypeError,
  /^interpolate: give exactly one of size and scaleFactor/);
refuses('interpolate with an unknown mode', () => ones([1, 1, 2, 2]), (x) => F.interpolate(x, { size: 4, mode: 'trilinear' as 'bilinear' }), TypeError,
  /^interpolate: unknown mode 'trilinear'; expected 'nearest', 'bilinear' or 'bicubic'/);
refuses('an unknown reduction name', () => [ones([2]), ones([2])], ([x, t]) => F.mseLoss(x, t, { reduction: 'avg' as 'mean' }), TypeError,
  /^mseLoss: reduction must be one of 'none', 'mean', 'sum', got 'avg'/);
refuses('labelSmoothing 2', () => [ones([2, 3]), long([0, 1])], ([x, t]) => F.crossEntropy(x, t, { labelSmoothing: 2 }), RangeError,
  /^crossEntropy: labelSmoothing must be in \[0, 1\], got 2/);
refuses('groupNorm with 0 groups', () => ones([2, 3]), (x) => F.groupNorm(x, 0), RangeError, /^groupNorm: 0 groups do not divide the 3 channels of input float32\[2, 3\]/);
refuses('chunk into 0 pieces', () => ones([6]), (x) => x.chunk(0), Error, /^chunk: chunk expects `chunks` to be greater than 0, got: 0/);
refuses('topk with k larger than the tensor', () => ones([6]), (x) => x.topk(9), Error, /^topk: selected index k out of range \[self=float32\[6\], k=9/);

// ---- wrong argument kinds -------------------------------------------------------------

refuses('add of a string', () => ones([2]), (x) => x.add('a' as unknown as number), TypeError, /^add: expected a Tensor or a number, got string a/);
refuses('add of undefined', () => ones([2]), (x) => x.add(undefined as unknown as number), TypeError, /^add: expected a Tensor or a number, got undefined$/);
refuses('add of a plain object', () => ones([2]), (x) => x.add({} as unknown as number), TypeError, /^add: expected a Tensor or a number, got Object/);
refuses('matmul of a string', () => ones([2]), (x) => x.matmul('a' as unknown as Tensor), TypeError, /^matmul: expected a Tensor, got string a/);
refuses('cat of numbers', none, () => cat([1, 2] as unknown as Tensor[]), TypeError, /^cat: element 0 is not a Tensor \(number 1\)/);
refuses('cat of an empty list', none, () => cat([]), TypeError, /^cat: expected a non-empty array of tensors/);
refuses('a functional op given a plain object', none, () => F.relu({} as Tensor), TypeError, /^relu: expected a Tensor, got Object/);
refuses('a functional op given undefined', none, () => F.softmax(undefined as unknown as Tensor, 0), TypeError, /^softmax: expected a Tensor, got undefined/);
refuses('zeros with a negative size', none, () => zeros([2, -1]), RangeError, /^zeros: shape must hold non-negative integers, got \[2, -1\]/);
refuses('zeros with a fractional size', none, () => zeros([2, 1.5]), RangeError, /^zeros: shape must hold non-negative integers, got \[2, 1\.5\]/);
refuses('zeros with a number for a shape', none, () => zeros(3 as unknown as number[]), TypeError, /^zeros: shape must be an array of integers, got number 3/);
refuses('tensor(data, { shape }) with a negative size', none, () => tensor([1, 2, 3, 4], { shape: [4, -1] }), RangeError,
  /^tensor: shape must hold non-negative integers, got \[4, -1\]/);
refuses('tensor(data, { shape }) with a fractional size', none, () => tensor([1, 2, 3, 4], { shape: [2, 1.5] }), RangeError, /^tensor: shape must hold non-negative integers/);
refuses('tensor(data, { shape }) with the wrong element count', none, () => tensor([1, 2, 3, 4], { shape: [3] }), RangeError,
  /^tensor: shape \[3\] needs 3 elements but the data has 4/);
refuses('tensor() of ragged nested arrays', none, () => tensor([[1, 2], [3]]), TypeError, /^tensor: nested arrays are ragged: expected 2 elements at depth 1, got 1/);
refuses('tensor() of a number beside an array', none, () => tensor([[1, 2], 3]), TypeError, /^tensor: nested arrays are ragged: expected 2 elements at depth 1, got number 3/);
refuses('tensor() of a string element', none, () => tensor([1, 'a' as unknown as number]), TypeError, /^tensor: expected a number or boolean at depth 1, got string a/);
refuses('tensor() of a plain object', none, () => tensor({ a: 1 } as unknown as number), TypeError, /^tensor: expected nested arrays of numbers, a number or a typed array, got Object/);
refuses('tensor() of a Uint32Array', none, () => tensor(new Uint32Array(3)), TypeError, /^cannot make a tensor from a Uint32Array: use Float32Array/);
refuses('tensor() of a Uint8ClampedArray', none, () => tensor(new Uint8ClampedArray(3)), TypeError, /^cannot make a tensor from a Uint8ClampedArray/);
refuses('tensor() of a DataView', none, () => tensor(new DataView(new ArrayBuffer(8))), TypeError, /^cannot make a tensor from a DataView/);
test('tensor() of a Float16Array', (t) => {
  const Float16 = (globalThis as Record<string, unknown>).Float16Array as (new (n: number) => ArrayBufferView) | undefined;
  if (Float16 === undefined) {
    t.skip(`this Node (${process.version}) has no Float16Array`);
    return;
  }
  assert.throws(() => tensor(new Float16(3)), /^TypeError: cannot make a tensor from a Float16Array/);
});
refuses("unknown dtype 'float8' in tensor()", none, () => tensor([1, 2], { dtype: 'float8' as 'float32' }), TypeError,
  /^unknown dtype 'float8'; expected one of float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool/);
refuses("unknown dtype 'float8' in zeros()", none, () => zeros([2], { dtype: 'float8' as 'float32' }), TypeError, /^unknown dtype 'float8'/);
refuses("to('float8')", () => ones([2]), (x) => x.to('float8' as 'float32'), TypeError, /^to: 'float8' is neither a dtype/);

// ---- the raw addon: wrong kinds of argument must throw, never abort ------------------------

const addIndex = (): number => native.resolveOp('add', 'Tensor');
refuses('raw add with strings for handles', none, () => native.add('a' as unknown as number, 'b' as unknown as number), TypeError, /must be a tensor/);
refuses('raw add with no arguments', none, () => (native.add as () => number)(), TypeError, /must be a tensor/);
refuses('raw add with a huge handle', none, () => native.add(1e300, 2 ** 53), TypeError, /the tensor has been disposed/);
refuses('raw add with negative handles', none, () => native.add(-1, -5), TypeError, /the tensor has been disposed/);
refuses('raw add with NaN handles', none, () => native.add(NaN, NaN), TypeError, /the tensor has been disposed/);
refuses('raw release of NaN', none, () => native.release(NaN), TypeError, /^dispose: tensor must be an integer, got nan/);
refuses('raw release of a handle never made', none, () => native.release(-1), TypeError, /^dispose: the tensor has already been disposed/);
refuses('raw item of a plain object', none, () => native.item({} as unknown as number), TypeError, /^item: tensor must be a tensor/);
refuses('raw fromBuffer of a string', none, () => native.fromBuffer('abc' as unknown as Float32Array, [1], 6), TypeError, /^tensor: data must be a typed array/);
refuses('raw fromBuffer with a dtype code libtorch lacks', none, () => native.fromBuffer(new Float32Array(2), [2], 99), TypeError, /^tensor: unsupported dtype code 99/);
refuses('raw fromBuffer with too few bytes', none, () => native.fromBuffer(new Float32Array(2), [3], 6), TypeError,
  /^tensor: data holds 8 bytes but shape and dtype need 12/);
refuses('raw fromBuffer with a size that overflows', none, () => native.fromBuffer(new Float32Array(2), [2 ** 40, 2 ** 40], 6), Error,
  /^tensor: Storage size calculation overflowed/);
refuses('raw callOp with an unknown op index', none, () => native.callOp(1e9), TypeError, /unknown op index/);
refuses('raw callOp with a NaN op index', none, () => native.callOp(NaN), TypeError, /op index must be an integer, got nan/);
refuses('raw callOp missing its arguments', none, () => native.callOp(addIndex()), TypeError, /^add\.Tensor: missing argument 'self'/);
refuses('raw callOp with a string for a scalar', () => ones([2]), (x) => native.callOp(addIndex(), x.handle, x.handle, 'x'), TypeError,
  /^add\.Tensor: argument 'alpha' must be a number or a boolean/);
refuses('raw callOp with too many arguments', () => ones([2]), (x) => native.callOp(addIndex(), x.handle, x.handle, 1, 5, 6, 7), TypeError,
  /^add\.Tensor: expected at most 3 arguments, got 6/);
refuses('raw resolveOp of an operator that does not exist', none, () => native.resolveOp('nonexistent', ''), TypeError, /^resolveOp: libtorch has no operator aten::nonexistent/);
refuses('raw backward with a string for the tensor list', none, () => native.backward('x' as unknown as number[], [], true, false), TypeError,
  /^backward: tensors must be an array of tensors/);
refuses('raw setGradEnabled without an argument', none, () => (native.setGradEnabled as () => void)(), TypeError, /^setGradEnabled: enabled must be a boolean/);
refuses('raw setNumThreads(-3)', none, () => native.setNumThreads(-3), TypeError, /^setNumThreads: the number of threads must be at least 1, got -3/);
refuses('raw manualSeed(NaN)', none, () => native.manualSeed(NaN), TypeError, /^manualSeed: seed must be an integer, got nan/);
refuses('raw setRngState of a 3-byte state', () => tensor(new Uint8Array(3)), (s) => native.setRngState(s.handle), Error,
  /^setRngState: Expected either a CPUGeneratorImplStateLegacy of size \d+ or a CPUGeneratorImplState of size \d+ but found the input RNG state size to be 3/);

// ---- after all of the above -------------------------------------------------------------------

test('after every failed call a normal op works and no tensor is left alive', () => {
  const result = scope(() => {
    const a = tensor([[1, 2], [3, 4]]);
    return a.matmul(a).add(1).toArray();
  });
  assert.deepEqual(result, [[8, 11], [16, 23]]); // [[1,2],[3,4]]² = [[7,10],[15,22]], plus 1
  assert.equal(liveTensors(), START);
});
