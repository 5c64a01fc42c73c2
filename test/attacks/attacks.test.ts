import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { F, liveTensors, manualSeed, nn, noGrad, scope, tensor, Tensor, zeros, full } from '../../src/index.js';
import { BIM, FGSM, PGD, randomStartInBall, withNormalization, type Attack, type AttackResult } from '../../src/attacks/index.js';
import { loadMnist } from '../../src/data/mnist.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { assertClose, assertThrowsWith, AttackFixtureNet, SmallCnn, trainedSmallCnn } from '../helpers.js';

let model: SmallCnn;
let x: Tensor; // 200 MNIST test images
let y: Tensor;
let start: number;

before(() => {
  start = liveTensors();
  model = trainedSmallCnn();
  const test = loadMnist({ split: 'test' });
  [x, y] = scope(() => [test.images.narrow(0, 0, 200).clone(), test.labels.narrow(0, 0, 200).clone()]);
  test.dispose();
});

after(() => {
  model.dispose();
  x.dispose();
  y.dispose();
  assert.equal(liveTensors(), start, 'the attack tests leaked tensors');
});

function accuracy(images: Tensor, labels: Tensor): number {
  return noGrad(() => scope(() => model.forward(images).argmax(1).eq(labels).float().mean().item()));
}

// Robust accuracy counts an example only if it was right and the attack failed.
function robustAccuracy(result: AttackResult): number {
  return scope(() => noGrad(() => model.forward(result.adversarial).argmax(1).eq(y).logicalAnd(result.success.logicalNot()).float().mean().item()));
}

const FLOAT_SLACK = 1e-6; // float32 rounding of x + δ at magnitudes ≤ 1

const CASES: [string, () => Attack, 'linf' | 'l2', number][] = [
  ['FGSM', () => new FGSM({ eps: 0.2 }), 'linf', 0.2],
  ['BIM', () => new BIM({ eps: 0.2, steps: 10, stepSize: 0.03 }), 'linf', 0.2],
  ['PGD linf', () => new PGD({ eps: 0.2, steps: 10, stepSize: 0.03 }), 'linf', 0.2],
  ['PGD l2', () => new PGD({ norm: 'l2', eps: 2, steps: 10, stepSize: 0.5 }), 'l2', 2],
  ['PGD restarts + early stop', () => new PGD({ eps: 0.15, steps: 5, stepSize: 0.05, restarts: 3, earlyStop: true }), 'linf', 0.15],
];

