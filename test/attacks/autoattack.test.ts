// AutoAttack's attacks (APGD-CE/DLR, APGD-T, FAB, FAB-T, Square) and the
// ensemble: parity of their formulas with the PyTorch implementation in
// bench/autoattack_torch.py (committed fixtures), the invariants every attack
// keeps, the ensemble's bookkeeping, and what it catches that PGD misses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { F, isGradEnabled, liveTensors, manualSeed, nn, noGrad, rand, randn, scope, Tensor } from '../../src/index.js';
import { APGD, APGDT, apgdCheckpoints, dlrLoss, FAB, FABT, PGD, projectOntoHyperplane, Square, squareFraction, squarePattern, targetedDlrLoss, type Attack } from '../../src/attacks/index.js';
import { autoAttack, autoAttackStages, gradientMaskingFlags } from '../../src/eval/index.js';
import { evaluateAttack } from '../../src/eval/robustness.js';
import { loadMnist } from '../../src/data/mnist.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { assertClose, assertThrowsWith, SmallCnn, trainedSmallCnn } from '../helpers.js';

let model: SmallCnn;
let x: Tensor; // 100 MNIST test images
let y: Tensor;
let start: number;

before(() => {
  start = liveTensors();
  model = trainedSmallCnn();
  const test = loadMnist({ split: 'test' });
  model.eval();
  [x, y] = scope(() => [test.images.narrow(0, 0, 100).clone(), test.labels.narrow(0, 0, 100).clone()]);
  test.dispose();
});

after(() => {
  model.dispose();
  x.dispose();
  y.dispose();
  assert.equal(liveTensors(), start, 'the AutoAttack tests leaked tensors');
});

const FLOAT_SLACK = 1e-6; // float32 rounding of x + δ at magnitudes ≤ 1

describe('parity with the same formulas in PyTorch (bench/autoattack_torch.py)', () => {
  const file = loadSafetensors(fileURLToPath(new URL('../../../test/fixtures/attacks/autoattack.safetensors', import.meta.url)));
  const t = (name: string) => file.tensors.get(name)!;
  const schedule = JSON.parse(file.metadata.schedule) as Record<string, Record<string, number[] | number>>;
  class Net extends nn.Module {
    conv = new nn.Conv2d(1, 4, 3, { padding: 1 });
    fc = new nn.Linear(16 * 4, 10);
    forward(z: Tensor): Tensor {
      return scope(() => this.fc.forward(F.maxPool2d(this.conv.forward(z).relu(), 2).flatten(1)));
    }
  }
  let net: Net;
  before(() => {
    net = new Net();
    net.loadStateDict(new Map([...file.tensors].filter(([k]) => k.startsWith('net/')).map(([k, v]) => [k.slice(4), v])));
  });
  after(() => {
    net.dispose();
    for (const v of file.tensors.values()) v.dispose();
  });

  test('the DLR loss and its targeted form', () => {
    scope(() => {
      assertClose(dlrLoss(t('logits'), t('logits_y')), t('dlr'), { rtol: 1e-6, atol: 1e-6 }, 'DLR');
      assertClose(targetedDlrLoss(t('logits'), t('logits_y'), t('logits_t')), t('dlr_targeted'), { rtol: 1e-6, atol: 1e-6 }, 'targeted DLR');
    });
  });

  test("APGD's checkpoints: the paper's p_j sequence for 100 steps, and the reference's for other lengths", () => {
    assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
    for (const [steps, points] of Object.entries(schedule.checkpoints)) assert.deepEqual(apgdCheckpoints(Number(steps)), points, `${steps} steps`);
  });

  test("Square's square-size schedule, plain and rescaled", () => {
    for (const [it, p] of Object.entries(schedule.square_fraction)) assert.equal(squareFraction(Number(it), 0.8, 5000, false), p, `iteration ${it}`);
    for (const [it, p] of Object.entries(schedule.square_fraction_rescaled_1000)) assert.equal(squareFraction(Number(it), 0.8, 1000, true), p, `iteration ${it} of 1,000`);
  });

  test("Square's L2 patterns", () => {
    for (const s of [3, 5, 8, 11]) scope(() => assertClose(squarePattern(s, false), t(`square_pattern_${s}`), { rtol: 1e-6, atol: 1e-7 }, `side ${s}`));
    scope(() => assertClose(squarePattern(5, true), t('square_pattern_5').t(), { rtol: 1e-6, atol: 1e-7 }, 'transposed'));
  });

  test("FAB's projection onto a hyperplane inside the box, L∞ and L2", () => {
    scope(() => {
      for (const norm of ['linf', 'l2'] as const) assertClose(projectOntoHyperplane(t('proj_t'), t('proj_w'), t('proj_b'), norm), t(`proj_${norm}`), { rtol: 1e-4, atol: 1e-6 }, norm);
    });
  });

  // APGD from a fixed start, so both sides follow the same path.
  class FixedStart extends APGD {
    from(start: Tensor, loss: 'ce' | 'dlr' | 'dlr-targeted', goal: Tensor, target: Tensor) {
      const lossOf = loss === 'ce' ? (z: Tensor) => F.crossEntropy(z, goal, { reduction: 'none' }) : loss === 'dlr' ? (z: Tensor) => dlrLoss(z, goal) : (z: Tensor) => targetedDlrLoss(z, goal, target);
      return this.runOnce((z) => net.forward(z), t('x'), lossOf, (z) => z.argmax(1).ne(goal), start);
    }
  }
  for (const [norm, eps] of [['linf', 0.1], ['l2', 0.5]] as const) {
    for (const loss of ['ce', 'dlr', 'dlr-targeted'] as const) {
      test(`an APGD run, ${loss}, ${norm}: every iterate, step halving and restart from the best point`, () => {
        scope(() => {
          const run = noGrad(() => new FixedStart({ norm, eps, steps: 20 }).from(t(`start_${norm}`), loss, t('y'), t('target')));
          const key = loss === 'dlr-targeted' ? `apgd_t_${norm}` : `apgd_${loss}_${norm}`;
          assertClose(run.x, t(key), { rtol: 1e-4, atol: 1e-5 }, key);
          assertClose(run.score, t(`${key}_loss`), { rtol: 1e-4, atol: 1e-5 }, `${key} best loss`);
        });
      });
    }
    test(`a FAB-T run, ${norm}: the closest adversarial point and its distance`, () => {
      scope(() => {
        class Probe extends FABT {
          once() {
            return this.runOnce((z) => net.forward(z), t('x'), t('y'), t('target'), false);
          }
        }
        const run = new Probe({ norm, eps: 10, steps: 10 }).once();
        assertClose(run.x, t(`fab_t_${norm}`), { rtol: 1e-4, atol: 1e-5 }, `FAB-T ${norm}`);
        assertClose(run.score.neg(), t(`fab_t_${norm}_distance`), { rtol: 1e-4, atol: 1e-5 }, `FAB-T ${norm} distance`);
      });
    });
  }
});

