// ResNets against torchvision 0.14 (fixtures from
// test/fixtures/make_resnet_fixtures.py; the full-size check is
// scripts/check_torchvision_full.py), parameter counts of every registered
// ResNet, He et al.'s option A shortcut, Madry et al.'s wide ResNet, a short
// training run on MNIST-sized inputs, and bad inputs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { arange, F, grad, manualSeed, noGrad, randint, randn, scope, setNumThreads, Tensor } from '../../src/index.js';
import type { Module } from '../../src/nn/module.js';
import { SGD } from '../../src/optim/index.js';
import { getModel, getModelEntry, parameterCount } from '../../src/models/registry.js';
import {
  BasicBlock,
  CifarResNet,
  MadryWideResNet,
  PadShortcut,
  PlainBlock,
  perImageStandardization,
  WideResidualUnit,
  resnet18,
  resnet20,
  resnet50,
  subsampleAndPad,
} from '../../src/models/resnet.js';
import { assertClose, assertThrowsWith, fixtureFile } from '../helpers.js';

// One intra-op thread, as the fixture script uses: on a busy 2-core machine the
// default pool of 2 made resnet20's small convolutions ~100× slower (threads
// waiting on each other), and it runs this file's larger models about as fast.
setNumThreads(1);

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/models/', import.meta.url));
const file = fixtureFile('models/resnet.safetensors', 'make_resnet_fixtures.py');
const { get: fixture } = file;
const SEED = Number(file.metadata.seed);


/** torchvision's state-dict keys and shapes, in order, as the fixture script wrote them. */
function torchvisionKeys(name: string): string[] {
  return readFileSync(`${FIXTURES}${name}_keys.txt`, 'utf8').trimEnd().split('\n');
}

function keysWithShapes(model: Module): string[] {
  return scope(() => [...model.stateDict()].map(([k, t]) => `${k}\t[${t.shape.join(', ')}]`));
}

/**
 * Compares per-tensor (sum, sum of squares) with the fixture's rows. A sum of n
 * values each off by at most δ·|v| is off by at most δ·√(n·Σv²), so that is the
 * bound for sums (which may be near zero); sums of squares are compared relatively.
 */
function assertStats(what: string, names: string[], tensors: Tensor[], expected: Tensor, tol: number): void {
  const want = expected.toArray() as number[][];
  assert.equal(tensors.length, want.length, `${what}: number of tensors`);
  scope(() =>
    tensors.forEach((t, i) => {
      const d = t.double();
      const [sum, sumsq] = [d.sum().item(), d.pow(2).sum().item()];
      const [wantSum, wantSumsq] = want[i];
      const sumBound = tol * Math.sqrt(t.numel() * wantSumsq) + 1e-30;
      assert.ok(Math.abs(sum - wantSum) <= sumBound, `${what} ${names[i]}: sum ${sum} vs torchvision ${wantSum} (bound ${sumBound})`);
      assert.ok(Math.abs(sumsq - wantSumsq) <= tol * wantSumsq + 1e-30, `${what} ${names[i]}: sum of squares ${sumsq} vs torchvision ${wantSumsq}`);
    }),
  );
}

/** max |a − b| / max |b|: the error relative to the logits' scale. */
function relativeError(actual: Tensor, expected: Tensor): number {
  return scope(() => actual.sub(expected).abs().max().item() / expected.abs().max().item());
}

// Counts from torchvision 0.14 (sum of p.numel() over model.parameters()).
const IMAGENET_PARAMETERS: Record<string, number> = {
  resnet18: 11_689_512,
  resnet34: 21_797_672,
  resnet50: 25_557_032,
  resnet101: 44_549_160,
  resnet152: 60_192_808,
};

/**
 * CIFAR ResNet-(6n+2) with option A: ResNet-20 has 269,722 parameters (He et
 * al.'s Table 6: 0.27M). Each further n adds one block per stage, two 3×3
 * convolutions with BN each: 2·(9·16² + 32) + 2·(9·32² + 64) + 2·(9·64² + 128) =
 * 97,216. Plain networks have the same layers, option A no shortcut weights.
 */