describe('attack invariants on an MNIST CNN', () => {
  for (const [name, make, norm, eps] of CASES) {
    test(name, () => {
      scope(() => {
        const xCopy = x.clone();
        const yCopy = y.clone();
        model.train(); // the attack must switch to eval and restore this
        const result = make().run(model, x, { labels: y });
        assert.equal(model.training, true, 'training mode restored');
        assert.ok(x.equal(xCopy) && y.equal(yCopy), "the caller's tensors are unchanged");
        const delta = result.adversarial.sub(x).flatten(1);
        const worst = (norm === 'linf' ? delta.abs().amax(1) : delta.norm(2, 1)).max().item();
        assert.ok(worst <= eps * (1 + 1e-5) + FLOAT_SLACK, `‖δ‖ = ${worst} > ε = ${eps}`);
        assert.ok(result.adversarial.min().item() >= 0 && result.adversarial.max().item() <= 1, 'inside the box');
        assert.ok(result.adversarial.isfinite().all().item());
        const clean = accuracy(x, y);
        const robust = robustAccuracy(result);
        assert.ok(robust <= clean, `robust ${robust} > clean ${clean}`);
        assert.ok(robust < clean - 0.2, `${name} should break a plain CNN at this ε (clean ${clean}, robust ${robust})`);
        assertClose(result.linf, delta.abs().amax(1), { rtol: 1e-6, atol: 1e-7 });
        assertClose(result.l2, delta.norm(2, 1), { rtol: 1e-5, atol: 1e-6 });
        assert.deepEqual(result.success.shape, [200]);
      });
    });
  }

  test('targeted attacks reach their targets far more often than chance', () => {
    scope(() => {
      for (const mode of ['random', 'least-likely'] as const) {
        const result = new PGD({ eps: 0.3, steps: 20, stepSize: 0.03 }).run(model, x, { labels: y, targetMode: mode });
        const hit = noGrad(() => model.forward(result.adversarial).argmax(1).eq(result.targets!).float().mean().item());
        // Chance is 1/10 for a random target; PGD at ε = 0.3 on a plain CNN gets most of them.
        assert.ok(hit > 0.5, `${mode}: ${hit}`);
        assert.ok(result.targets!.ne(result.labels).all().item(), 'targets differ from labels');
        assert.equal(result.success.float().mean().item(), hit);
      }
    });
  });

  test('PGD with one step of size ε and no random start equals FGSM exactly', () => {
    scope(() => {
      const fgsm = new FGSM({ eps: 0.1 }).run(model, x, { labels: y });
      const pgd = new PGD({ eps: 0.1, stepSize: 0.1, steps: 1, randomStart: false }).run(model, x, { labels: y });
      assert.ok(pgd.adversarial.equal(fgsm.adversarial));
    });
  });

  test('restarts never do worse than one run, and the loss history has [restarts, steps + 1, N]', () => {
    scope(() => {
      manualSeed(1);
      const one = new PGD({ eps: 0.1, steps: 5, stepSize: 0.03 }).run(model, x, { labels: y });
      manualSeed(1); // the first restart repeats the single run
      const many = new PGD({ eps: 0.1, steps: 5, stepSize: 0.03, restarts: 4, recordLoss: true }).run(model, x, { labels: y });
      assert.ok(many.success.float().sum().item() >= one.success.float().sum().item());
      assert.ok(many.loss.sub(one.loss).min().item() >= -1e-5 || many.success.logicalAnd(one.success.logicalNot()).any().item());
      assert.deepEqual(many.lossHistory!.shape, [4, 6, 200]);
      assert.equal(many.iterations, 20);
      // The final entries are the loss at each restart's end point; the kept one is the largest among failures.
      const finals = many.lossHistory!.select(1, 5);
      const failed = many.success.logicalNot();
      assertClose(finals.amax(0).maskedSelect(failed), many.loss.maskedSelect(failed), { rtol: 1e-5, atol: 1e-5 });
    });
  });

  test('early stopping keeps every success: a superset of the plain attack’s, each point still misclassified', () => {
    scope(() => {
      // Per-example trajectories are independent (eval mode), so the early-stopped one is a prefix of the plain one.
      const plain = new PGD({ eps: 0.1, steps: 10, stepSize: 0.02, randomStart: false }).run(model, x, { labels: y });
      const early = new PGD({ eps: 0.1, steps: 10, stepSize: 0.02, randomStart: false, earlyStop: true }).run(model, x, { labels: y });
      assert.ok(early.success.logicalOr(plain.success).equal(early.success), 'every plain success is an early-stop success');
      assert.ok(early.success.sum().item() > 0);
      const predicted = noGrad(() => model.forward(early.adversarial).argmax(1));
      assert.ok(predicted.ne(y).equal(early.success), 'success is judged at the returned points');
    });
  });

  test('without labels the attack uses the model’s predictions', () => {
    scope(() => {
      const result = new FGSM({ eps: 0.05 }).run(model, x);
      assert.ok(result.labels.equal(noGrad(() => model.forward(x).argmax(1))));
    });
  });

  test('normalisation lives in a wrapper, so the attack works in the pixel box', () => {
    scope(() => {
      const mean = 0.1307;
      const std = 0.3081;
      // A model trained on normalised pixels, expressed as one that takes them raw: (x − m)/s folded into a wrapper.
      const wrapped = withNormalization((z: Tensor) => model.forward(z.mul(std).add(mean)), [mean], [std]);
      const a = new FGSM({ eps: 0.1 }).run(wrapped, x, { labels: y });
      const b = new FGSM({ eps: 0.1 }).run(model, x, { labels: y });
      assertClose(a.adversarial, b.adversarial, { atol: 1e-6 });
    });
  });
});

describe('parity with the same steps in PyTorch', () => {
  const file = loadSafetensors(fileURLToPath(new URL('../../../test/fixtures/attacks/attacks.safetensors', import.meta.url)));
  const t = (name: string) => file.tensors.get(name)!;
  // Gradient signs can only differ where a gradient is within rounding of 0; none is in this batch.
  const TOL = { rtol: 0, atol: 1e-6 };
  const cases: [string, () => Attack, boolean][] = [
    ['fgsm', () => new FGSM({ eps: 0.1 }), false],
    ['bim', () => new BIM({ eps: 0.1, stepSize: 0.02, steps: 10 }), false],
    ['pgd_linf', () => new PGD({ eps: 0.1, stepSize: 0.025, steps: 8, randomStart: false }), false],
    ['pgd_linf_targeted', () => new PGD({ eps: 0.1, stepSize: 0.025, steps: 8, randomStart: false }), true],
    ['pgd_l2', () => new PGD({ norm: 'l2', eps: 0.5, stepSize: 0.1, steps: 8, randomStart: false }), false],
  ];
  for (const [name, make, targeted] of cases) {
    test(name, () => {
      scope(() => {
        const net = AttackFixtureNet.fromFixture(file.tensors);
        const result = make().run(net, t('x'), targeted ? { labels: t('y'), targets: t('targets') } : { labels: t('y') });
        assertClose(result.adversarial, t(name), TOL, name);
        net.dispose();
      });
    });
  }
  after(() => {
    for (const v of file.tensors.values()) v.dispose();
  });
});

