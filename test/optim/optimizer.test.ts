// SGD, Adam and AdamW against PyTorch 1.13 (test/fixtures/optim.json): the
// parameters after every step, the state-dict layout, resuming from a state
// dict, bad options and memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { liveTensors, noGrad, ones, scope, tensor, zeros, type Tensor } from '../../src/index.js';
import { Adam, AdamW, SGD, type Optimizer, type OptimizerStateDict } from '../../src/optim/index.js';
import { assertClose, assertThrowsWith } from '../helpers.js';
import { fixture, fromFlat } from './fixture.js';

interface OptimizerCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  groups: { params: number[]; options: Record<string, unknown> }[] | null;
  dtype: 'float32' | 'float64';
  shapes: number[][];
  params: number[][];
  grads: (number[] | null)[][];
  after: number[][][];
  stateKeys: Record<string, string[]>;
  groupKeys: string[][];
  groupParams: number[][];
}

const cases: OptimizerCase[] = fixture.optimizers;
const byName = (name: string) => cases.find((c) => c.name === name)!;

// Same libtorch kernels on both sides, so the updates agree to rounding: float32
// to 1e-6 relative (a few ulps) with 1e-7 absolute for elements near zero, float64 to 1e-12.
const tolerance = (c: OptimizerCase) => (c.dtype === 'float64' ? { rtol: 1e-12, atol: 1e-14 } : { rtol: 1e-6, atol: 1e-7 });

function makeParams(c: OptimizerCase, values = c.params): Tensor[] {
  return values.map((v, i) => fromFlat(v, c.shapes[i], c.dtype, true));
}

function makeOptimizer(c: OptimizerCase, params: Tensor[], override: Record<string, unknown> = {}): Optimizer {
  const options = { ...c.options, ...override };
  const input = c.groups === null ? params : c.groups.map((g) => ({ params: g.params.map((i) => params[i]), ...g.options }));
  if (c.optimizer === 'SGD') return new SGD(input, options);
  if (c.optimizer === 'Adam') return new Adam(input, options);
  return new AdamW(input, options);
}

/** Gives each parameter the fixture's gradient for step k (none where the fixture has null). */
function setGrads(c: OptimizerCase, params: Tensor[], k: number): void {
  scope(() => {
    params.forEach((p, i) => {
      const g = c.grads[k][i];
      p.grad = g === null ? null : fromFlat(g, c.shapes[i], c.dtype);
    });
  });
}

function runSteps(c: OptimizerCase, opt: Optimizer, params: Tensor[], from: number, to: number, check: boolean): void {
  for (let k = from; k < to; k++) {
    opt.zeroGrad({ setToNone: true });
    setGrads(c, params, k);
    opt.step();
    if (check) params.forEach((p, i) => assertClose(p, fromFlat(c.after[k][i], c.shapes[i], c.dtype), tolerance(c), `${c.name}, step ${k + 1}, param ${i}:`));
  }
}

for (const c of cases) {
  test(`${c.name}: parameters after each of ${c.after.length} steps match PyTorch`, () => {
    scope(() => {
      const params = makeParams(c);
      const opt = makeOptimizer(c, params);
      runSteps(c, opt, params, 0, c.after.length, true);
      opt.dispose();
    });
  });
}

// PyTorch's flags that pick an implementation (foreach, fused, …) are not ours.
const IMPLEMENTATION_FLAGS = new Set(['foreach', 'differentiable', 'capturable', 'fused']);

test('state dicts have PyTorch\'s layout: state keyed by parameter index, groups listing indices', () => {
  for (const c of cases) {
    scope(() => {
      const params = makeParams(c);
      const opt = makeOptimizer(c, params);
      runSteps(c, opt, params, 0, c.after.length, false);
      const sd = opt.stateDict();
      const stateKeys = Object.fromEntries(Object.entries(sd.state).map(([k, v]) => [k, Object.keys(v).sort()]));
      assert.deepEqual(stateKeys, c.stateKeys, c.name);
      assert.deepEqual(sd.param_groups.map((g) => Object.keys(g).sort()), c.groupKeys.map((keys) => keys.filter((k) => !IMPLEMENTATION_FLAGS.has(k))), c.name);
      assert.deepEqual(sd.param_groups.map((g) => g.params), c.groupParams, c.name);
      for (const entry of Object.values(sd.state)) {
        for (const [key, value] of Object.entries(entry)) {
          if (value === null) continue;
          assert.ok(typeof value === 'object' && !value.isKept, `${c.name}: ${key} is a copy the caller owns`);
          // PyTorch 1.13 keeps Adam's step as a float32 scalar tensor.
          if (key === 'step') assert.equal(value.describe(), 'float32[]');
        }
      }
      opt.dispose();
    });
  }
});