function cifarParameters(depth: number): number {
  return 269_722 + 97_216 * ((depth - 2) / 6 - 3);
}

/**
 * Madry et al.'s model: stem 9·3·16; per stage the first unit BN(in) + 3×3 in→out
 * + BN(out) + 3×3 out→out, then four units of 2·(BN(out) + 3×3 out→out); final BN
 * over 640 and a 640→10 linear layer. BN counts γ and β.
 */
function madryWrnParameters(): number {
  const unit = (i: number, o: number) => 2 * i + 9 * i * o + 2 * o + 9 * o * o;
  const stage = (i: number, o: number) => unit(i, o) + 4 * unit(o, o);
  return 9 * 3 * 16 + stage(16, 160) + stage(160, 320) + stage(320, 640) + 2 * 640 + 640 * 10 + 10;
}

describe('ResNet parameter counts', () => {
  const expected: Record<string, number> = { ...IMAGENET_PARAMETERS, 'madry-wrn': madryWrnParameters() };
  for (const depth of [20, 32, 44, 56, 110]) {
    expected[`resnet${depth}`] = cifarParameters(depth);
    expected[`plain${depth}`] = cifarParameters(depth);
  }

  for (const [name, count] of Object.entries(expected)) {
    test(`${name}: ${count.toLocaleString('en-US')}`, () => {
      const model = getModel(name);
      try {
        assert.equal(parameterCount(model), count);
      } finally {
        model.dispose();
      }
    });
  }

  test('option B adds the two projections of ResNet-20: 1×1 16→32 and 32→64 with BN', () => {
    const model = resnet20({ shortcut: 'B' });
    assert.equal(parameterCount(model), 269_722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64));
    model.dispose();
  });
});

describe('ResNet-18 and ResNet-50 equal torchvision 0.14', () => {
  const x = fixture('input');
  const target = fixture('target');
  // The issue asks for logits within 1e-4 of their scale. Train mode is the
  // delicate case: batch statistics of 2 images over layer4's 2×2 maps. There
  // ResNet-50's logits move by 2.7e-5 and its gradients' (sum, sum of squares)
  // by 3.5e-4 and 6.2e-4 in these tests' measures between PyTorch on 1 and on 2
  // threads (summation order alone); NetLab on 2 threads against the fixture
  // (PyTorch, 1 thread) measured the same figures, ResNet-18 and eval mode ≤ 7e-7.
  // On 1 thread, as here, NetLab reproduced the fixture bit for bit on the
  // machine that wrote it; the tolerances are for other CPUs and thread counts.
  const LOGITS = 1e-4;
  const GRADS = 3e-3;

  for (const [name, build] of [
    ['resnet18', resnet18],
    ['resnet50', resnet50],
  ] as const) {
    test(`${name}: state-dict keys and shapes, in torchvision's order`, () => {
      const model = build();
      assert.deepEqual(keysWithShapes(model), torchvisionKeys(name));
      model.dispose();
    });

    test(`${name}: seeded initialisation draws torchvision's weights`, () => {
      for (const zeroInitResidual of [false, true]) {
        manualSeed(SEED);
        const model = build({ zeroInitResidual });
        scope(() => {
          const sd = model.stateDict();
          // Same draws from libtorch's generator: equal up to float64 summation order.
          assertStats(`${name} init (zeroInitResidual ${zeroInitResidual})`, [...sd.keys()], [...sd.values()], fixture(`${name}${zeroInitResidual ? '_zero' : ''}/init_stats`), 1e-10);
        });
        model.dispose();
      }
    });

    test(`${name}: logits in eval and train mode, gradients and running statistics`, () => {
      manualSeed(SEED);
      const model = build();
      scope(() => {
        model.eval();
        const evalLogits = noGrad(() => model.forward(x));
        const evalError = relativeError(evalLogits, fixture(`${name}/eval/logits`));
        assert.ok(evalError <= LOGITS, `${name} eval logits: max error ${evalError} of the logits' scale`);

        model.train();
        const logits = model.forward(x);
        const trainError = relativeError(logits, fixture(`${name}/train/logits`));
        assert.ok(trainError <= LOGITS, `${name} train logits: max error ${trainError} of the logits' scale`);

        const params = model.namedParameters();
        const grads = grad(F.crossEntropy(logits, target), params.map(([, p]) => p));
        assertStats(`${name} gradient`, params.map(([k]) => k), grads as Tensor[], fixture(`${name}/train/grad_stats`), GRADS);
        // Running statistics after one training pass (momentum 0.1), counters at 1; measured within 6e-6.
        const sd = model.stateDict();
        assertStats(`${name} after training pass`, [...sd.keys()], [...sd.values()], fixture(`${name}/train/state_stats`), LOGITS);
      });
      model.dispose();
    });
  }

  test('zeroInitResidual zeroes exactly the last BN of every block', () => {
    const model = resnet50({ zeroInitResidual: true });
    scope(() => {
      for (const [key, t] of model.stateDict()) {
        if (!key.endsWith('.weight') || !/bn\d/.test(key)) continue;
        const isLast = /^layer\d\.\d+\.bn3\.weight$/.test(key);
        assert.equal(t.abs().sum().item() === 0, isLast, `${key} zero: expected ${isLast}`);
      }
    });
    model.dispose();
  });
});

