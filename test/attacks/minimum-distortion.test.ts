// The minimum-distortion attacks (C&W, DeepFool): the closest adversarial
// example on a problem with a known answer, their formulas against PyTorch,
// their invariants on an MNIST CNN, and their answers to bad options.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { cat, enableGrad, F, full, grad, liveTensors, manualSeed, nn, noGrad, rand, scope, tensor, Tensor, zeros } from '../../src/index.js';
import { attackAllTargets, BIM, CWL0, CWL2, CWLinf, DeepFool, FGSM, JSMA, LBFGSAttack, MinimumEps, PGD, cwObjective, fromTanhSpace, goalMargin, toTanhSpace, type AttackResult } from '../../src/attacks/index.js';
import { RowAdam } from '../../src/attacks/carlini-wagner.js';
import { Adam } from '../../src/optim/adam.js';
import { loadMnist } from '../../src/data/mnist.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { assertClose, assertThrowsWith, AttackFixtureNet, SmallCnn, trainedSmallCnn } from '../helpers.js';

let start: number;
before(() => (start = liveTensors()));
after(() => assert.equal(liveTensors(), start, 'the attack tests leaked tensors'));

describe('the closest adversarial example of a linear classifier', () => {
  // Two classes, Z = Wx + b: the smallest L2 change that flips x is |Z_0 − Z_1| / ‖w_1 − w_0‖₂,
  // the smallest L∞ change |Z_0 − Z_1| / ‖w_1 − w_0‖₁ (the box does not bind: x ∈ [0.3, 0.7]).
  function problem() {
    manualSeed(0);
    const model = new nn.Linear(20, 2);
    const x = scope(() => rand([8, 20]).mul(0.4).add(0.3));
    const { labels, l2, linf } = noGrad(() =>
      scope(() => {
        const z = model.forward(x);
        const gap = z.index(':', 0).sub(z.index(':', 1)).abs();
        const w = model.weight.index(1).sub(model.weight.index(0));
        return { labels: z.argmax(1), l2: gap.div(w.norm()), linf: gap.div(w.abs().sum()) };
      }),
    );
    const dispose = () => [model, x, labels, l2, linf].forEach((t) => t.dispose());
    return { model, x, labels, exact: { l2, linf }, dispose };
  }

  function assertWithin(result: AttackResult, exact: Tensor, norm: 'l2' | 'linf', tolerance: number) {
    assert.ok(result.success.all().item(), 'every example flipped');
    const ratio = (norm === 'l2' ? result.l2 : result.linf).div(exact);
    assert.ok(ratio.min().item() >= 1 - 1e-4, `below the true minimum: ${ratio.toArray()}`);
    assert.ok(ratio.max().item() <= 1 + tolerance, `more than ${100 * tolerance}% above the true minimum: ${ratio.toArray()}`);
  }

  test('C&W L2 comes within 1% of the minimal L2 perturbation', () => {
    const p = problem();
    scope(() => assertWithin(new CWL2({ maxIterations: 1000 }).run(p.model, p.x, { labels: p.labels }), p.exact.l2, 'l2', 0.01));
    p.dispose();
  });

  test('C&W L∞ comes within its τ schedule (a factor 1/0.9) of the minimal L∞ perturbation', () => {
    const p = problem();
    scope(() => assertWithin(new CWLinf({ maxIterations: 300, initialConst: 0.1 }).run(p.model, p.x, { labels: p.labels }), p.exact.linf, 'linf', 1 / 0.9 - 1));
    p.dispose();
  });

  test('C&W L∞ gives up on a value of c when its loss stalls: the same answer in a fraction of the iterations', () => {
    const p = problem();
    scope(() => {
      const options = { maxIterations: 1000, initialConst: 1e-3 };
      const patient = new CWLinf({ ...options, abortEarly: false }).run(p.model, p.x, { labels: p.labels });
      const quick = new CWLinf(options).run(p.model, p.x, { labels: p.labels });
      assertWithin(patient, p.exact.linf, 'linf', 1 / 0.9 - 1);
      assertWithin(quick, p.exact.linf, 'linf', 1 / 0.9 - 1);
      // With Adam's state carried from one c to the next (Carlini's code) a row reaches the stall test mid-descent,
      // so the test ends fewer values of c early than with Adam restarted at each: 8,954 of 15,041 iterations here.
      assert.ok(quick.iterations < (2 / 3) * patient.iterations, `${quick.iterations} iterations with the stall test, ${patient.iterations} without`);
    });
    p.dispose();
  });

  test('DeepFool finds the boundary of a linear classifier in one step: its L2 and L∞ minima, times 1 + overshoot', () => {
    const p = problem();
    scope(() => {
      const l2 = new DeepFool({ overshoot: 0.002 }).run(p.model, p.x, { labels: p.labels });
      assert.equal(l2.iterations, 1);
      assertWithin(l2, p.exact.l2, 'l2', 0.01);
      assertWithin(new DeepFool({ norm: 'linf', overshoot: 0.002 }).run(p.model, p.x, { labels: p.labels }), p.exact.linf, 'linf', 0.01);
      // The paper's overshoot of 0.02 lands 2% beyond the boundary.
      assertClose(new DeepFool().run(p.model, p.x, { labels: p.labels }).l2.div(p.exact.l2), tensor(Array(8).fill(1.02)), { atol: 2e-3 });
    });
    p.dispose();
  });
  test('FGSM and BIM as minimum-ε searches land on the first grid ε at or above the minimal L∞ perturbation', () => {
    const p = problem();
    scope(() => {
      // On a linear classifier FGSM's step is the L∞-optimal direction, so it first succeeds at the grid ε just above the minimum.
      const grid = Array.from({ length: 400 }, (_, k) => (k + 1) / 1000);
      const firstAbove = tensor(p.exact.linf.toArray().map((e: number) => grid.find((g) => g > e * (1 + 1e-5))!));
      for (const search of [new MinimumEps((eps) => new FGSM({ eps }), { grid }), new MinimumEps((eps) => new BIM({ eps, stepSize: eps / 4, steps: 8 }), { grid })]) {
        const result = search.run(p.model, p.x, { labels: p.labels });
        assert.ok(result.success.all().item(), `${search.name}: every example flipped`);
        assertClose(result.linf, firstAbove, { atol: 1e-5 });
      }
      assert.equal(new MinimumEps((eps) => new FGSM({ eps })).name, 'FGSM (minimum ε)');
    });
    p.dispose();
  });
});

