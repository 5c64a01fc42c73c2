import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { liveTensors, manualSeed, nn, randint, randn, scope } from '../../src/index.js';
import { DataLoader, TensorDataset } from '../../src/data/index.js';
import { Adam } from '../../src/optim/adam.js';
import { StepLR } from '../../src/optim/lr-scheduler.js';
import { fit, evaluate } from '../../src/train/index.js';

function setup() {
  manualSeed(7);
  const model = new nn.Sequential(new nn.Linear(8, 16), new nn.BatchNorm1d(16), new nn.ReLU(), new nn.Dropout(0.3), new nn.Linear(16, 3));
  const x = randn([96, 8]);
  const y = randint(0, 3, [96]);
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 16, shuffle: true, seed: 3 });
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  const schedule = new StepLR(optimizer, { stepSize: 1, gamma: 0.5 });
  return { model, loader, optimizer, schedule, dispose: () => [x, y].forEach((t) => t.dispose()) };
}

test('resuming from a checkpoint reproduces the uninterrupted run exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-fit-'));
  try {
    const full = setup();
    const uninterrupted = fit({ model: full.model, loader: full.loader, optimizer: full.optimizer, schedule: full.schedule, epochs: 3 });
    assert.equal(uninterrupted.losses.length, 18); // 3 epochs of 96/16 batches

    // The same run, stopped after 1 epoch and 2 steps (the checkpoint of step 8), then resumed in fresh objects.
    const path = join(dir, 'run.safetensors');
    const first = setup();
    let steps = 0;
    assert.throws(() =>
      fit({
        model: first.model, loader: first.loader, optimizer: first.optimizer, schedule: first.schedule, epochs: 3,
        checkpointPath: path, checkpointEvery: 4,
        onStep: () => {
          if (++steps === 9) throw new Error('killed');
        },
      }), /killed/);
    // Dropout and shuffling draw from the generators: disturb them so only the checkpoint can restore them.
    manualSeed(12345);
    const second = setup();
    manualSeed(999);
    const resumed = fit({ model: second.model, loader: second.loader, optimizer: second.optimizer, schedule: second.schedule, epochs: 3, checkpointPath: path, resume: true });
    assert.deepEqual(resumed.resumedFrom, { epoch: 1, step: 2 });
    assert.deepEqual(resumed.losses, uninterrupted.losses); // bit-for-bit equal losses
    assert.deepEqual(second.optimizer.paramGroups[0].lr, full.optimizer.paramGroups[0].lr);
    for (const s of [full, first, second]) {
      s.model.dispose();
      s.optimizer.dispose();
      s.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fit learns a separable problem, evaluate restores the mode, and nothing leaks', () => {
  const before = liveTensors();
  manualSeed(1);
  const x = randn([256, 2]);
  const y = scope(() => x.index(':', 0).gt(0).long()); // the class is the sign of the first coordinate
  const model = new nn.Sequential(new nn.Linear(2, 8), new nn.ReLU(), new nn.Linear(8, 2));
  const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 32, shuffle: true, seed: 1 });
  const optimizer = new Adam(model.parameters(), { lr: 0.05 });
  const epochs: number[] = [];
  const result = fit({ model, loader, optimizer, epochs: 20, evalLoader: new DataLoader(new TensorDataset(x, y), { batchSize: 64 }), onEpoch: (e) => epochs.push(e.epoch) });
  assert.deepEqual(epochs, [...Array(20).keys()]);
  // A linear boundary through the origin: 20 epochs of Adam fit it to ≥ 95% of 256 points.
  assert.ok(result.epochs[19].testAccuracy! >= 0.95, `accuracy ${result.epochs[19].testAccuracy}`);
  model.train();
  const evaluated = evaluate(model, new DataLoader(new TensorDataset(x, y), { batchSize: 100 }));
  assert.equal(evaluated.count, 256);
  assert.equal(model.training, true);
  model.dispose();
  optimizer.dispose();
  x.dispose();
  y.dispose();
  assert.equal(liveTensors(), before);
});

test('maxSteps stops training after that many steps, counted across a resumption', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-fit-'));
  try {
    const full = setup();
    const uninterrupted = fit({ model: full.model, loader: full.loader, optimizer: full.optimizer, schedule: full.schedule, epochs: 3 });
    const path = join(dir, 'run.safetensors');
    const first = setup();
    const stopped = fit({ model: first.model, loader: first.loader, optimizer: first.optimizer, schedule: first.schedule, epochs: 3, maxSteps: 10, checkpointPath: path, checkpointEvery: 4 });
    assert.equal(stopped.stoppedEarly, true);
    assert.deepEqual(stopped.losses, uninterrupted.losses.slice(0, 10));
    // The budget stop leaves the checkpoint of step 8; a larger budget continues from it to step 14 in all.
    const second = setup();
    const resumed = fit({ model: second.model, loader: second.loader, optimizer: second.optimizer, schedule: second.schedule, epochs: 3, maxSteps: 14, checkpointPath: path, resume: true });
    assert.deepEqual(resumed.resumedFrom, { epoch: 1, step: 2 });
    assert.deepEqual(resumed.losses, uninterrupted.losses.slice(0, 14));
    // A budget already spent trains nothing (the resumed run above left the checkpoint of its epoch's end, step 12).
    const third = setup();
    const spent = fit({ model: third.model, loader: third.loader, optimizer: third.optimizer, epochs: 3, maxSteps: 6, checkpointPath: path, resume: true });
    assert.deepEqual(spent.losses, uninterrupted.losses.slice(0, 12));
    assert.equal(spent.stoppedEarly, true);
    for (const bad of [0, 2.5, -1]) assert.throws(() => fit({ model: full.model, loader: full.loader, optimizer: full.optimizer, epochs: 1, maxSteps: bad }), /fit: maxSteps must be a positive integer, got/);
    for (const s of [full, first, second, third]) {
      s.model.dispose();
      s.optimizer.dispose();
      s.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
