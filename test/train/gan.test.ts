// GAN training: the released code's schedules, the objectives' gradients,
// exact resumption from checkpoints (at an epoch's end and inside one), the
// optimal-discriminator check of Proposition 1, and bad options.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { grad, manualSeed, rand, scope, tensor, type Tensor } from '../../src/index.js';
import { GanDiscriminator, GanGenerator } from '../../src/models/gan.js';
import { ganLearningRate, ganMomentum, generatorLoss, GAN_TRAINING_DEFAULTS, trainGan, type GanTrainingOptions } from '../../src/train/gan.js';
import { optimalDiscriminatorCheck } from '../../src/experiments/goodfellow-gan.js';
import { assertClose } from '../helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-gan-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// A narrow D at the released ±0.005 passes G gradients of ~1e-10, below float32's
// resolution of G's weights; ±0.1 lets a few steps move every weight.
const SMALL = { g: { latentDim: 6, hiddenDim: 16, outputDim: 20 }, d: { inputDim: 20, numUnits: 8, numPieces: 3, initRange: 0.1 } };

function pair(seed: number): { g: GanGenerator; d: GanDiscriminator } {
  manualSeed(seed);
  return { g: new GanGenerator(SMALL.g), d: new GanDiscriminator(SMALL.d) };
}

function weights(...nets: (GanGenerator | GanDiscriminator)[]): Tensor[] {
  return nets.flatMap((n) => n.parameters().map((p) => p.detach().clone()));
}

test("the released code's schedules: lr ÷ 1.000004 per update down to 1e-6, momentum 0.5 → 0.7 between epochs 1 and 250", () => {
  const o = GAN_TRAINING_DEFAULTS;
  assert.equal(ganLearningRate(o, 0), 0.1);
  assert.ok(Math.abs(ganLearningRate(o, 1_000_000) - 0.1 / 1.000004 ** 1_000_000) < 1e-15);
  assert.equal(ganLearningRate(o, 1e9), 1e-6);
  assert.equal(ganMomentum(o, 0), 0.5);
  assert.equal(ganMomentum(o, 1), 0.5);
  assert.ok(Math.abs(ganMomentum(o, 125.5) - 0.6) < 1e-12);
  assert.ok(Math.abs(ganMomentum(o, 250) - 0.7) < 1e-12);
  assert.ok(Math.abs(ganMomentum(o, 1000) - 0.7) < 1e-12);
});

test('the minimax objective saturates where D rejects the samples; the non-saturating one does not (Section 3)', () => {
  scope(() => {
    const logits = tensor([-10, -10]).requiresGrad_();
    const [minimax] = grad(generatorLoss(logits, 'minimax'), logits);
    const [nonSaturating] = grad(generatorLoss(logits, 'non-saturating'), logits);
    // d/dl log(1 − σ(l)) = −σ(l) ≈ −4.5e-5; d/dl −log σ(l) = −(1 − σ(l)) ≈ −1; each over the batch of 2.
    assertClose(minimax!, [-0.5 / (1 + Math.exp(10)), -0.5 / (1 + Math.exp(10))], { rtol: 1e-5 });
    assertClose(nonSaturating!, [-0.5 / (1 + Math.exp(-10)), -0.5 / (1 + Math.exp(-10))], { rtol: 1e-5 });
  });
});

for (const update of ['simultaneous', 'alternating'] as const) {
  test(`${update} updates resume exactly, from an epoch's end and from inside an epoch`, () => {
    manualSeed(10);
    const images = rand([300, 20]);
    const options: Partial<GanTrainingOptions> = { update, k: update === 'alternating' ? 2 : 1, batchSize: 50, seed: 3 };
    const straight = pair(1);
    const path = join(dir, `${update}.safetensors`);
    const midway = join(dir, `${update}-midway.safetensors`);
    try {
      // 6 batches an epoch (alternating with k = 2: 3 generator steps); a checkpoint
      // every 2 generator steps. The copy taken at generator step 5 holds the state
      // after step 4: inside the first epoch (simultaneous) or the second (alternating).
      const stepsPerEpoch = update === 'alternating' ? 3 : 6;
      const copyAt = 5;
      manualSeed(20);
      const full = trainGan(straight.g, straight.d, images, { ...options, epochs: 2, checkpointPath: path, checkpointEvery: 2 }, {
        onStep: (s) => {
          if (s.step === copyAt) copyFileSync(path, midway);
        },
      });
      assert.equal(full.generatorSteps, 2 * stepsPerEpoch);
      assert.equal(full.epochs.length, 2);

      // From inside an epoch.
      const resumed = pair(99);
      const fromMidway = trainGan(resumed.g, resumed.d, images, { ...options, epochs: 2, checkpointPath: midway, resume: true });
      assert.equal(fromMidway.resumedFrom?.generatorSteps, 4);
      assert.equal(fromMidway.generatorSteps, full.generatorSteps);
      const a = weights(straight.g, straight.d);
      const b = weights(resumed.g, resumed.d);
      a.forEach((w, i) => assertClose(b[i], w, { rtol: 0, atol: 0 }, `parameter ${i}`));
      assert.deepEqual(fromMidway.epochs.map((e) => e.lossD), full.epochs.map((e) => e.lossD));
      for (const t of [...a, ...b]) t.dispose();
      resumed.g.dispose();
      resumed.d.dispose();

      // From an epoch's end: one epoch, then a second run to two.
      const first = pair(1);
      const second = pair(1);
      const epochPath = join(dir, `${update}-epoch.safetensors`);
      manualSeed(20);
      trainGan(first.g, first.d, images, { ...options, epochs: 1, checkpointPath: epochPath });
      const continued = trainGan(second.g, second.d, images, { ...options, epochs: 2, checkpointPath: epochPath, resume: true });
      assert.deepEqual(continued.resumedFrom, { epoch: 1, generatorSteps: stepsPerEpoch });
      const c = weights(second.g, second.d);
      const d = weights(straight.g, straight.d);
      d.forEach((w, i) => assertClose(c[i], w, { rtol: 0, atol: 0 }, `parameter ${i}`));
      for (const t of [...c, ...d]) t.dispose();
      for (const n of [first.g, first.d, second.g, second.d]) n.dispose();
    } finally {
      straight.g.dispose();
      straight.d.dispose();
    }
  });
}