describe('attack invariants on an MNIST CNN', () => {
  const cases: [string, () => Attack, 'linf' | 'l2', number][] = [
    ['APGD-CE linf', () => new APGD({ eps: 0.1, steps: 20 }), 'linf', 0.1],
    ['APGD-DLR l2', () => new APGD({ norm: 'l2', eps: 1, steps: 20, loss: 'dlr', restarts: 2 }), 'l2', 1],
    ['APGD-T linf', () => new APGDT({ eps: 0.1, steps: 10, targetClasses: 3 }), 'linf', 0.1],
    ['FAB linf', () => new FAB({ eps: 0.1, steps: 10, restarts: 2 }), 'linf', 0.1],
    ['FAB-T l2', () => new FABT({ norm: 'l2', eps: 1, steps: 10, targetClasses: 3 }), 'l2', 1],
    ['Square linf', () => new Square({ eps: 0.1, queries: 200 }), 'linf', 0.1],
    ['Square l2', () => new Square({ norm: 'l2', eps: 1, queries: 200 }), 'l2', 1],
  ];
  for (const [name, make, norm, eps] of cases) {
    test(`${name}: within ε and the box, successes re-checked, the caller's tensors untouched`, () => {
      scope(() => {
        const before = x.clone();
        const labels = y.clone();
        const result = make().run(model, x, { labels });
        assert.ok(x.equal(before) && labels.equal(y), 'the input or labels changed');
        const [lo, hi] = [result.adversarial.min().item(), result.adversarial.max().item()];
        assert.ok(lo >= 0 && hi <= 1, `outside the box: [${lo}, ${hi}]`);
        const worst = (norm === 'linf' ? result.linf : result.l2).max().item();
        assert.ok(worst <= eps * (1 + 1e-5) + FLOAT_SLACK, `‖δ‖ = ${worst} > ε = ${eps}`);
        const fooled = noGrad(() => model.forward(result.adversarial).argmax(1).ne(y));
        assert.ok(fooled.equal(result.success), 'a reported success does not hold when the example is fed again');
        const rate = result.success.float().mean().item();
        assert.ok(rate > 0.05, `${name} broke only ${rate} of the examples`);
        result.dispose();
      });
    });
  }

  test('Square never asks for a gradient, and counts its queries', () => {
    scope(() => {
      let withGrad = 0;
      let calls = 0;
      const blackBox = (z: Tensor) => {
        calls++;
        if (isGradEnabled()) withGrad++;
        return model.forward(z);
      };
      const result = new Square({ eps: 0.1, queries: 100 }).run(blackBox, x.narrow(0, 0, 20), { labels: y.narrow(0, 0, 20) });
      assert.equal(withGrad, 0, 'Square ran the model with gradients enabled');
      // One query for the start, one per iteration until the example breaks.
      const queries = result.queries!.toArray() as number[];
      const success = result.success.toArray() as boolean[];
      queries.forEach((q, i) => (success[i] ? assert.ok(q >= 1 && q <= 101, `broken example ${i}: ${q} queries`) : assert.equal(q, 101, `unbroken example ${i}`)));
      assert.ok(success.some((s, i) => s && queries[i] < 101), 'no example stopped early');
      assert.ok(calls <= 103, `${calls} model calls for 100 iterations`);
      result.dispose();
    });
  });

  test('on a linear classifier FAB finds the minimal L2 and L∞ distance to the boundary within 1%', () => {
    scope(() => {
      manualSeed(5);
      const linear = new nn.Linear(20, 4);
      const points = noGrad(() => rand([40, 20]).mul(0.2).add(0.4));
      const labels = noGrad(() => linear.forward(points).argmax(1));
      for (const norm of ['l2', 'linf'] as const) {
        const result = new FAB({ norm, eps: 10, steps: 50 }).run(linear, points, { labels });
        // Closed form: min over j ≠ y of (z_y − z_j) / ‖w_y − w_j‖_dual, when the box does not bind.
        const exact = noGrad(() => {
          const z = linear.forward(points);
          const w = linear.weight;
          const rows = labels.toArray() as number[];
          return rows.map((c, i) => {
            let best = Infinity;
            for (let j = 0; j < 4; j++) {
              if (j === c) continue;
              const dw = w.select(0, c).sub(w.select(0, j));
              const dual = norm === 'l2' ? dw.norm(2).item() : dw.abs().sum().item();
              best = Math.min(best, (z.select(0, i).select(0, c).item() - z.select(0, i).select(0, j).item()) / dual);
            }
            return best;
          });
        });
        const found = (norm === 'l2' ? result.l2 : result.linf).toArray() as number[];
        assert.ok(result.success.all().item(), 'FAB failed on a linear model');
        // 1% of the distance, or float32's resolution at these inputs (1e-6) for a point next to the boundary.
        found.forEach((d, i) => assert.ok(d >= exact[i] * (1 - 1e-4) - 1e-6 && d <= exact[i] * 1.01 + 1e-6, `${norm} example ${i}: found ${d}, minimum ${exact[i]}`));
        result.dispose();
      }
      linear.dispose();
    });
  });
});