test('the L2 random start is uniform in the ball, not on its surface', () => {
  scope(() => {
    manualSeed(3);
    for (const d of [2, 50]) {
      const n = 4000;
      const eps = 0.1;
      const centre = full([n, d], 0.5); // far enough from the box edges that nothing is clipped
      const r = randomStartInBall(centre, 'l2', eps, [0, 1]).sub(centre).norm(2, 1).div(eps).double();
      assert.ok(r.max().item() <= 1 + 1e-6);
      // If r/ε = U^(1/d) then (r/ε)^d is uniform on [0, 1]: a Kolmogorov–Smirnov test.
      const u = (r.pow(d).toTypedArray() as Float64Array).slice().sort();
      let ks = 0;
      u.forEach((v, i) => (ks = Math.max(ks, Math.abs(v - (i + 1) / n), Math.abs(v - i / n))));
      // 1.95/√n is the 0.1% critical value; a draw on the surface would give KS ≈ 1.
      assert.ok(ks < 1.95 / Math.sqrt(n), `d=${d}: KS statistic ${ks}`);
    }
  });
});

describe('bad input gets a clear error', () => {
  const bad: [string, () => unknown, RegExp][] = [
    ['eps < 0', () => new PGD({ eps: -0.1 }), /PGD: eps must be a finite number >= 0, got -0\.1/],
    ['step size 0', () => new PGD({ stepSize: 0 }), /PGD: stepSize must be a finite number > 0, got 0/],
    ['steps 0', () => new BIM({ steps: 0 }), /BIM: steps must be an integer >= 1, got 0/],
    ['restarts 1.5', () => new PGD({ restarts: 1.5 }), /restarts must be an integer >= 1/],
    ['unknown norm', () => new PGD({ norm: 'l1' as 'l2' }), /norm must be 'linf' or 'l2', got 'l1'/],
    ['FGSM eps NaN', () => new FGSM({ eps: NaN }), /FGSM: eps must be a finite number >= 0/],
    ['a bad box', () => new FGSM({ box: [1, 0] }), /box must be \[low, high\] with low < high/],
    ['inputs outside the box', () => new FGSM().run(model, x.mul(2).sub(0.5), { labels: y }), /inputs must lie in the box \[0, 1\], but range over \[-0\.5, 1\.5\].*withNormalization/],
    ['NaN input', () => new FGSM().run(model, x.index(':1').mul(NaN), { labels: y.index(':1') }), /the input contains NaN/],
    ['labels of the wrong length', () => new FGSM().run(model, x, { labels: y.index(':10') }), /labels must have shape \[200\] \(one per input\), got int64\[10\]/],
    ['labels out of range', () => new FGSM().run(model, x.index(':2'), { labels: tensor([3, 10], { dtype: 'int64' }) }), /labels must be class indices in \[0, 9\], got values from 3 to 10/],
    ['float labels', () => new FGSM().run(model, x.index(':2'), { labels: tensor([3, 1]) }), /labels must be int64, got float32\[2\]/],
    ['a model returning probabilities', () => new FGSM().run((z: Tensor) => F.softmax(model.forward(z), 1), x, { labels: y }), /seems to return probabilities.*remove the final softmax/],
    ['a model returning the wrong shape', () => new FGSM().run((z: Tensor) => model.forward(z).sum(1), x, { labels: y }), /must return logits \[batch, classes\]; for a batch of 1 it returned float32\[1\]/],
    ['not a model', () => new FGSM().run(42 as never, x), /the model must be an nn\.Module or a function/],
    ['integer input', () => new FGSM().run(model, zeros([2, 1, 28, 28], { dtype: 'uint8' })), /the input must be a floating-point tensor, got uint8/],
    ['an empty batch', () => new FGSM().run(model, zeros([0, 1, 28, 28])), /expected a non-empty batch/],
    ['targets equal to labels', () => new FGSM().run(model, x, { labels: y, targets: y }), /some targets equal the true labels/],
    ['targets without targeted mode', () => new FGSM().run(model, x, { labels: y, targets: y, targetMode: 'untargeted' }), /targets were given but targetMode is 'untargeted'/],
    ["'given' without targets", () => new FGSM().run(model, x, { targetMode: 'given' }), /targetMode 'given' needs targets/],
    ['unknown target mode', () => new FGSM().run(model, x, { targetMode: 'nearest' as 'random' }), /unknown targetMode 'nearest'/],
  ];
  for (const [name, fn, pattern] of bad) test(name, () => scope(() => assertThrowsWith(fn, pattern)));
});