test('startNoise lets the C&W attacks leave an image where the input gradient is exactly zero (an all-black image on dead ReLUs)', () => {
  // Z = (2, 0) + Σᵢ relu(xᵢ − 0.25)·(0, 1): class 0 at x = 0, where no pixel gets a gradient.
  const model = (x: Tensor) => scope(() => x.sub(0.25).relu().flatten(1).sum(1, { keepdim: true }).mul(tensor([[0, 1]])).add(tensor([[2, 0]])));
  scope(() => {
    const black = rand([4, 1, 8, 8]).mul(0);
    const labels = tensor([0, 0, 0, 0], { dtype: 'int64' });
    const targets = tensor([1, 1, 1, 1], { dtype: 'int64' });
    const attacks = (startNoise: number) => [
      new CWL2({ searchSteps: 3, maxIterations: 300, initialConst: 1, startNoise }),
      new CWL0({ maxIterations: 300, initialConst: 1, startNoise }),
      new CWLinf({ maxIterations: 300, initialConst: 0.1, startNoise }),
    ];
    for (const attack of attacks(0)) assert.ok(attack.run(model, black, { labels, targets }).success.logicalNot().all().item(), `${attack.name} cannot move from a flat start`);
    manualSeed(0);
    for (const attack of attacks(0.5)) {
      const result = attack.run(model, black, { labels, targets });
      assert.ok(result.success.all().item(), `${attack.name} from a start beside the image: success ${result.success.toArray()}`);
      assert.ok(noGrad(() => model(result.adversarial).argmax(1).eq(targets).all().item()), `${attack.name}: re-fed successes`);
      // Reaching class 1 needs Σ relu(xᵢ − 0.25) > 2, at least ‖δ‖₂ = √2 (eight pixels at 0.5); the noise itself is not kept.
      assert.ok(result.l2.max().item() < 2, `${attack.name}: L2 ${result.l2.toArray()}`);
    }
  });
});

test("C&W L∞ and L0 move pixels at the box's edge from their default c₀ (c·∇f there is far below Adam's ε)", () => {
  // Z = (0.01, Σᵢ xᵢ): from black, class 1 needs Σ xᵢ > 0.01, w from −7.25 to about −3.7 per pixel, some 700 Adam steps.
  const model = (x: Tensor) => scope(() => x.flatten(1).sum(1, { keepdim: true }).mul(tensor([[0, 1]])).add(tensor([[0.01, 0]])));
  scope(() => {
    const black = rand([2, 1, 4, 4]).mul(0);
    const options = { labels: tensor([0, 0], { dtype: 'int64' }), targets: tensor([1, 1], { dtype: 'int64' }) };
    // 50 iterations per c: c from 1e-5 reaches 1 only at its 18th value.
    for (const attack of [new CWLinf({ maxIterations: 50 }), new CWL0({ maxIterations: 50 })]) {
      const result = attack.run(model, black, options);
      assert.ok(result.success.all().item(), `${attack.name}: success ${result.success.toArray()}`);
    }
  });
});