describe('AutoAttack', () => {
  test('each stage lowers or keeps the robust accuracy, which ends no higher than PGD’s; the broken examples are adversarial', () => {
    scope(() => {
      const stages: number[] = [];
      const [xs, ys] = [x.narrow(0, 0, 30), y.narrow(0, 0, 30)];
      const result = autoAttack(model, xs, ys, { eps: 0.1, onStage: (s) => stages.push(s.robustAccuracy) });
      assert.deepEqual(result.stages.map((s) => s.attack), ['APGD-CE', 'APGD-T', 'FAB-T', 'Square'].slice(0, result.stages.length));
      let last = result.cleanAccuracy;
      for (const s of result.stages) {
        assert.ok(s.robustAccuracy <= last, `${s.attack} raised robust accuracy from ${last} to ${s.robustAccuracy}`);
        assert.ok(s.seconds >= 0);
        last = s.robustAccuracy;
      }
      assert.deepEqual(stages, result.stages.map((s) => s.robustAccuracy));
      assert.equal(result.robustAccuracy, last);
      assert.equal(result.brokenBy.filter((b) => b === null).length / 30, result.robustAccuracy);
      const pgd = evaluateAttack(model, xs, ys, { name: 'PGD-20', attack: new PGD({ eps: 0.1, steps: 20, stepSize: 0.01 }), norm: 'L∞', eps: 0.1, steps: 20, restarts: 1 });
      assert.ok(result.robustAccuracy <= pgd.robustAccuracy, `AutoAttack ${result.robustAccuracy} > PGD-20 ${pgd.robustAccuracy}`);
      const predictions = noGrad(() => model.forward(result.adversarial).argmax(1).toArray() as number[]);
      const labels = ys.toArray() as number[];
      const delta = noGrad(() => result.adversarial.sub(xs).flatten(1).abs().amax(1).toArray() as number[]);
      result.brokenBy.forEach((b, i) => {
        if (b !== null) assert.notEqual(predictions[i], labels[i], `example ${i}, broken by ${b}, is classified correctly`);
        else assert.equal(delta[i], 0, `robust example ${i} was changed`);
        assert.ok(delta[i] <= 0.1 + FLOAT_SLACK);
      });
      result.dispose();
    });
  });

  test('a model whose logits are scaled by 1,000 (a saturated softmax, as defensive distillation makes) stops PGD but not AutoAttack, and the diagnostics say so', () => {
    scope(() => {
      const saturated = (z: Tensor) => model.forward(z).mul(1000);
      const [xs, ys] = [x.narrow(0, 0, 50), y.narrow(0, 0, 50)];
      const pgd = evaluateAttack(saturated, xs, ys, { name: 'PGD-20', attack: new PGD({ eps: 0.15, steps: 20, stepSize: 0.015 }), norm: 'L∞', eps: 0.15, steps: 20, restarts: 1 });
      const result = autoAttack(saturated, xs, ys, { eps: 0.15 });
      const apgdCe = result.stages[0].robustAccuracy;
      assert.ok(pgd.robustAccuracy - result.robustAccuracy > 0.2, `PGD ${pgd.robustAccuracy}, AutoAttack ${result.robustAccuracy}`);
      assert.ok(apgdCe - result.robustAccuracy > 0.2, `APGD-CE ${apgdCe} should be far weaker than the DLR and black-box stages (${result.robustAccuracy})`);
      const flags = gradientMaskingFlags({ autoAttack: result, pgd: [pgd] });
      assert.ok(flags.some((f) => /exactly zero input gradient/.test(f)), flags.join('\n'));
      assert.ok(flags.some((f) => /PGD-20 on cross-entropy leaves .* robust where AutoAttack leaves/.test(f)), flags.join('\n'));
      // A black-box search on the same model, alone, does what white-box PGD cannot.
      const square = evaluateAttack(saturated, xs, ys, { name: 'Square', attack: new Square({ eps: 0.15, queries: 1000 }), norm: 'L∞', eps: 0.15, steps: 1000, restarts: 1 });
      assert.ok(square.robustAccuracy < pgd.robustAccuracy - 0.2, `Square ${square.robustAccuracy}, PGD ${pgd.robustAccuracy}`);
      result.dispose();
    });
  });

  test('robust accuracy rising with ε is flagged; a falling curve is not', () => {
    const rising = gradientMaskingFlags({ sweep: { attack: 'PGD-20', points: [{ eps: 0.1, robustAccuracy: 0.5 }, { eps: 0.2, robustAccuracy: 0.3 }, { eps: 0.3, robustAccuracy: 0.6 }] } });
    assert.equal(rising.length, 1);
    assert.match(rising[0], /at ε = 0.3 \(60.0%\) is higher than at a smaller ε \(30.0%\)/);
    assert.deepEqual(gradientMaskingFlags({ sweep: { attack: 'PGD-20', points: [{ eps: 0.1, robustAccuracy: 0.5 }, { eps: 0.2, robustAccuracy: 0.51 }, { eps: 0.3, robustAccuracy: 0.1 }] } }), []);
  });

  test('a randomised model is flagged; the rand version averages each gradient over 20 draws', () => {
    scope(() => {
      const noisy = (z: Tensor) => model.forward(z.add(noGrad(() => randn(z.shape).mul(0.05))));
      // Wrong labels leave nothing to attack, so only the checks run.
      const [xs, wrong] = [x.narrow(0, 0, 10), y.narrow(0, 0, 10).add(1).remainder(10)];
      const standard = autoAttack(noisy, xs, wrong, { eps: 0.1 });
      assert.ok(standard.diagnostics.some((d) => /randomised/.test(d)), standard.diagnostics.join('\n'));
      standard.dispose();
      const deterministic = autoAttack(model, xs, wrong, { eps: 0.1 });
      assert.deepEqual(deterministic.diagnostics, []);
      deterministic.dispose();
      const rand = autoAttackStages('rand', 'linf', 0.1);
      assert.deepEqual(rand.map((s) => s.name), ['APGD-CE', 'APGD-DLR']);
      for (const { attack } of rand) assert.equal((attack as APGD).eotIter, 20);
      let calls = 0;
      const counted = (z: Tensor) => {
        calls++;
        return noisy(z);
      };
      new APGD({ eps: 0.1, steps: 3, eotIter: 5 }).run(counted, xs, { labels: y.narrow(0, 0, 10) }).dispose();
      assert.equal(calls, 1 + 5 * (3 + 1) + 1, 'one check, 5 draws at the start and after each of 3 steps, one re-check');
    });
  });
});