describe('CIFAR ResNets (He et al., Section 4.2)', () => {
  test('option A: stride-2 subsampling, channels doubled with zeros after the input channels', () => {
    scope(() => {
      const x = arange(2 * 3 * 5 * 5, { dtype: 'float32' }).reshape(2, 3, 5, 5);
      const y = subsampleAndPad(x, 2, 6);
      // A 5×5 map subsamples to ⌈5/2⌉ = 3, as a 3×3 stride-2 convolution with padding 1 does.
      assert.deepEqual([...y.shape], [2, 6, 3, 3]);
      assertClose(y.slice(1, 0, 3), x.slice(2, null, null, 2).slice(3, null, null, 2), { rtol: 0, atol: 0 });
      assert.equal(y.slice(1, 3, 6).abs().sum().item(), 0);
      // The same shortcut in a network: no parameters, and the output shape of the block's residual branch.
      const shortcut = new PadShortcut(2, 32);
      assert.equal(shortcut.parameters().length, 0);
      const h = randn([4, 16, 32, 32]);
      assert.deepEqual([...shortcut.forward(h).shape], [4, 32, 16, 16]);
    });
  });

  test('the first block of stages 2 and 3 has a parameter-free shortcut with option A, a projection with B, none when plain', () => {
    const a = resnet20();
    const b = resnet20({ shortcut: 'B' });
    const plain = getModel('plain20') as CifarResNet;
    for (const stage of ['layer2', 'layer3'] as const) {
      const blockA = a[stage][0] as BasicBlock;
      assert.ok(blockA.downsample instanceof PadShortcut, `${stage}.0 option A shortcut`);
      assert.ok(!a.namedParameters().some(([k]) => k.startsWith(`${stage}.0.downsample`)));
      assert.ok(b.namedParameters().some(([k]) => k === `${stage}.0.downsample.0.weight`));
      assert.ok(plain[stage][0] instanceof PlainBlock);
    }
    // Every other block keeps the identity.
    assert.equal((a.layer1[0] as BasicBlock).downsample, null);
    assert.equal((a.layer2[1] as BasicBlock).downsample, null);
    // The plain network has the same weights under the same names.
    assert.deepEqual(keysWithShapes(plain), keysWithShapes(a));
    for (const m of [a, b, plain]) m.dispose();
  });

  test('a residual block adds its input; a plain block does not', () => {
    scope(() => {
      const block = new BasicBlock(8, 8).eval();
      const plain = new PlainBlock(8, 8).eval();
      // Zeroing the last BN's γ and β silences the residual branch: the block becomes relu(x), the plain one 0.
      noGrad(() => {
        for (const m of [block, plain]) {
          m.bn2.weight!.zero_();
          m.bn2.bias!.zero_();
        }
      });
      const x = randn([2, 8, 6, 6]);
      assertClose(noGrad(() => block.forward(x)), x.relu(), { rtol: 0, atol: 0 });
      assert.equal(noGrad(() => plain.forward(x)).abs().sum().item(), 0);
    });
  });

  test('resnet20 learns a random batch of 1×28×28 images (MNIST-sized) in a few SGD steps', () => {
    manualSeed(7);
    const model = resnet20({ inChannels: 1 });
    const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = randn([8, 1, 28, 28]);
    const y = randint(0, 10, [8]);
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      scope(() => {
        optimizer.zeroGrad();
        const logits = model.forward(x);
        // 28 → 14 → 7 through the two stride-2 stages; global pooling makes any size work.
        assert.deepEqual([...logits.shape], [8, 10]);
        const loss = F.crossEntropy(logits, y);
        losses.push(loss.item());
        loss.backward();
        optimizer.step();
      });
    }
    // ln 10 ≈ 2.3 at the start; memorising 8 random labels took it to 0.22 after 6 steps when this was written, so half leaves a wide margin.
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss did not fall: ${losses.map((l) => l.toFixed(3)).join(', ')}`);
    optimizer.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
});

describe("Madry et al.'s wide ResNet", () => {
  // The same code paths at a tenth of the width and one unit per stage, so the tests stay fast.
  const small = () => new MadryWideResNet({ filters: [16, 16, 32, 64], unitsPerStage: 1 });

  test('keys follow model.py variable scopes', () => {
    const model = getModel('madry-wrn');
    const keys = keysWithShapes(model);
    assert.equal(keys[0], 'init_conv.weight\t[16, 3, 3, 3]');
    assert.ok(keys.includes('unit_1.0.init_bn.running_var\t[16]'));
    assert.ok(keys.includes('unit_1.0.conv1.weight\t[160, 16, 3, 3]'));
    assert.ok(keys.includes('unit_3.4.conv2.weight\t[640, 640, 3, 3]'));
    assert.deepEqual(keys.slice(-7), [
      'final_bn.weight\t[640]',
      'final_bn.bias\t[640]',
      'final_bn.running_mean\t[640]',
      'final_bn.running_var\t[640]',
      'final_bn.num_batches_tracked\t[]',
      'logit.weight\t[10, 640]',
      'logit.bias\t[10]',
    ]);
    model.dispose();
  });

  test('equals a PyTorch transcription of model.py at reduced width (eval and train mode)', () => {
    // The fixture script's MadryWrn([16, 16, 32, 64], 2), built from the same seed in the same order.
    manualSeed(SEED);
    const model = new MadryWideResNet({ filters: [16, 16, 32, 64], unitsPerStage: 2 });
    scope(() => {
      const x = fixture('madry/input');
      for (const mode of ['eval', 'train'] as const) {
        model.train(mode === 'train');
        const error = relativeError(noGrad(() => model.forward(x)), fixture(`madry/${mode}/logits`));
        // float32 through 14 layers, as for torchvision's models above.
        assert.ok(error <= 1e-4, `madry-wrn ${mode} logits: max error ${error} of the logits' scale`);
      }
    });
    model.dispose();
  });

  test('per-image standardisation: zero mean, unit (population) variance per image, floored std for constant images', () => {
    scope(() => {
      const x = randn([3, 3, 8, 8]).mul(5).add(2);
      const z = perImageStandardization(x);
      assertClose(z.mean([1, 2, 3]), [0, 0, 0], { atol: 1e-6 });
      assertClose(z.std([1, 2, 3], { correction: 0 }), [1, 1, 1], { rtol: 1e-5 });
      const constant = randn([1, 3, 8, 8]).mul(0).add(0.5);
      assert.equal(perImageStandardization(constant).abs().sum().item(), 0);
    });
  });

  test('logits do not depend on the input scale (0–1 or 0–255), shape [N, 10] at 32×32', () => {
    manualSeed(3);
    const model = small().eval();
    scope(() => {
      const x = randn([2, 3, 32, 32]).abs();
      const a = noGrad(() => model.forward(x));
      const b = noGrad(() => model.forward(x.mul(255)));
      assert.deepEqual([...a.shape], [2, 10]);
      // Standardisation removes the scale up to float32 rounding of the division.
      assertClose(b, a, { rtol: 1e-4, atol: 1e-5 });
    });
    model.dispose();
  });

  test('a stage-opening unit subsamples by average pooling and pads channels equally on both sides', () => {
    manualSeed(4);
    const model = small().eval();
    const unit = model.unit_2[0] as WideResidualUnit;
    scope(() => {
      // Silencing the residual branch (last conv to zero) leaves the shortcut alone.
      noGrad(() => unit.conv2.weight.zero_());
      const x = randn([2, 16, 8, 8]);
      const out = noGrad(() => unit.forward(x));
      assert.deepEqual([...out.shape], [2, 32, 4, 4]);
      // 16 → 32 filters: 8 zero channels before and 8 after the pooled input (unit_2 shortcuts the raw input).
      assert.equal(out.slice(1, 0, 8).abs().sum().item(), 0);
      assert.equal(out.slice(1, 24, 32).abs().sum().item(), 0);
      assertClose(out.slice(1, 8, 24), F.avgPool2d(x, 2), { rtol: 1e-6, atol: 1e-7 });
    });
    model.dispose();
  });
});