test("C&W L0 descends on Carlini's c·f + penalty: dividing by c would leave the small c's penalty gradients in Adam's carried state", () => {
  // Z = (14, Σᵢ xᵢ) from a grey 4 × 4 image (Σ = 8): class 1 needs Σ δᵢ > 6, at least 12 pixels raised. On f + penalty/c
  // the penalty's gradient at c = 1e-3 is 2000·δ; it stays in Adam's second moment (carried across c), and 12 values
  // of c (1e-3 to 4) × 50 steps fell short. On c·f + penalty the same budget succeeds, and so does half of it.
  const model = (x: Tensor) => scope(() => x.flatten(1).sum(1, { keepdim: true }).mul(tensor([[0, 1]])).add(tensor([[14, 0]])));
  scope(() => {
    const grey = full([1, 1, 4, 4], 0.5);
    const options = { labels: tensor([0], { dtype: 'int64' }), targets: tensor([1], { dtype: 'int64' }) };
    for (const maxIterations of [50, 25]) {
      const result = new CWL0({ maxIterations, largestConst: 4 }).run(model, grey, options);
      assert.ok(result.success.all().item(), `${maxIterations} iterations per c: success ${result.success.toArray()}`);
      assert.ok(noGrad(() => model(result.adversarial).argmax(1).eq(1).all().item()), 'the re-fed example reaches class 1');
      const pixels = result.l0.item();
      assert.ok(pixels >= 12 && pixels <= 16, `pixels changed: ${pixels}`);
    }
  });
});

test("C&W L∞'s first problem (τ = the box's width: no penalty, the same loss at every c) keeps its c through a stall", () => {
  // Z = (4, 2·Σᵢ xᵢ): from black, class 1 needs Σ xᵢ > 2 (every pixel at 1/8), w from −7.25 to about −1 per pixel,
  // some 1,200 Adam steps at lr 5e-3. Near the box's edge tanh is flat, so over each of the first few hundred steps
  // f falls by less than the stall test's 0.01%: with the test, each of the two values of c (1e-5, 2e-5) would end
  // after 101 steps, and the attack fail.
  const model = (x: Tensor) => scope(() => x.flatten(1).sum(1, { keepdim: true }).mul(tensor([[0, 2]])).add(tensor([[4, 0]])));
  scope(() => {
    const black = rand([2, 1, 4, 4]).mul(0);
    const result = new CWLinf({ maxIterations: 1000, largestConst: 4e-5 }).run(model, black, { labels: tensor([0, 0], { dtype: 'int64' }), targets: tensor([1, 1], { dtype: 'int64' }) });
    assert.ok(result.success.all().item(), `success ${result.success.toArray()}`);
    // The smallest L∞ change is 1/8 on every pixel; the attack ends once τ falls below 0.9 of its last success.
    assert.ok(result.linf.max().item() < 0.125 / 0.9 ** 2, `L∞ ${result.linf.toArray()}`);
  });
});

test('the goal margin masks the excluded class with −∞, so negative logits are handled (torchattacks multiplies by 0)', () => {
  scope(() => {
    const logits = tensor([[-5, -1, -3], [2, -4, -6]]);
    const goal = tensor([0, 1], { dtype: 'int64' });
    // Untargeted from class 0: max(−1, −3) − (−5) = 4; from class 1: 2 − (−4) = 6.
    assert.deepEqual(goalMargin(logits, goal, false).toArray(), [4, 6]);
    // Targeted at 0: −5 − (−1) = −4; at 1: −4 − 2 = −6. f6 = max(−margin, −κ).
    assert.deepEqual(goalMargin(logits, goal, true).toArray(), [-4, -6]);
    assert.deepEqual(cwObjective(logits, goal, true, 5).toArray(), [4, 6]);
    assert.deepEqual(cwObjective(logits, goal, false, 5).toArray(), [-4, -5]);
  });
});

