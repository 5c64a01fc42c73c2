// Learning-rate schedules against torch.optim.lr_scheduler in PyTorch 1.13
// (test/fixtures/optim.json), resuming from state dicts, and bad options.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { scope, tensor, zeros } from '../../src/index.js';
import {
  CosineWarmupLR,
  InverseSqrtLR,
  LambdaLR,
  MultiStepLR,
  ReduceLROnPlateau,
  SGD,
  StepLR,
  type LRScheduler,
  type SchedulerStateDict,
} from '../../src/optim/index.js';
import { assertThrowsWith } from '../helpers.js';
import { fixture } from './fixture.js';

interface ScheduleCase {
  kind: string;
  options: Record<string, any>;
  metrics: number[] | null;
  lrs: number[][];
}

const baseLrs: number[] = fixture.schedules.baseLrs;
const cases: ScheduleCase[] = fixture.schedules.cases;

// The fixture's LambdaLR functions, by the names the Python script gives them.
const LAMBDAS: Record<string, (t: number) => number> = { '0.95^t': (t) => 0.95 ** t, '1/(1+t)': (t) => 1 / (1 + t) };

type Schedule = LRScheduler | ReduceLROnPlateau;

/** An SGD over two one-element parameters, one group each, with the fixture's base lrs. */
function makeOptimizer(): SGD {
  return new SGD(baseLrs.map((lr) => ({ params: [zeros([1], { requiresGrad: true })], lr })), { lr: baseLrs[0] });
}

function makeSchedule(c: ScheduleCase, opt: SGD): Schedule {
  switch (c.kind) {
    case 'StepLR': return new StepLR(opt, c.options as never);
    case 'MultiStepLR': return new MultiStepLR(opt, c.options as never);
    case 'ReduceLROnPlateau': return new ReduceLROnPlateau(opt, c.options);
    case 'CosineWarmupLR': return new CosineWarmupLR(opt, c.options as never);
    case 'InverseSqrtLR': return new InverseSqrtLR(opt, c.options as never);
    case 'LambdaLR': return new LambdaLR(opt, { lrLambda: (c.options.lambdas as string[]).map((name) => LAMBDAS[name]) });
    default: throw new Error(`unknown schedule ${c.kind} in the fixture`);
  }
}

function advance(c: ScheduleCase, schedule: Schedule, t: number): void {
  if (schedule instanceof ReduceLROnPlateau) schedule.step(c.metrics![t]);
  else schedule.step();
}

const lrsOf = (opt: SGD) => opt.paramGroups.map((g) => g.lr);

// Schedules are double-precision arithmetic on both sides. StepLR, MultiStepLR
// and ReduceLROnPlateau do the same multiplications in the same order, so they
// must agree exactly. The closed forms are compared with LambdaLR's
// base·(f/base) in Python, and cos and pow may differ in the last bit between
// V8 and glibc: 1e-12 relative (measured: at most 4.5e-16).
const EXACT = new Set(['StepLR', 'MultiStepLR', 'ReduceLROnPlateau']);

function assertLrs(kind: string, actual: number[], expected: number[], message: string): void {
  const rtol = EXACT.has(kind) ? 0 : 1e-12;
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.ok(Math.abs(a - e) <= rtol * Math.abs(e), `${message}: group ${i} lr ${a}, PyTorch ${e}`);
  });
}

cases.forEach((c, n) => {
  const label = `${c.kind} ${JSON.stringify(c.options)}`;
  test(`${label}: learning rates over ${c.lrs.length - 1} steps match PyTorch`, () => {
    const opt = makeOptimizer();
    const schedule = makeSchedule(c, opt);
    assertLrs(c.kind, lrsOf(opt), c.lrs[0], `${label} after construction`);
    for (let t = 0; t < c.lrs.length - 1; t++) {
      opt.step();
      advance(c, schedule, t);
      assertLrs(c.kind, lrsOf(opt), c.lrs[t + 1], `${label} after step ${t + 1}`);
      assert.deepEqual(schedule.getLastLr(), lrsOf(opt));
    }
    opt.dispose();
  });

  test(`${label}: a schedule restored mid-way continues exactly like the uninterrupted one (case ${n})`, () => {
    const split = 11; // past the first decay of every fixture schedule
    const opt = makeOptimizer();
    const schedule = makeSchedule(c, opt);
    for (let t = 0; t < split; t++) advance(c, schedule, t);
    // Through JSON, as a checkpoint carries it.
    const savedOpt = JSON.parse(JSON.stringify(opt.stateDict()));
    const savedSchedule: SchedulerStateDict = JSON.parse(JSON.stringify(schedule.stateDict()));

    const opt2 = makeOptimizer();
    const schedule2 = makeSchedule(c, opt2);
    schedule2.loadStateDict(savedSchedule);
    opt2.loadStateDict(savedOpt);
    assert.deepEqual(lrsOf(opt2), lrsOf(opt));
    for (let t = split; t < c.lrs.length - 1; t++) {
      advance(c, schedule, t);
      advance(c, schedule2, t);
      assert.deepEqual(lrsOf(opt2), lrsOf(opt), `${label} after step ${t + 1}`);
      assertLrs(c.kind, lrsOf(opt2), c.lrs[t + 1], `${label} after step ${t + 1}`);
    }
    opt.dispose();
    opt2.dispose();
  });
});