/** A state dict passed through plain numbers and back, as a checkpoint file would carry it. */
function throughPlainData(sd: OptimizerStateDict): OptimizerStateDict {
  const state: OptimizerStateDict['state'] = {};
  for (const [k, entry] of Object.entries(sd.state)) {
    state[Number(k)] = Object.fromEntries(Object.entries(entry).map(([key, v]) => {
      if (v === null || typeof v === 'number') return [key, v];
      const copy = tensor(v.toTypedArray(), { shape: [...v.shape] });
      v.dispose();
      return [key, copy];
    }));
  }
  return { state, param_groups: JSON.parse(JSON.stringify(sd.param_groups)) };
}

for (const name of ['sgd plain', 'sgd momentum', 'sgd nesterov float64', 'adam amsgrad', 'adamw', 'adam two groups', 'sgd two groups']) {
  test(`${name}: an optimizer restored from a state dict after 3 steps continues exactly like the uninterrupted one`, () => {
    scope(() => {
      const c = byName(name);
      const split = 3;
      const params = makeParams(c);
      const opt = makeOptimizer(c, params);
      runSteps(c, opt, params, 0, split, false);
      const saved = throughPlainData(opt.stateDict());
      runSteps(c, opt, params, split, c.after.length, true);

      // A fresh optimizer over parameters holding the values at the split, built with
      // other hyper-parameters: loading restores the saved ones.
      const resumed = makeParams(c, c.after[split - 1]);
      const other = makeOptimizer(c, resumed, { lr: 0.5 });
      other.loadStateDict(saved);
      assert.equal(other.paramGroups[0].lr, opt.paramGroups[0].lr);
      runSteps(c, other, resumed, split, c.after.length, true);
      resumed.forEach((p, i) => assert.ok(noGrad(() => p.equal(params[i])), `${name}: param ${i} is bit-identical to the uninterrupted run`));
      opt.dispose();
      other.dispose();
    });
  });
}

test('a PyTorch state dict with implementation flags off and a numeric step loads', () => {
  scope(() => {
    const c = byName('adam');
    const params = makeParams(c);
    const opt = makeOptimizer(c, params);
    runSteps(c, opt, params, 0, 2, false);
    const sd = opt.stateDict();
    for (const entry of Object.values(sd.state)) {
      (entry.step as Tensor).dispose();
      entry.step = 2; // PyTorch before 1.12 saved the step as a number
    }
    Object.assign(sd.param_groups[0], { foreach: null, capturable: false, differentiable: false, fused: false });
    const resumed = makeParams(c, c.after[1]);
    const other = makeOptimizer(c, resumed);
    other.loadStateDict(sd);
    assert.equal(other.stateOf(resumed[0])!.step!.item(), 2);
    runSteps(c, other, resumed, 2, c.after.length, true);
    sd.param_groups[0].fused = true;
    assertThrowsWith(() => other.loadStateDict(sd), /'fused' is true, which NetLab does not implement/);
    opt.dispose();
    other.dispose();
  });
});