describe('parity with the formulas in PyTorch', () => {
  const file = loadSafetensors(fileURLToPath(new URL('../../../test/fixtures/attacks/minimum_distortion.safetensors', import.meta.url)));
  const t = (name: string) => file.tensors.get(name)!;
  const net = AttackFixtureNet.fromFixture(file.tensors);
  after(() => {
    net.dispose();
    for (const v of file.tensors.values()) v.dispose();
  });

  for (const [name, goal, targeted, kappa] of [['untargeted', 'y', false, 0], ['targeted', 'targets', true, 0], ['targeted_kappa', 'targets', true, 2]] as const) {
    test(`C&W L2 loss ‖x′ − x‖² + c·f6 and its gradient in w, ${name}`, () => {
      scope(() => {
        const x = t('x');
        const w = t('w').clone().requiresGrad_(true);
        const loss = enableGrad(() => {
          const adversarial = fromTanhSpace(w.add(toTanhSpace(x, [0, 1])), [0, 1]);
          return adversarial.sub(x).square().flatten(1).sum(1).add(t('c').mul(cwObjective(net.forward(adversarial), t(goal), targeted, kappa)));
        });
        const [g] = grad(enableGrad(() => loss.sum()), w);
        assertClose(loss.detach(), t(`cw_${name}_loss`), { rtol: 1e-5, atol: 1e-6 });
        assertClose(g!, t(`cw_${name}_grad`), { rtol: 1e-4, atol: 1e-6 });
      });
    });
  }

  for (const variant of ['z', 'f'] as const) {
    test(`one JSMA-${variant.toUpperCase()} step changes the pair of Algorithm 3's saliency map`, () => {
      scope(() => {
        // γ of 2 features out of 64: exactly one pair.
        const result = new JSMA({ variant, gamma: 2 / 64 }).run(net, t('x'), { labels: t('y'), targets: t('targets') });
        assert.equal(result.iterations, 1);
        assertClose(result.adversarial, t(`jsma_${variant}`), { rtol: 0, atol: 0 });
      });
    });
  }

  for (const norm of ['l2', 'linf'] as const) {
    test(`one DeepFool step (${norm}) equals Algorithm 2 written per example`, () => {
      scope(() => {
        const result = new DeepFool({ norm, overshoot: 0, maxIterations: 1 }).run(net, t('x'), { labels: t('y') });
        assertClose(result.adversarial, t(`deepfool_${norm}`), { rtol: 1e-5, atol: 1e-6 });
      });
    });
  }
});

