import { test } from 'node:test';
import assert from 'node:assert/strict';

import { arange, eye, full, grad, linspace, liveTensors, manualSeed, noGrad, enableGrad, ones, rand, randint, randn, randperm, scope, tensor, zeros, Tensor, getRngState, setRngState, setFlushDenormal } from '../../src/index.js';
import { assertClose } from '../helpers.js';

test('tensors from nested arrays and typed arrays keep shape, dtype and values', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.toArray(), [[1, 2, 3], [4, 5, 6]]);
  const b = tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] });
  assert.equal(b.dtype, 'int32');
  assert.deepEqual(b.toArray(), [[1, 2], [3, 4]]);
  const c = tensor([1, 2], { dtype: 'int64' });
  assert.equal(c.dtype, 'int64');
  assert.deepEqual(Array.from(c.toTypedArray() as BigInt64Array), [1n, 2n]);
  assert.equal(tensor([true, false]).dtype, 'bool');
  assert.equal(tensor(3.5).item(), 3.5);
  assert.deepEqual(tensor(3.5).shape, []);
  for (const dtype of ['float64', 'float16', 'bfloat16', 'int16', 'int8', 'uint8'] as const) {
    const t = tensor([1, 2, 3], { dtype });
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.toArray(), [1, 2, 3], dtype);
  }
});

test('creation functions follow PyTorch', () => {
  assert.deepEqual(zeros([2, 2]).toArray(), [[0, 0], [0, 0]]);
  assert.deepEqual(ones([3], { dtype: 'int32' }).toArray(), [1, 1, 1]);
  assert.deepEqual(full([2], 7).toArray(), [7, 7]);
  assert.deepEqual(arange(4).toArray(), [0, 1, 2, 3]);
  assert.equal(arange(4).dtype, 'int64');
  assertClose(arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75]);
  assertClose(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(eye(2).toArray(), [[1, 0], [0, 1]]);
  const perm = randperm(10).toArray() as number[];
  assert.deepEqual([...perm].sort((x, y) => x - y), [...Array(10).keys()]);
  const r = randint(3, 7, [1000]);
  assert.ok(r.min().item() >= 3 && r.max().item() <= 6);
  const u = rand([10000]);
  // The mean of 10,000 uniforms has standard deviation 0.0029; 0.02 is ~7 sigma.
  assert.ok(Math.abs(u.mean().item() - 0.5) < 0.02);
  const n = randn([10000]);
  assert.ok(Math.abs(n.std().item() - 1) < 0.05);
});

test('manualSeed and the RNG state make random results repeat', () => {
  manualSeed(42);
  const a = randn([5]).toArray();
  manualSeed(42);
  assert.deepEqual(randn([5]).toArray(), a);
  const state = getRngState();
  const b = rand([3]).toArray();
  setRngState(state);
  assert.deepEqual(rand([3]).toArray(), b);
});

test('toString prints like PyTorch', () => {
  assert.equal(tensor([[1, 2], [3, 4]]).toString(), 'tensor([[1., 2.],\n        [3., 4.]])');
  assert.equal(tensor([1.5, 2.25]).toString(), 'tensor([1.5000, 2.2500])');
  assert.equal(arange(3).toString(), 'tensor([0, 1, 2])');
  assert.equal(tensor([1, 2], { dtype: 'float64' }).toString(), 'tensor([1., 2.], dtype=float64)');
  assert.equal(tensor([true, false]).toString(), 'tensor([ True, False])');
  assert.equal(tensor([1], { requiresGrad: true }).toString(), 'tensor([1.], requires_grad=True)');
  assert.match(tensor([1], { requiresGrad: true }).mul(2).toString(), /grad_fn=<MulBackward\d>/);
  assert.match(arange(2000).toString(), /tensor\(\[   0,    1,    2,  \.\.\., 1997, 1998, 1999\]\)/);
});

