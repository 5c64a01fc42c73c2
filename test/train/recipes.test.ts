import { test } from 'node:test';
import assert from 'node:assert/strict';

import { nn } from '../../src/index.js';
import { SGD } from '../../src/optim/sgd.js';
import { listModels, getModelEntry } from '../../src/models/registry.js';
import { RECIPES, recipeSchedule, type TrainingRecipe } from '../../src/train/recipes.js';

// The lr the optimizer holds after each of `steps` schedule steps (with the lr before the first).
function lrs(recipe: Pick<TrainingRecipe, 'schedule' | 'milestones' | 'gamma' | 'warmup'>, epochs: number, stepsPerEpoch: number): { every: string; lrs: number[] } {
  const model = new nn.Linear(2, 2);
  const optimizer = new SGD(model.parameters(), { lr: 0.1 });
  try {
    const { schedule, every } = recipeSchedule(optimizer, recipe, epochs, stepsPerEpoch);
    const count = every === 'step' ? epochs * stepsPerEpoch : epochs;
    const out = [optimizer.paramGroups[0].lr];
    for (let i = 0; i < count; i++) {
      schedule?.step();
      out.push(optimizer.paramGroups[0].lr);
    }
    return { every, lrs: out };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

test("ResNet's step schedule divides by 10 at half and three quarters of the epochs", () => {
  const { every, lrs: lr } = lrs(RECIPES.resnet, 8, 5);
  assert.equal(every, 'epoch');
  // lr of epoch e is lr[e]: 0.1 for epochs 0–3, 0.01 for 4–5, 0.001 for 6–7.
  assert.ok(lr.slice(0, 4).every((v) => close(v, 0.1)));
  assert.ok(lr.slice(4, 6).every((v) => close(v, 0.01)));
  assert.ok(lr.slice(6, 8).every((v) => close(v, 0.001)));
});

test("Swin's cosine schedule warms up linearly, peaks, and ends near 0", () => {
  const { every, lrs: lr } = lrs(RECIPES.swin, 15, 20); // 300 steps, 20 of them warm-up
  assert.equal(every, 'step');
  assert.ok(close(lr[0], 0));
  assert.ok(close(lr[10], 0.05));
  assert.ok(close(lr[20], 0.1));
  for (let i = 21; i <= 300; i++) assert.ok(lr[i] <= lr[i - 1] + 1e-15, `non-increasing after warm-up (step ${i})`);
  assert.ok(lr[300] < 1e-6);
});

test("ViT's schedule warms up over 10% of the steps, then decays linearly to 0", () => {
  const { lrs: lr } = lrs(RECIPES.vit, 10, 10);
  assert.ok(close(lr[5], 0.05));
  assert.ok(close(lr[10], 0.1));
  assert.ok(close(lr[55], 0.05));
  assert.ok(close(lr[100], 0));
});

test('a constant recipe has no schedule; every registered classifier names a recipe', () => {
  assert.deepEqual(lrs(RECIPES.madry, 3, 2).lrs, [0.1, 0.1, 0.1, 0.1]);
  const recipe = (name: string) => getModelEntry(name, 'image-classification').recipe;
  for (const name of listModels('image-classification')) assert.ok(recipe(name) in RECIPES, `${name}: ${recipe(name)}`);
  assert.equal(recipe('resnet20'), 'resnet');
  assert.equal(recipe('vit_b_16'), 'vit');
  assert.equal(recipe('swin_t'), 'swin');
});