describe('on an MNIST CNN', () => {
  let model: SmallCnn;
  let x: Tensor;
  let y: Tensor;
  before(() => {
    model = trainedSmallCnn();
    const data = loadMnist({ split: 'test' });
    [x, y] = scope(() => [data.images.narrow(0, 0, 20).clone(), data.labels.narrow(0, 0, 20).clone()]);
    data.dispose();
  });
  after(() => [model, x, y].forEach((t) => t.dispose()));

  // A reported success must be one when the returned image is fed to the model again; the caller's tensors stay as they were.
  function checkInvariants(result: AttackResult, targeted: boolean) {
    assert.ok(result.adversarial.min().item() >= 0 && result.adversarial.max().item() <= 1, 'inside the box');
    const predicted = noGrad(() => model.forward(result.adversarial).argmax(1));
    const expected = targeted ? predicted.eq(result.targets!) : predicted.ne(result.labels);
    assert.ok(expected.equal(result.success), 'success re-checked on the returned images');
  }

  test('C&W L2, targeted at every example: all succeed, each closer than DeepFool or a κ = 5 attack, and κ holds', () => {
    scope(() => {
      const [xCopy, yCopy] = [x.clone(), y.clone()];
      const targets = y.add(1).remainder(10);
      const options = { searchSteps: 5, maxIterations: 200, initialConst: 0.1, lr: 0.05 };
      model.train();
      model.zeroGrad({ setToNone: true });
      const cw = new CWL2(options).run(model, x, { labels: y, targets });
      assert.equal(model.training, true, 'training mode restored');
      // The parameters were frozen for the attack: no gradient left on them, and they learn again after it.
      assert.ok(model.parameters().every((p) => p.requiresGrad && p.grad === null), 'parameters untouched and trainable');
      assert.ok(x.equal(xCopy) && y.equal(yCopy), "the caller's tensors are unchanged");
      checkInvariants(cw, true);
      assert.ok(cw.success.all().item(), `success ${cw.success.float().mean().item()}`);
      const confident = new CWL2({ ...options, kappa: 5 }).run(model, x, { labels: y, targets });
      checkInvariants(confident, true);
      const margin = noGrad(() => goalMargin(model.forward(confident.adversarial), targets, true));
      assert.ok(margin.maskedSelect(confident.success).min().item() >= 5 - 1e-4, 'κ = 5 margins');
      assert.ok(cw.l2.mean().item() < confident.l2.mean().item(), 'confidence costs distance');
      // Untargeted, C&W's best is closer than DeepFool's first crossing (C&W's Table IV: 1.36 against 2.11 on MNIST).
      const untargeted = new CWL2(options).run(model, x, { labels: y });
      const deepfool = new DeepFool().run(model, x, { labels: y });
      checkInvariants(untargeted, false);
      checkInvariants(deepfool, false);
      assert.ok(deepfool.success.all().item(), 'DeepFool succeeds everywhere');
      assert.ok(untargeted.l2.mean().item() < deepfool.l2.mean().item(), `C&W ${untargeted.l2.mean().item()} against DeepFool ${deepfool.l2.mean().item()}`);
    });
  });

  test('JSMA-Z and JSMA-F reach every target by raising pixels; γ caps the changed pixels; untargeted needs fewer', () => {
    scope(() => {
      const targets = y.add(1).remainder(10);
      for (const variant of ['z', 'f'] as const) {
        const result = new JSMA({ variant }).run(model, x, { labels: y, targets });
        checkInvariants(result, true);
        assert.ok(result.success.all().item(), `JSMA-${variant} success ${result.success.float().mean().item()}`);
        // θ = +1 sets a chosen pixel to 1, so nothing falls.
        assert.ok(result.adversarial.sub(x).min().item() >= 0, 'features only increase');
        assert.ok(result.adversarial.ne(x).logicalAnd(result.adversarial.ne(1)).logicalNot().all().item(), 'changed pixels are set to the top of the box');
      }
      const capped = new JSMA({ gamma: 0.02 }).run(model, x, { labels: y, targets });
      checkInvariants(capped, true);
      assert.ok(capped.l0.max().item() <= Math.floor(0.02 * 784), `L0 ${capped.l0.max().item()} over γ·784`);
      const untargeted = new JSMA().run(model, x, { labels: y });
      checkInvariants(untargeted, false);
      assert.ok(untargeted.success.all().item());
    });
  });

  test('C&W L0 and L∞ reach every target; L0 changes fewer pixels than JSMA, and leaves the rest exactly as they were', () => {
    scope(() => {
      const x5 = x.narrow(0, 0, 8);
      const y5 = y.narrow(0, 0, 8);
      const targets = y5.add(1).remainder(10);
      const l0 = new CWL0({ maxIterations: 100, initialConst: 1 }).run(model, x5, { labels: y5, targets });
      checkInvariants(l0, true);
      assert.ok(l0.success.all().item(), `C&W L0 success ${l0.success.float().mean().item()}`);
      const jsma = new JSMA().run(model, x5, { labels: y5, targets });
      assert.ok(l0.l0.mean().item() < jsma.l0.mean().item(), `C&W L0 ${l0.l0.mean().item()} pixels against JSMA's ${jsma.l0.mean().item()}`);
      const linf = new CWLinf({ maxIterations: 100, initialConst: 0.1, lr: 0.05 }).run(model, x5, { labels: y5, targets });
      checkInvariants(linf, true);
      assert.ok(linf.success.all().item(), `C&W L∞ success ${linf.success.float().mean().item()}`);
      // The L∞ attack spreads its change: its largest change is below DeepFool L∞'s on the same targets.
      const deepfool = new DeepFool({ norm: 'linf' }).run(model, x5, { labels: y5, targets });
      assert.ok(linf.linf.mean().item() < deepfool.linf.mean().item(), `C&W L∞ ${linf.linf.mean().item()} against DeepFool's ${deepfool.linf.mean().item()}`);
    });
  });

  test('L-BFGS reaches every target, farther than C&W L2 with the same budget of c values', () => {
    scope(() => {
      const x8 = x.narrow(0, 0, 8);
      const y8 = y.narrow(0, 0, 8);
      const targets = y8.add(1).remainder(10);
      const lbfgs = new LBFGSAttack({ searchSteps: 5, maxIterations: 50 }).run(model, x8, { labels: y8, targets });
      checkInvariants(lbfgs, true);
      assert.ok(lbfgs.success.all().item(), `L-BFGS success ${lbfgs.success.float().mean().item()}`);
      const untargeted = new LBFGSAttack({ searchSteps: 5, maxIterations: 50 }).run(model, x8, { labels: y8 });
      checkInvariants(untargeted, false);
      assert.ok(untargeted.l2.mean().item() < lbfgs.l2.mean().item(), 'one target of nine is harder than any wrong class');
    });
  });

  test('all targets: one row per example and other class; the best case is the easiest target, the worst the hardest', () => {
    scope(() => {
      const x4 = x.narrow(0, 0, 4);
      const y4 = y.narrow(0, 0, 4);
      const all = attackAllTargets(new DeepFool(), model, x4, { labels: y4, norm: 'l2' });
      assert.deepEqual(all.result.labels.toArray(), (y4.toArray() as number[]).flatMap((label) => Array(9).fill(label)));
      assert.deepEqual(all.result.targets!.toArray(), (y4.toArray() as number[]).flatMap((label) => Array.from({ length: 9 }, (_, j) => (label + 1 + j) % 10)));
      checkInvariants(all.result, true);
      const l2 = all.result.l2.view(4, 9);
      const success = all.result.success.view(4, 9);
      assert.equal(all.average.successRate, success.float().mean().item());
      assert.equal(all.best.successRate, success.any(1).float().mean().item());
      assert.equal(all.worst.successRate, success.all(1).float().mean().item());
      if (success.all().item()) {
        assertClose(tensor(all.best.meanL2), l2.amin(1).mean(), { rtol: 1e-6 });
        assertClose(tensor(all.worst.meanL2), l2.amax(1).mean(), { rtol: 1e-6 });
        assertClose(tensor(all.average.meanL2), l2.mean(), { rtol: 1e-6 });
      }
      assert.ok(all.best.meanL2 <= all.average.meanL2 && all.average.meanL2 <= all.worst.meanL2);
      all.dispose();
      assertThrowsWith(() => attackAllTargets(new DeepFool(), model, x4, { labels: y4, norm: 'l3' as 'l2' }), /norm must be 'l0', 'l2' or 'linf', got 'l3'/);
    });
  });

  test('discretize: results on the 8-bit lattice, and every success survives the rounding', () => {
    scope(() => {
      // Without overshoot DeepFool stops on the boundary, where rounding breaks many results.
      const rounded = new DeepFool({ overshoot: 0, discretize: true }).run(model, x, { labels: y });
      checkInvariants(rounded, false);
      const levels = rounded.adversarial.mul(255);
      assert.ok(levels.sub(levels.round()).abs().max().item() < 1e-4, 'every pixel a multiple of 1/255');
      assert.ok(rounded.success.all().item(), 'the repair restores every success');
      assertThrowsWith(() => new PGD({ eps: 0.1, discretize: true }).run(model, x, { labels: y }), /PGD: discretize is for the minimum-distortion attacks/);
    });
  });

  test('DeepFool targeted and L∞ reach their goals; examples the model already gets wrong are left unchanged', () => {
    scope(() => {
      const targets = y.add(3).remainder(10);
      const targeted = new DeepFool().run(model, x, { labels: y, targets });
      checkInvariants(targeted, true);
      assert.ok(targeted.success.float().mean().item() >= 0.95, `targeted success ${targeted.success.float().mean().item()}`);
      const linf = new DeepFool({ norm: 'linf' }).run(model, x, { labels: y });
      checkInvariants(linf, false);
      assert.ok(linf.success.all().item());
      // Labels that the model does not predict: every example already "succeeds" at distance 0.
      const wrong = noGrad(() => model.forward(x).argmax(1).add(1).remainder(10));
      const untouched = new DeepFool().run(model, x, { labels: wrong });
      assert.equal(untouched.iterations, 0);
      assert.equal(untouched.l2.max().item(), 0);
    });
  });
});

