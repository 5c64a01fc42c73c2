// Box-constrained L-BFGS over a batch of independent problems: known minima
// inside and on the box, every row on its own, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { liveTensors, manualSeed, rand, randn, scope, tensor, type Tensor } from '../../src/index.js';
import { projectedLbfgs } from '../../src/optim/projected-lbfgs.js';
import { assertClose, assertThrowsWith } from '../helpers.js';

// Rosenbrock's function per row of [n, 2]: minimum 0 at (1, 1).
const rosenbrock = (x: Tensor) => {
  const u = x.select(1, 0);
  const v = x.select(1, 1);
  return u.neg().add(1).square().add(v.sub(u.square()).square().mul(100));
};

test('projectedLbfgs finds Rosenbrock minima from several starts, and the minimum on the box where the box cuts it off', () => {
  const before = liveTensors();
  scope(() => {
    const free = projectedLbfgs(rosenbrock, tensor([[-1.2, 1], [0, 0], [2, 2]]), { lower: -3, upper: 3, maxIterations: 200 });
    assertClose(free.x, tensor([[1, 1], [1, 1], [1, 1]]), { atol: 1e-3 });
    assert.ok(free.value.max().item() < 1e-8, `values ${free.value.toArray()}`);
    // With u ≤ 0.5 the minimum is at (0.5, 0.25), where f = 0.25.
    const boxed = projectedLbfgs(rosenbrock, tensor([[-1.2, 1], [0, 0]]), { lower: -3, upper: 0.5, maxIterations: 200 });
    assertClose(boxed.x, tensor([[0.5, 0.25], [0.5, 0.25]]), { atol: 1e-4 });
    assertClose(boxed.value, tensor([0.25, 0.25]), { atol: 1e-6 });
  });
  assert.equal(liveTensors(), before);
});

test('projectedLbfgs: separable quadratics with centres outside the box end at the clamped centres, each row on its own', () => {
  scope(() => {
    manualSeed(0);
    const a = rand([5, 40]).add(0.1);
    const centre = randn([5, 40]);
    const result = projectedLbfgs((x) => x.sub(centre).square().mul(a).sum(1), rand([5, 40]), { lower: -0.5, upper: 0.5 });
    assertClose(result.x, centre.clamp(-0.5, 0.5), { atol: 1e-4 });
    // A row alone converges to the same point as in the batch.
    const alone = projectedLbfgs((x) => x.sub(centre.narrow(0, 2, 1)).square().mul(a.narrow(0, 2, 1)).sum(1), rand([1, 40]), { lower: -0.5, upper: 0.5 });
    assertClose(alone.x, result.x.narrow(0, 2, 1), { atol: 1e-4 });
  });
});

test('projectedLbfgs refuses a bad box, history or objective', () => {
  scope(() => {
    const x = rand([2, 3]);
    assertThrowsWith(() => projectedLbfgs((z) => z.sum(1), x, { lower: 1, upper: 0 }), /projectedLbfgs: the box needs lower < upper, got \[1, 0\]/);
    assertThrowsWith(() => projectedLbfgs((z) => z.sum(1), x, { lower: 0, upper: 1, history: 0 }), /projectedLbfgs: history must be an integer >= 1, got 0/);
    assertThrowsWith(() => projectedLbfgs((z) => z.sum(1), x, { lower: 0, upper: 1, maxIterations: 2.5 }), /projectedLbfgs: maxIterations must be an integer >= 1, got 2.5/);
    assertThrowsWith(() => projectedLbfgs((z) => z.sum(), x, { lower: 0, upper: 1 }), /projectedLbfgs: the objective must return one value per row, \[2\], got/);
  });
});