test('training moves both players and reports D on real and generated images', () => {
  manualSeed(11);
  const images = rand([200, 20]).mul(0.2); // dark images, unlike G's first samples
  const { g, d } = pair(2);
  try {
    const before = weights(g, d);
    const steps: number[] = [];
    const result = trainGan(g, d, images, { batchSize: 50, epochs: 10, seed: 1, optimizer: 'adam', lr: 1e-3 }, { onStep: (s) => steps.push(s.dReal - s.dFake) });
    assert.equal(result.generatorSteps, 40);
    const after = weights(g, d);
    before.forEach((w, i) => assert.ok(after[i].sub(w).abs().max().item() > 0, `parameter ${i} moved`));
    // D learns to tell the dark images from G's grey ones: D(x) − D(G(z)) grows from about 0 (seeded, so the run is the same every time).
    assert.ok(steps[steps.length - 1] > steps[0] + 0.02, `D(x) − D(G(z)) went from ${steps[0]} to ${steps[steps.length - 1]}`);
    for (const t of [...before, ...after]) t.dispose();
  } finally {
    g.dispose();
    d.dispose();
  }
});

test('Proposition 1: with G fixed, the trained discriminator approaches D* = p_data/(p_data + p_g) within 0.05', () => {
  const toy = optimalDiscriminatorCheck({ steps: 3000, seed: 0 });
  assert.ok(toy.meanGap < 0.05, `mean |D − D*| over the support ${toy.meanGap}`);
  assert.ok(toy.weightedGap < 0.05, `density-weighted gap ${toy.weightedGap}`);
  // D* maximises the value: the trained D's value is at most D*'s (quadrature error aside).
  assert.ok(toy.value <= toy.optimalValue + 1e-3, `value ${toy.value} against ${toy.optimalValue}`);
  // p_g ≠ p_data here, so the value at D* lies above −log 4 (Theorem 1: −log 4 + 2·JSD).
  assert.ok(toy.optimalValue > -Math.log(4));
});

test('Theorem 1: with p_g = p_data the trained discriminator is ½ everywhere and the value is −log 4', () => {
  const toy = optimalDiscriminatorCheck({ steps: 3000, seed: 0, generator: { mean: 0, std: 1 } });
  assert.ok(toy.optimal.every((d) => Math.abs(d - 0.5) < 1e-12));
  assert.ok(toy.meanGap < 0.05, `mean |D − ½| ${toy.meanGap}`);
  // The value at D = ½ + δ is −log 4 − O(δ²): a gap of 0.05 costs at most 0.01.
  assert.ok(Math.abs(toy.value + Math.log(4)) < 0.01, `value ${toy.value}`);
  assert.throws(() => optimalDiscriminatorCheck({ steps: 0 }), /steps must be a positive integer, got 0/);
});

test('bad options get clear errors', () => {
  const { g, d } = pair(3);
  try {
    scope(() => {
      const images = rand([100, 20]);
      const bad: [Partial<GanTrainingOptions>, RegExp][] = [
        [{ k: 0, update: 'alternating' }, /trainGan: k must be a positive integer, got 0/],
        [{ k: 2 }, /k = 2 discriminator steps per generator step needs update 'alternating'/],
        [{ batchSize: 0 }, /batchSize must be a positive integer, got 0/],
        [{ lr: -1 }, /lr must be a finite number > 0, got -1/],
        [{ lrDecay: 0.9 }, /lrDecay must be >= 1/],
        [{ finalMomentum: 1 }, /finalMomentum must be in \[0, 1\), got 1/],
        [{ generatorObjective: 'wasserstein' as never }, /generatorObjective must be 'minimax' or 'non-saturating', got 'wasserstein'/],
        [{ update: 'sequential' as never }, /update must be 'simultaneous' or 'alternating', got 'sequential'/],
        [{ resume: true }, /resume and checkpointEvery need checkpointPath/],
        [{ batchSize: 500 }, /100 training images are fewer than one batch of 500/],
      ];
      for (const [options, pattern] of bad) assert.throws(() => trainGan(g, d, images, options), pattern);
      assert.throws(() => trainGan(g, d, rand([100, 21])), /expected training images as float \[N, 20\], got float32\[100, 21\]/);
    });
  } finally {
    g.dispose();
    d.dispose();
  }
});