test("RowAdam takes PyTorch Adam's steps, and rows it drops leave the others' steps unchanged", () => {
  scope(() => {
    manualSeed(1);
    const start = rand([3, 4]);
    const target = rand([3, 4]);
    // A separable loss: each row's steps depend on that row alone.
    const lossOf = (v: Tensor, t: Tensor) => enableGrad(() => v.sub(t).pow(3).abs().sum());
    const rows = new RowAdam(start, 0.05);
    const param = start.clone().requiresGrad_(true);
    const adam = new Adam([param], { lr: 0.05 });
    for (let i = 0; i < 5; i++) {
      lossOf(rows.variable, target).backward();
      rows.step();
      adam.zeroGrad();
      lossOf(param, target).backward();
      adam.step();
    }
    assertClose(rows.variable.detach(), param.detach(), { rtol: 1e-6, atol: 1e-7 });
    // Rows 0 and 2 go on for 5 more steps; a RowAdam that only ever had them agrees after its 10.
    const kept = tensor([0, 2], { dtype: 'int64' });
    const alone = new RowAdam(start.indexSelect(0, kept), 0.05);
    const keptTarget = target.indexSelect(0, kept);
    for (let i = 0; i < 10; i++) {
      lossOf(alone.variable, keptTarget).backward();
      alone.step();
    }
    rows.keep(kept);
    for (let i = 0; i < 5; i++) {
      lossOf(rows.variable, keptTarget).backward();
      rows.step();
    }
    assertClose(rows.variable.detach(), alone.variable.detach(), { rtol: 1e-6, atol: 1e-7 });
    // Resumed from its state, with rows at different step counts (row 0 after 10 steps, row 1 after 0), a new
    // RowAdam takes the steps the old one would have.
    const both = tensor([0, 1], { dtype: 'int64' });
    const saved = alone.rows(both);
    const fresh = new RowAdam(start.indexSelect(0, both), 0.05);
    const mixed = { variable: cat([saved.variable.narrow(0, 0, 1), start.narrow(0, 1, 1)]), expAvg: cat([saved.expAvg.narrow(0, 0, 1), zeros([1, 4])]), expAvgSq: cat([saved.expAvgSq.narrow(0, 0, 1), zeros([1, 4])]), steps: tensor([10, 0]) };
    const resumed = new RowAdam(mixed, 0.05);
    for (let i = 0; i < 5; i++) {
      for (const [o, t] of [[alone, keptTarget], [fresh, target.indexSelect(0, both)], [resumed, cat([keptTarget.narrow(0, 0, 1), target.narrow(0, 1, 1)])]] as const) {
        lossOf(o.variable, t).backward();
        o.step();
      }
    }
    assertClose(resumed.variable.detach().narrow(0, 0, 1), alone.variable.detach().narrow(0, 0, 1), { rtol: 1e-6, atol: 1e-7 });
    assertClose(resumed.variable.detach().narrow(0, 1, 1), fresh.variable.detach().narrow(0, 1, 1), { rtol: 1e-6, atol: 1e-7 });
    assertThrowsWith(() => new RowAdam(start, 0.1).step(), /RowAdam: the variable has no gradient/);
    for (const o of [rows, alone, adam, fresh, resumed]) o.dispose();
  });
});