describe('ResNet bad inputs', () => {
  test('wrong channels, missing batch dimension, integer images: clear errors', () => {
    const model = resnet20();
    scope(() => {
      assertThrowsWith(() => model.forward(randn([2, 1, 32, 32])), /CifarResNet: expected images \[N, 3, H, W\], got .*\[2, 1, 32, 32\]/);
      assertThrowsWith(() => model.forward(randn([3, 32, 32])), /expected images \[N, 3, H, W\]/);
      assertThrowsWith(() => model.forward(randint(0, 255, [1, 3, 32, 32])), /floating-point images/);
      assertThrowsWith(() => model.forward(randn([0, 3, 32, 32])), /non-empty batch/);
    });
    model.dispose();
    const imagenet = resnet18();
    scope(() => assertThrowsWith(() => imagenet.forward(randn([1, 1, 64, 64])), /ResNet: expected images \[N, 3, H, W\]/));
    imagenet.dispose();
  });

  test("madry-wrn needs sizes divisible by 4 (its two stride-2 stages' pooled shortcuts)", () => {
    manualSeed(5);
    const model = new MadryWideResNet({ filters: [16, 16, 32, 64], unitsPerStage: 1 });
    scope(() => assertThrowsWith(() => model.forward(randn([1, 3, 30, 30])), /multiples of 4/));
    model.dispose();
  });

  test('bad configs: unknown option, wrong type, bad depth, options a builder fixes', () => {
    assertThrowsWith(() => getModel('resnet18', { numClases: 10 }), /unknown config option 'numClases'/);
    assertThrowsWith(() => getModel('resnet20', { inChannels: '1' }), /'inChannels' must be a number/);
    assertThrowsWith(() => new CifarResNet({ depth: 21 }), /depth must be 6n \+ 2/);
    assertThrowsWith(() => getModel('resnet20', { shortcut: 'C' }), /shortcut must be 'A', 'B' or 'none'/);
    assertThrowsWith(() => getModel('plain20', { shortcut: 'A' }), /'shortcut' is fixed/);
    assertThrowsWith(() => getModel('resnet20', { depth: 32 }), /'depth' is fixed/);
    assertThrowsWith(() => new MadryWideResNet({ filters: [16, 17, 32, 64] }), /even number of filters/);
  });

  test('registry metadata', () => {
    assert.deepEqual(getModelEntry('resnet50', 'image-classification').inputSize, [3, 224, 224]);
    assert.deepEqual(getModelEntry('resnet50', 'image-classification').normalization, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    assert.equal(getModelEntry('plain56', 'image-classification').numClasses, 10);
    assert.deepEqual(getModelEntry('resnet110', 'image-classification').inputSize, [3, 32, 32]);
    assert.equal(getModelEntry('madry-wrn', 'image-classification').normalization, null);
  });
});