describe('bad input gets a clear error', () => {
  const probabilities = (z: Tensor) => F.softmax(model.forward(z), 1);
  const threeClasses = (z: Tensor) => model.forward(z).narrow(1, 0, 3);
  const twoClasses = (z: Tensor) => model.forward(z).narrow(1, 0, 2);
  const bad: [string, () => unknown, RegExp][] = [
    ['an unknown version', () => autoAttack(model, x, y, { eps: 0.1, version: 'fast' as never }), /unknown version 'fast'; choose one of standard, plus, rand/],
    ['ε = 0', () => autoAttack(model, x, y, { eps: 0 }), /eps must be a finite number > 0, got 0/],
    ['a negative ε', () => new APGD({ eps: -0.1 }), /eps must be a finite number > 0, got -0.1/],
    ['an L1 threat model', () => autoAttack(model, x, y, { eps: 0.1, norm: 'l1' as never }), /norm must be 'linf' or 'l2', got 'l1'/],
    ['an L1 Square', () => new Square({ norm: 'l1' as never }), /Square: norm must be 'linf' or 'l2', got 'l1'/],
    ['a model returning probabilities', () => new APGD({ eps: 0.1, steps: 2 }).run(probabilities, x, { labels: y }), /seems to return probabilities .* remove the final softmax/],
    ['AutoAttack on probabilities', () => autoAttack(probabilities, x, y, { eps: 0.1 }), /seems to return probabilities/],
    ['DLR with two classes', () => new APGD({ loss: 'dlr', steps: 2 }).run(twoClasses, x, { labels: y.remainder(2) }), /APGD: the DLR loss needs at least 3 classes, the model has 2/],
    ['APGD-T with three classes', () => new APGDT({ steps: 2 }).run(threeClasses, x, { labels: y.remainder(3) }), /APGD-T: the targeted DLR loss needs at least 4 classes, the model has 3/],
    ['more target classes than classes', () => new FABT({ targetClasses: 10, steps: 2 }).run(model, x, { labels: y }), /FAB-T: targetClasses 10 is more than the 9 classes other than the true one/],
    ['an unknown APGD loss', () => new APGD({ loss: 'hinge' as never }), /loss must be 'ce' or 'dlr', got 'hinge'/],
    ['ρ outside (0, 1]', () => new APGD({ rho: 1.5 }), /rho must be in \(0, 1\], got 1.5/],
    ['α_max above 1', () => new FAB({ alphaMax: 2 }), /alphaMax must be in \[0, 1\], got 2/],
    ['η below 1', () => new FAB({ eta: 0.5 }), /eta must be a finite number >= 1, got 0.5/],
    ['zero queries', () => new Square({ queries: 0 }), /queries must be an integer >= 1, got 0/],
    ['p_init of 0', () => new Square({ pInit: 0 }), /pInit must be in \(0, 1\], got 0/],
    ['Square on flat vectors', () => new Square({ queries: 2 }).run((z: Tensor) => model.forward(z.view(-1, 1, 28, 28)), x.flatten(1), { labels: y }), /Square: expects images \[N, C, H, W\], got float32\[100, 784\]/],
    ['labels of the wrong dtype', () => autoAttack(model, x, y.float(), { eps: 0.1 }), /labels must be int64 \[100\], got float32\[100\]/],
    ['a batch size of 0', () => autoAttack(model, x, y, { eps: 0.1, batchSize: 0 }), /batchSize must be an integer >= 1, got 0/],
    ['zero restarts', () => new APGD({ restarts: 0 }), /restarts must be an integer >= 1, got 0/],
    ['zero EOT draws', () => new APGD({ eotIter: 0 }), /eotIter must be an integer >= 1, got 0/],
  ];
  for (const [name, fn, message] of bad) test(name, () => scope(() => assertThrowsWith(fn, message)));
});