test('C&W L2 holds as many tensors at its last step as at its first: nothing piles up over iterations or values of c', () => {
  const model = trainedSmallCnn();
  const data = loadMnist({ split: 'test' });
  scope(() => {
    const x = data.images.narrow(0, 0, 20);
    const y = data.labels.narrow(0, 0, 20);
    // Live tensors at every model call; the first (the class count) and the last (the success check) come before and after the descent.
    const live: number[] = [];
    const forward = (input: Tensor) => {
      live.push(liveTensors());
      return model.forward(input);
    };
    // Five values of c restart the descent five times.
    const result = new CWL2({ searchSteps: 5, maxIterations: 100, initialConst: 0.1 }).run(forward, x, { labels: y, targets: y.add(1).remainder(10) });
    const steady = live.slice(1, -1);
    assert.equal(steady.length, result.iterations);
    assert.equal(Math.max(...steady) - Math.min(...steady), 0, `live tensors from ${Math.min(...steady)} to ${Math.max(...steady)} over ${steady.length} steps`);
  });
  data.dispose();
  model.dispose();
});

test('the C&W attacks treat each example as its own problem: a batch gives what each example gives alone', () => {
  const model = trainedSmallCnn();
  const data = loadMnist({ split: 'test' });
  scope(() => {
    const x = data.images.narrow(0, 0, 3);
    const y = data.labels.narrow(0, 0, 3);
    const targets = y.add(3).remainder(10);
    // Early abort, the growing c and the L0 pixel fixing all run per example.
    const attacks = [new CWL2({ searchSteps: 3, maxIterations: 200, initialConst: 0.1 }), new CWLinf({ maxIterations: 100, initialConst: 0.1 }), new CWL0({ maxIterations: 100, initialConst: 0.1 })];
    for (const attack of attacks) {
      const batch = attack.run(model, x, { labels: y, targets });
      for (let i = 0; i < 3; i++) {
        const single = attack.run(model, x.narrow(0, i, 1), { labels: y.narrow(0, i, 1), targets: targets.narrow(0, i, 1) });
        assertClose(batch.adversarial.narrow(0, i, 1), single.adversarial, { atol: 1e-4 }, `${attack.name}, example ${i}`);
      }
    }
  });
  data.dispose();
  model.dispose();
});