test('schedules record initial_lr in the optimizer\'s groups and their progress in PyTorch\'s keys', () => {
  const opt = makeOptimizer();
  const schedule = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
  schedule.step();
  schedule.step();
  assert.deepEqual(opt.stateDict().param_groups.map((g) => g.initial_lr), baseLrs);
  assert.deepEqual(schedule.stateDict(), { step_size: 2, gamma: 0.5, base_lrs: baseLrs, last_epoch: 2, _step_count: 3, _last_lr: baseLrs.map((lr) => lr * 0.5) });
  // A second schedule on the same optimizer keeps the first's initial lr as its base.
  const second = new LambdaLR(opt, { lrLambda: () => 1 });
  assert.deepEqual(second.getLastLr(), baseLrs);
  opt.dispose();
});

test('StepLR multiplies the current lr, so an lr changed from outside carries on (PyTorch\'s chainable form)', () => {
  const opt = makeOptimizer();
  const schedule = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
  opt.paramGroups[0].lr = 1;
  schedule.step();
  schedule.step();
  assert.equal(opt.paramGroups[0].lr, 0.5);
  opt.dispose();
});

test('ReduceLROnPlateau takes a one-element tensor as the metric', () => {
  scope(() => {
    const opt = makeOptimizer();
    const plateau = new ReduceLROnPlateau(opt, { patience: 0 });
    plateau.step(tensor(1));
    plateau.step(tensor([2]));
    assert.deepEqual(plateau.getLastLr(), baseLrs.map((lr) => lr * 0.1));
    assertThrowsWith(() => plateau.step(tensor([1, 2])), /metric must be a number or a one-element tensor/);
    opt.dispose();
  });
});

test('bad schedule options throw clear errors', () => {
  const opt = makeOptimizer();
  assertThrowsWith(() => new StepLR({} as never, { stepSize: 1 }), /StepLR: expected an Optimizer/);
  assertThrowsWith(() => new StepLR(opt, { stepSize: 0 }), /stepSize must be an integer >= 1, got number 0/);
  assertThrowsWith(() => new StepLR(opt, { stepSize: 2, gama: 0.1 } as never), /unknown option 'gama'/);
  assertThrowsWith(() => new MultiStepLR(opt, { milestones: [5, 3] }), /milestones must be non-decreasing/);
  assertThrowsWith(() => new MultiStepLR(opt, { milestones: [1.5] }), /milestones\[0\] must be an integer/);
  assertThrowsWith(() => new LambdaLR(opt, { lrLambda: [() => 1] }), /expected 2 lrLambdas \(one per parameter group\), got 1/);
  assertThrowsWith(() => new LambdaLR(opt, { lrLambda: 0.5 as never }), /lrLambda must be a function of the epoch/);
  assertThrowsWith(() => new CosineWarmupLR(opt, { warmupSteps: 10, totalSteps: 5 }), /totalSteps must be an integer >= 10/);
  assertThrowsWith(() => new CosineWarmupLR(opt, { warmupSteps: 1, totalSteps: 5, minLr: -1 }), /minLr must be a finite number >= 0/);
  assertThrowsWith(() => new InverseSqrtLR(opt, { dModel: 512, warmupSteps: 0 }), /warmupSteps must be an integer >= 1/);
  assertThrowsWith(() => new ReduceLROnPlateau(opt, { factor: 1 }), /factor must be in \[0, 1\)/);
  assertThrowsWith(() => new ReduceLROnPlateau(opt, { mode: 'maximum' as never }), /mode string maximum is unknown; expected 'min' or 'max'/);
  assertThrowsWith(() => new ReduceLROnPlateau(opt, { thresholdMode: 'relative' as never }), /threshold mode string relative is unknown/);
  assertThrowsWith(() => new ReduceLROnPlateau(opt, { minLr: [0.1] }), /minLr must be a list of 2 numbers/);
  assertThrowsWith(() => new ReduceLROnPlateau(opt, { patience: -1 }), /patience must be an integer >= 0/);
  opt.dispose();
});

test('loadStateDict refuses another schedule\'s state and malformed progress', () => {
  const opt = makeOptimizer();
  const step = new StepLR(opt, { stepSize: 3 });
  const saved = step.stateDict();
  assertThrowsWith(() => new StepLR(opt, { stepSize: 4 }).loadStateDict(saved), /step_size is 3 in the state dict but 4 in this schedule/);
  assertThrowsWith(() => new MultiStepLR(opt, { milestones: [1] }).loadStateDict(saved), /the state dict lacks 'milestones'/);
  assertThrowsWith(() => step.loadStateDict({ ...saved, base_lrs: [0.1] }), /base_lrs must be a list of 2 numbers/);
  assertThrowsWith(() => step.loadStateDict({ ...saved, last_epoch: 1.5 }), /last_epoch must be an integer >= 0/);
  assertThrowsWith(() => step.loadStateDict(null as never), /expected the object stateDict\(\) returns/);
  const plateau = new ReduceLROnPlateau(opt);
  assertThrowsWith(() => new ReduceLROnPlateau(opt, { mode: 'max' }).loadStateDict(plateau.stateDict()), /mode is "min" in the state dict but "max"/);
  opt.dispose();
});