test('indexing mirrors x[...] in PyTorch', () => {
  const x = arange(24).reshape(2, 3, 4);
  assert.deepEqual(x.index(1, ':', '1:3').toArray(), [[13, 14], [17, 18], [21, 22]]);
  assert.deepEqual(x.index('...', 0).toArray(), [[0, 4, 8], [12, 16, 20]]);
  assert.deepEqual(x.index(0, 0, '::2').toArray(), [0, 2]);
  assert.deepEqual(x.index(null, 0, tensor([0, 2], { dtype: 'int64' })).shape, [1, 2, 4]);
  assert.deepEqual(x.index(0, 0, '-2:').toArray(), [2, 3]);
  const mask = tensor([true, false, true]);
  assert.deepEqual(x.index(0, mask, 0).toArray(), [0, 8]);
});

test('autograd: backward accumulates, grad() does not touch .grad, noGrad stops recording', () => {
  const x = tensor([1, 2, 3], { requiresGrad: true });
  x.mul(x).sum().backward();
  assertClose(x.grad!, [2, 4, 6]);
  x.mul(x).sum().backward();
  assertClose(x.grad!, [4, 8, 12]); // accumulated, as in PyTorch
  const [g] = grad(x.pow(3).sum(), x);
  assertClose(g!, [3, 12, 27]);
  assertClose(x.grad!, [4, 8, 12]);
  const y = noGrad(() => x.mul(2));
  assert.equal(y.requiresGrad, false);
  const z = noGrad(() => enableGrad(() => x.mul(2)));
  assert.equal(z.requiresGrad, true);
  const w = tensor([1, 2], { requiresGrad: true });
  const h = w.mul(3);
  h.retainGrad();
  h.sum().backward();
  assertClose(h.grad!, [1, 1]);
  const v = tensor([1, 2], { requiresGrad: true });
  v.mul(2).backward(tensor([1, 10]));
  assertClose(v.grad!, [2, 20]);
  const [second] = grad(grad(v.pow(3).sum(), v, { createGraph: true })[0]!.sum(), v);
  assertClose(second!, [6, 12]); // d²/dv² v³ = 6v
});

test('scope disposes everything but its result, also across await', async () => {
  const before = liveTensors();
  const kept = scope(() => {
    const a = randn([100]);
    const b = a.mul(2);
    const c = b.add(1);
    return { c, list: [a.sum()] };
  });
  assert.equal(liveTensors() - before, 2);
  assert.equal(kept.c.isDisposed, false);
  kept.c.dispose();
  kept.list[0].dispose();
  const result = await scope(async () => {
    const a = randn([10]);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const b = a.mul(a);
    return b.sum();
  });
  assert.equal(liveTensors() - before, 1);
  result.dispose();
  const outer = scope(() => {
    const inner = scope(() => randn([3]).mul(2));
    return inner.add(1);
  });
  assert.equal(liveTensors() - before, 1);
  outer.dispose();
  let leaked: Tensor | undefined;
  assert.throws(() => scope(() => {
    leaked = randn([3]);
    throw new Error('boom');
  }), /boom/);
  assert.equal(leaked!.isDisposed, true);
  const param = zeros([2]).keep();
  scope(() => {
    param.add(1);
  });
  assert.equal(param.isDisposed, false);
  param.dispose();
  assert.equal(liveTensors(), before);
});

test('using disposes at the end of the block', () => {
  const before = liveTensors();
  {
    using a = ones([4]);
    assert.equal(a.sum().item(), 4);
  }
  // a.sum() is not inside `using`; it is collected by the finalizer later, so count only `a`.
  assert.ok(liveTensors() - before <= 1);
});

test('setFlushDenormal flushes subnormal results to zero, as PyTorch', (t) => {
  // 1e-39 is subnormal in float32 (the smallest normal is 1.2e-38).
  if (!setFlushDenormal(true)) {
    t.skip('this CPU cannot flush subnormals');
    return;
  }
  try {
    assert.equal(scope(() => tensor([1e-39]).mul(1).item()), 0);
  } finally {
    setFlushDenormal(false);
  }
  assert.ok(scope(() => tensor([1e-39]).mul(1).item()) > 0);
});