test('bad options get clear errors', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => new CWL2({ kappa: -1 }), /CWL2: kappa must be a finite number >= 0, got -1/],
    [() => new CWL2({ searchSteps: 0 }), /CWL2: searchSteps must be an integer >= 1, got 0/],
    [() => new CWL2({ maxIterations: 1.5 }), /CWL2: maxIterations must be an integer >= 1, got 1.5/],
    [() => new CWL2({ initialConst: 0 }), /CWL2: initialConst must be a finite number > 0, got 0/],
    [() => new CWL2({ lr: Number.NaN }), /CWL2: lr must be a finite number > 0, got NaN/],
    [() => new DeepFool({ norm: 'l1' as 'l2' }), /DeepFool: norm must be 'l2' or 'linf', got 'l1'/],
    [() => new DeepFool({ overshoot: -0.1 }), /DeepFool: overshoot must be a finite number >= 0, got -0.1/],
    [() => new DeepFool({ maxIterations: 0 }), /DeepFool: maxIterations must be an integer >= 1, got 0/],
    [() => new DeepFool({ candidates: 1 }), /DeepFool: candidates must be an integer >= 2, got 1/],
    [() => new CWLinf({ decreaseFactor: 1 }), /CWLinf: decreaseFactor must be in \(0, 1\), got 1/],
    [() => new CWLinf({ largestConst: 1e-6 }), /CWLinf: largestConst must be finite and above initialConst \(0.00001\), got 0.000001/],
    [() => new CWL0({ kappa: -0.5 }), /CWL0: kappa must be a finite number >= 0, got -0.5/],
    [() => new CWL0({ maxIterations: 0 }), /CWL0: maxIterations must be an integer >= 1, got 0/],
    [() => new CWL2({ startNoise: -0.1 }), /CWL2: startNoise must be a number from 0 to the box's width 1, got -0.1/],
    [() => new CWL0({ startNoise: 2 }), /CWL0: startNoise must be a number from 0 to the box's width 1, got 2/],
    [() => new CWLinf({ startNoise: Number.NaN }), /CWLinf: startNoise must be a number from 0 to the box's width 1, got NaN/],
    [() => new CWL2({ discretize: 'yes' as unknown as boolean }), /CWL2: discretize must be true or false, got/],
    [() => new LBFGSAttack({ searchSteps: 0 }), /L-BFGS: searchSteps must be an integer >= 1, got 0/],
    [() => new LBFGSAttack({ initialConst: -1 }), /L-BFGS: initialConst must be a finite number > 0, got -1/],
    [() => new LBFGSAttack({ history: 0 }), /L-BFGS: history must be an integer >= 1, got 0/],
    [() => new JSMA({ theta: 0 }), /JSMA: theta must be in \[-1, 0\) or \(0, 1\], got 0/],
    [() => new JSMA({ theta: 1.5 }), /JSMA: theta must be in \[-1, 0\) or \(0, 1\], got 1.5/],
    [() => new JSMA({ gamma: 0 }), /JSMA: gamma must be in \(0, 1\], got 0/],
    [() => new JSMA({ gamma: 1.2 }), /JSMA: gamma must be in \(0, 1\], got 1.2/],
    [() => new JSMA({ variant: 'g' as 'z' }), /JSMA: variant must be 'z' \(logits\) or 'f' \(softmax\), got 'g'/],
    [() => new MinimumEps((eps) => new FGSM({ eps }), { grid: [0.1, 0.05] }), /FGSM \(minimum ε\): grid must be a non-empty list of increasing finite ε > 0, got \[0.1,0.05\]/],
    [() => new MinimumEps((eps) => new FGSM({ eps }), { grid: [] }), /grid must be a non-empty list/],
    [() => new MinimumEps((eps) => new FGSM({ eps, box: [-1, 1] })), /the attack's box \[-1,1\] differs from this search's \[0,1\]/],
    [() => new MinimumEps('fgsm' as unknown as (eps: number) => FGSM), /MinimumEps: attackAt must be a function from ε to an attack/],
  ];
  for (const [make, pattern] of cases) assertThrowsWith(make, pattern);
  scope(() => {
    const model = new nn.Linear(4, 3);
    const x = rand([2, 4]);
    assertThrowsWith(() => new CWL2().run(model, x, { labels: tensor([0, 1], { dtype: 'int64' }), targets: tensor([0, 2], { dtype: 'int64' }) }), /CWL2: some targets equal the true labels/);
    assertThrowsWith(() => new DeepFool().run(model, x.mul(3).sub(1), { labels: tensor([0, 1], { dtype: 'int64' }) }), /DeepFool: inputs must lie in the box \[0, 1\]/);
    model.dispose();
  });
});