test('loadStateDict rejects mismatched groups, sizes, shapes and foreign state, and changes nothing then', () => {
  scope(() => {
    const c = byName('adam amsgrad');
    const params = makeParams(c);
    const opt = makeOptimizer(c, params);
    runSteps(c, opt, params, 0, 2, false);
    const good = opt.stateDict();
    const expAvgBefore = opt.stateOf(params[0])!.expAvg!.clone();

    const twoGroups = { ...good, param_groups: [good.param_groups[0], { ...good.param_groups[0], params: [] }] };
    assertThrowsWith(() => opt.loadStateDict(twoGroups), /has 2 parameter groups, the optimizer has 1/);
    const shortGroup = { ...good, param_groups: [{ ...good.param_groups[0], params: [0, 1] }] };
    assertThrowsWith(() => opt.loadStateDict(shortGroup), /param_groups\[0\] has 2 parameters, the optimizer's group has 3/);
    const wrongShape = { ...good, state: { ...good.state, 0: { ...good.state[0], exp_avg: zeros([3, 2]) } } };
    assertThrowsWith(() => opt.loadStateDict(wrongShape), /state\[0\]\.exp_avg has shape \[3, 2\] but its parameter has shape \[2, 3\]/);
    const missing = { ...good, state: { ...good.state, 1: { step: 1, exp_avg: zeros([4]), exp_avg_sq: zeros([4]) } } };
    assertThrowsWith(() => opt.loadStateDict(missing), /state\[1\] lacks 'max_exp_avg_sq'/);
    const foreignState = { ...good, state: { ...good.state, 1: { momentum_buffer: zeros([4]) } } };
    assertThrowsWith(() => opt.loadStateDict(foreignState), /unknown state 'momentum_buffer' for Adam/);
    const unlisted = { ...good, state: { ...good.state, 7: good.state[0] } };
    assertThrowsWith(() => opt.loadStateDict(unlisted), /entry for parameter 7, which no group lists/);
    const badLr = { ...good, param_groups: [{ ...good.param_groups[0], lr: -1 }] };
    assertThrowsWith(() => opt.loadStateDict(badLr), /invalid learning rate number -1/);

    const sgdParams = makeParams(byName('sgd momentum'));
    const sgd = new SGD(sgdParams, { lr: 0.1 });
    assertThrowsWith(() => sgd.loadStateDict(good), /unknown option 'betas' for SGD \(a state dict from another optimizer\?\)/);
    assertThrowsWith(() => opt.loadStateDict({ state: {} } as unknown as OptimizerStateDict), /expected \{ state, param_groups \}/);

    // Nothing changed: same state, same options, and the run still matches PyTorch.
    assert.ok(opt.stateOf(params[0])!.expAvg!.equal(expAvgBefore));
    assert.equal(opt.paramGroups[0].lr, c.options.lr);
    runSteps(c, opt, params, 2, c.after.length, true);
    opt.dispose();
    sgd.dispose();
  });
});

test('bad options and parameters throw clear errors', () => {
  scope(() => {
    const p = zeros([2], { requiresGrad: true });
    const q = zeros([3], { requiresGrad: true });
    assertThrowsWith(() => new SGD([p], { lr: -0.1 }), /SGD: param group 0: invalid learning rate number -0\.1/);
    assertThrowsWith(() => new SGD([p]), /lr is required/);
    assertThrowsWith(() => new SGD([p], { lr: 0.1, momentum: -0.9 }), /invalid momentum number -0\.9/);
    assertThrowsWith(() => new SGD([p], { lr: 0.1, weightDecay: -1 }), /invalid weight_decay/);
    assertThrowsWith(() => new SGD([p], { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum > 0 and zero dampening/);
    assertThrowsWith(() => new SGD([p], { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }), /Nesterov momentum requires/);
    assertThrowsWith(() => new SGD([{ params: [p] }, { params: [q], nesterov: true }], { lr: 0.1 }), /param group 1: Nesterov/);
    assertThrowsWith(() => new SGD([p], { lr: 0.1, weight_decay: 0.1 } as never), /unknown option 'weight_decay'; SGD takes/);
    assertThrowsWith(() => new Adam([p], { betas: [1, 0.999] }), /invalid beta parameter at index 0: number 1; expected 0 <= beta < 1/);
    assertThrowsWith(() => new Adam([p], { betas: [0.9, -0.1] }), /invalid beta parameter at index 1/);
    assertThrowsWith(() => new Adam([p], { betas: [0.9] as never }), /betas must be a pair/);
    assertThrowsWith(() => new AdamW([p], { eps: -1e-8 }), /invalid epsilon value/);
    assertThrowsWith(() => new Adam([p], { lr: NaN }), /invalid learning rate number NaN/);
    assertThrowsWith(() => new Adam([p], { amsgrad: 1 as never }), /amsgrad must be a boolean/);
    assertThrowsWith(() => new Adam([]), /Adam: optimizer got an empty parameter list/);
    assertThrowsWith(() => new Adam(p as never), /params must be an array/);
    assertThrowsWith(() => new Adam([p, p]), /params\[1\] appears twice in the group/);
    assertThrowsWith(() => new Adam([{ params: [p] }, { params: [q, p] }]), /some parameters appear in more than one parameter group/);
    assertThrowsWith(() => new Adam([p, 3 as never]), /optimizer can only optimize Tensors, but params\[1\] is number 3/);
    assertThrowsWith(() => new Adam([p.mul(2)]), /params\[0\] is not a leaf tensor/);
    const gone = zeros([1]);
    gone.dispose();
    assertThrowsWith(() => new Adam([gone]), /params\[0\] has been disposed/);
  });
});

test('groups take their own options and fall back to the defaults; addParamGroup adds one', () => {
  scope(() => {
    const [a, b, c] = [zeros([2], { requiresGrad: true }), zeros([2], { requiresGrad: true }), zeros([2], { requiresGrad: true })];
    const opt = new Adam([{ params: [a] }, { params: [b], lr: 0.5, betas: [0.5, 0.6] }], { lr: 0.1, weightDecay: 0.01 });
    assert.equal(opt.paramGroups[0].lr, 0.1);
    assert.deepEqual(opt.paramGroups[1].betas, [0.5, 0.6]);
    assert.equal(opt.paramGroups[1].weightDecay, 0.01);
    opt.paramGroups[0].betas[0] = 0.1;
    opt.addParamGroup({ params: [c], amsgrad: true });
    assert.deepEqual(opt.paramGroups[2].betas, [0.9, 0.999], 'groups do not share the betas array');
    assert.equal(opt.paramGroups[2].amsgrad, true);
    assertThrowsWith(() => opt.addParamGroup({ params: [a] }), /some parameters appear in more than one parameter group/);
    opt.dispose();
  });
});

test('zeroGrad zeroes gradients by default, as PyTorch 1.13\'s zero_grad(set_to_none=False), or drops them', () => {
  scope(() => {
    const p = ones([3], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1 });
    p.mul(p).sum().backward();
    opt.zeroGrad();
    assert.deepEqual(p.grad!.toArray(), [0, 0, 0]);
    p.mul(3).sum().backward();
    assert.deepEqual(p.grad!.toArray(), [3, 3, 3], 'a zeroed gradient accumulates afresh');
    opt.zeroGrad({ setToNone: true });
    assert.equal(p.grad, null);
    opt.step();
    assert.deepEqual(p.toArray(), [1, 1, 1], 'a parameter without a gradient is left alone');
    assert.equal(opt.stateOf(p), undefined);
    opt.dispose();
  });
});

test('step() runs without autograd and returns the closure\'s loss', () => {
  scope(() => {
    const p = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.5, momentum: 0.9 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      const l = p.mul(p).sum();
      l.backward();
      return l;
    });
    assert.equal(loss!.item(), 5);
    // d(p·p)/dp = 2p, so p ← p − 0.5·2p = 0.
    assert.deepEqual(p.toArray(), [0, 0]);
    assert.equal(p.gradFn, null, 'the update is not recorded');
    assert.ok(p.isLeaf);
    opt.dispose();
  });
});

test('steps hold the number of live tensors flat, and dispose() frees the state', () => {
  for (const name of ['sgd nesterov', 'adam amsgrad', 'adamw']) {
    const c = byName(name);
    const params = makeParams(c);
    const opt = makeOptimizer(c, params);
    const before = liveTensors();
    runSteps(c, opt, params, 0, 2, false);
    const afterTwo = liveTensors();
    runSteps(c, opt, params, 2, c.after.length, false);
    assert.equal(liveTensors(), afterTwo, `${name}: later steps allocate nothing that survives`);
    // Adam keeps step, exp_avg, exp_avg_sq and max_exp_avg_sq per parameter; SGD one buffer.
    const perParam = c.optimizer === 'SGD' ? 1 : c.options.amsgrad ? 4 : 3;
    // Gradients live inside their parameters, not as handles, so only the state counts.
    assert.equal(afterTwo - before, perParam * params.length, `${name}: the state tensors`);
    opt.dispose();
    assert.equal(liveTensors(), before, `${name}: dispose() frees the state`);
    assertThrowsWith(() => opt.step(), /this optimizer has been disposed/);
    for (const p of params) p.dispose();
  }
});
