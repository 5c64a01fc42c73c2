// The Swin Transformer against torchvision 0.14: the window functions, patch
// merging and a small model that pads, shifts, masks and merges (fixtures from
// test/fixtures/make_swin_fixtures.py), swin_t's state-dict layout and the
// parameter counts of T/S/B/L, the shifted-window mask against an independent
// oracle, the paper's FLOP formulas, bad inputs and a short training run.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { arange, F, grad, liveTensors, manualSeed, noGrad, ones, randint, randn, scope, setNumThreads, Tensor } from '../../src/index.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { Adam } from '../../src/optim/adam.js';
import { Linear, StochasticDepth } from '../../src/nn/layers.js';
import { stochasticDepth } from '../../src/nn/functional.js';
import { getModel, getModelEntry, parameterCount } from '../../src/models/registry.js';
import {
  PatchMerging,
  SWIN_DEFAULTS,
  SWIN_PRESETS,
  SwinTransformer,
  swinParameterCount,
  swinT,
  type SwinConfig,
} from '../../src/models/swin.js';
import {
  cyclicShift,
  relativePositionBias,
  relativePositionIndex,
  shiftedWindowAttention,
  shiftedWindowAttentionMask,
  windowPartition,
  windowReverse,
  type Pair,
} from '../../src/models/swin-windows.js';
import { msaFlops, swinAttentionFlops, wmsaFlops } from '../../src/models/flops.js';
import { assertClose, assertThrowsWith, type Tolerance } from '../helpers.js';

// These models are small: with two threads libtorch's idle OpenMP workers spin
// between ops, and on this shared 2-core machine a training step of the smoke
// test took 0.6–1.4 s instead of the 20–30 ms it takes on one thread (PyTorch: 25 ms).
setNumThreads(1);

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/models/', import.meta.url));
const file = loadSafetensors(`${FIXTURES}swin.safetensors`);
const reference = JSON.parse(readFileSync(`${FIXTURES}swin_reference.json`, 'utf8')) as {
  swin_t_state_dict: [string, number[], string][];
  parameter_counts: Record<'swin_t' | 'swin_s' | 'swin_b' | 'swin_l', number>;
};
const fixture = (name: string): Tensor => {
  const t = file.tensors.get(name);
  assert.ok(t !== undefined, `fixture tensor '${name}' is missing; rerun make_swin_fixtures.py`);
  return t;
};

// Single window-attention calls: float32 sums over a few dozen terms in either library's order.
const OP: Tolerance = { rtol: 1e-5, atol: 1e-5 };

// The configuration make_swin_fixtures.py gives torchvision's SwinTransformer (SMALL there).
const SMALL: SwinConfig = { ...SWIN_DEFAULTS, patchSize: [4, 4], embedDim: 16, depths: [2, 2], numHeads: [2, 4], windowSize: [4, 4], stochasticDepthProb: 0, numClasses: 10 };

/** max |a − b| / max |b|: the error relative to the reference's scale. */
function relativeToScale(actual: Tensor, expected: Tensor): number {
  return scope(() => actual.sub(expected).abs().max().item() / expected.abs().max().item());
}

describe('window partition, shift and mask', () => {
  test('windowReverse undoes windowPartition, and a window holds one M×M block of the map', () => {
    scope(() => {
      const x = randn([2, 8, 15, 3]);
      const windows = windowPartition(x, [4, 5]);
      assert.deepEqual(windows.shape, [2 * 2 * 3, 20, 3]); // 2 images × (8/4)·(15/5) windows of 4·5 tokens
      assert.ok(windowReverse(windows, [4, 5], 8, 15).equal(x));
      // Window 4 is image 0, window row 1, window column 1: rows 4–7, columns 5–9.
      assert.ok(windows.select(0, 4).equal(x.index(0, '4:8', '5:10').reshape(20, 3)));
    });
  });

  test('cyclicShift moves the top-left strips to the bottom-right, and its negation undoes it', () => {
    scope(() => {
      const x = arange(6 * 7).view(1, 6, 7, 1);
      const shifted = cyclicShift(x, [2, 3]);
      // The token at (0, 0) lands at (H − 2, W − 3), the one at (2, 3) at (0, 0).
      assert.equal(shifted.index(0, 4, 4, 0).item(), 0);
      assert.equal(shifted.index(0, 0, 0, 0).item(), 2 * 7 + 3);
      assert.ok(cyclicShift(shifted, [-2, -3]).equal(x));
    });
  });

  // An oracle that knows nothing of the mask's strips: after the cyclic shift a
  // window holds tokens whose original positions are known; two of them were
  // neighbours inside one window's reach before the shift (|Δrow| < Mh and
  // |Δcol| < Mw, no wrap-around) exactly when the mask lets them attend.
  const MASK_CASES: { H: number; W: number; window: Pair; shift: Pair }[] = [
    { H: 8, W: 8, window: [4, 4], shift: [2, 2] },
    { H: 14, W: 21, window: [7, 7], shift: [3, 3] }, // Swin's M = 7, shift ⌊7/2⌋
    { H: 12, W: 20, window: [3, 5], shift: [1, 2] },
    { H: 12, W: 10, window: [4, 5], shift: [0, 2] }, // shifted along one axis only
  ];
  for (const { H, W, window, shift } of MASK_CASES) {
    test(`the mask blocks exactly the pairs the shift brought together (${H}×${W}, window ${window.join('×')}, shift ${shift.join(',')})`, () => {
      scope(() => {
        const [Mh, Mw] = window;
        const N = Mh * Mw;
        const mask = shiftedWindowAttentionMask(H, W, window, shift);
        assert.deepEqual(mask.shape, [(H / Mh) * (W / Mw), N, N]);
        const values = mask.toTypedArray();
        // Original position of every token of the shifted map: shifted position + shift, wrapping.
        const original = (p: number, s: number, L: number) => (p + s) % L;
        let w = 0;
        let blocked = 0;
        for (let wr = 0; wr < H / Mh; wr++) {
          for (let wc = 0; wc < W / Mw; wc++, w++) {
            for (let a = 0; a < N; a++) {
              for (let b = 0; b < N; b++) {
                const rowA = original(wr * Mh + Math.floor(a / Mw), shift[0], H);
                const colA = original(wc * Mw + (a % Mw), shift[1], W);
                const rowB = original(wr * Mh + Math.floor(b / Mw), shift[0], H);
                const colB = original(wc * Mw + (b % Mw), shift[1], W);
                const neighbours = Math.abs(rowA - rowB) < Mh && Math.abs(colA - colB) < Mw;
                const value = values[(w * N + a) * N + b];
                assert.equal(value, neighbours ? 0 : -100, `window ${w}, tokens ${a} and ${b}`);
                if (!neighbours) blocked++;
              }
            }
          }
        }
        // The shift does bring strangers together: the test is not vacuous.
        assert.ok(blocked > 0);
      });
    });
  }

  test('without a shift the mask blocks nothing', () => {
    scope(() => assert.equal(shiftedWindowAttentionMask(8, 12, [4, 4], [0, 0]).abs().max().item(), 0));
  });

  test('relativePositionIndex equals torchvision’s buffer (4×4 and 7×7 windows)', () => {
    scope(() => {
      assert.ok(relativePositionIndex([4, 4]).equal(fixture('small/sd/features.1.0.attn.relative_position_index')));
      assert.ok(relativePositionIndex([7, 7]).equal(fixture('index7')));
    });
  });

  test('a feature map that is not whole windows is refused by windowPartition, padded by the attention', () => {
    assertThrowsWith(() => windowPartition(ones([1, 9, 8, 2]), [4, 4]), /not a whole number of 4×4 windows/);
    scope(() => {
      const C = 4;
      const weights = {
        qkvWeight: randn([3 * C, C]),
        qkvBias: null,
        projWeight: randn([C, C]),
        projBias: null,
        relativePositionBias: relativePositionBias(randn([49, 2]), relativePositionIndex([4, 4]), [4, 4]),
      };
      const out = shiftedWindowAttention(randn([2, 9, 11, C]), weights, { window: [4, 4], shift: [2, 2], numHeads: 2 });
      assert.deepEqual(out.shape, [2, 9, 11, C]);
    });
  });
});

describe('window attention and patch merging equal torchvision 0.14', () => {
  const cases = JSON.parse(file.metadata.window_cases) as Record<string, { window: Pair; shift: Pair; heads: number }>;
  for (const [name, { window, shift, heads }] of Object.entries(cases)) {
    test(`shifted_window_attention: ${name} (window ${window.join('×')}, shift ${shift.join(',')}, ${heads} heads)`, () => {
      scope(() => {
        const at = (k: string) => fixture(`window/${name}/${k}`);
        const x = at('in').detach().requiresGrad_(true);
        const table = at('table').detach().requiresGrad_(true);
        const out = shiftedWindowAttention(
          x,
          {
            qkvWeight: at('qkv_weight'),
            qkvBias: at('qkv_bias'),
            projWeight: at('proj_weight'),
            projBias: at('proj_bias'),
            relativePositionBias: relativePositionBias(table, relativePositionIndex(window), window),
          },
          { window, shift, numHeads: heads },
        );
        assertClose(out, at('out'), OP, `${name} out`);
        const [gx, gTable] = grad(out.mul(at('cot')).sum(), [x, table]);
        assertClose(gx!, at('grad_in'), OP, `${name} d/dx`);
        assertClose(gTable!, at('grad_table'), OP, `${name} d/dtable`);
      });
    });
  }

  test('PatchMerging on odd height and width', () => {
    scope(() => {
      const merge = new PatchMerging(8);
      merge.loadStateDict(new Map([...file.tensors].filter(([k]) => k.startsWith('merge/sd/')).map(([k, v]) => [k.slice('merge/sd/'.length), v])));
      assertClose(merge.forward(fixture('merge/in')), fixture('merge/out'), OP, 'merge');
      merge.dispose();
    });
  });
});

describe('a small Swin Transformer equals torchvision 0.14', () => {
  // Logits after 4 blocks and a merge: errors of single ops add up over ~30 float32 ops.
  const LOGITS = 1e-4;
  // Gradients pass back through the same chain once more.
  const GRADS: Tolerance = { rtol: 1e-4, atol: 1e-5 };

  function loaded(): SwinTransformer {
    const model = new SwinTransformer(SMALL);
    const keys = JSON.parse(file.metadata.keys) as string[];
    assert.deepEqual([...model.stateDict().keys()], keys, 'state-dict keys in torchvision’s order');
    model.loadStateDict(new Map(keys.map((k) => [k, fixture(`small/sd/${k}`)])));
    return model;
  }

  test('eval-mode logits', (t) => {
    scope(() => {
      const model = loaded().eval();
      const logits = noGrad(() => model.forward(fixture('small/x')));
      const error = relativeToScale(logits, fixture('small/eval'));
      t.diagnostic(`max |Δlogit| / max |logit| = ${error.toExponential(2)}`);
      assert.ok(error <= LOGITS, `eval logits differ by ${error} of their scale`);
      model.dispose();
    });
  });

  test('train-mode logits (stochastic depth 0) and gradients', (t) => {
    scope(() => {
      const model = loaded().train();
      const x = fixture('small/x').detach().requiresGrad_(true);
      const logits = model.forward(x);
      const error = relativeToScale(logits, fixture('small/train'));
      t.diagnostic(`max |Δlogit| / max |logit| = ${error.toExponential(2)}`);
      assert.ok(error <= LOGITS, `train logits differ by ${error} of their scale`);
      const names = [...file.tensors.keys()].filter((k) => k.startsWith('small/grad/') && k !== 'small/grad/x').map((k) => k.slice('small/grad/'.length));
      assert.ok(names.length >= 5, 'the fixture holds gradients for several weights');
      const params = new Map(model.namedParameters());
      const grads = grad(logits.mul(fixture('small/cot')).sum(), [x, ...names.map((n) => params.get(n)!)]);
      let worst = 0;
      ['x', ...names].forEach((n, i) => {
        assertClose(grads[i]!, fixture(`small/grad/${n}`), GRADS, `d/d${n}`);
        worst = Math.max(worst, relativeToScale(grads[i]!, fixture(`small/grad/${n}`)));
      });
      t.diagnostic(`worst gradient error relative to its scale = ${worst.toExponential(2)}`);
      model.dispose();
    });
  });

  test('a forward pass leaves no tensor behind', () => {
    const model = new SwinTransformer(SMALL).eval();
    const before = liveTensors();
    noGrad(() => scope(() => model.forward(randn([1, 3, 36, 44])).dispose()));
    assert.equal(liveTensors(), before);
    model.dispose();
  });
});

describe('Swin-T/S/B/L structure', () => {
  test('swin_t: torchvision’s state-dict keys, shapes and dtypes, 28,288,354 parameters', () => {
    const model = swinT();
    try {
      scope(() => {
        const ours = [...model.stateDict()].map(([k, v]) => [k, [...v.shape], v.dtype]);
        assert.deepEqual(ours, reference.swin_t_state_dict);
      });
      // torchvision's Swin_T_Weights meta: num_params 28288354.
      assert.equal(parameterCount(model), 28_288_354);
      assert.equal(swinParameterCount(SWIN_PRESETS.swin_t), 28_288_354);
      // Stochastic depth rises linearly over the 12 blocks to swin_t's 0.2.
      const rates = model.modules().flatMap((m) => (m instanceof StochasticDepth ? [m.p] : []));
      assert.deepEqual(rates, Array.from({ length: 12 }, (_, k) => (0.2 * k) / 11));
    } finally {
      model.dispose();
    }
  });

  test('parameter counts of S, B and L equal those torchvision computes', () => {
    // Written by make_swin_fixtures.py from torchvision's swin_s, swin_b and SwinTransformer(C=192, …).
    assert.equal(reference.parameter_counts.swin_s, 49_606_258);
    assert.equal(swinParameterCount(SWIN_PRESETS.swin_s), reference.parameter_counts.swin_s);
    assert.equal(swinParameterCount(SWIN_PRESETS.swin_b), reference.parameter_counts.swin_b);
    assert.equal(swinParameterCount(SWIN_PRESETS.swin_l), reference.parameter_counts.swin_l);
  });

  test('swinParameterCount agrees with the built model for the small configurations', () => {
    for (const config of [SMALL, SWIN_PRESETS.swin_tiny_mnist, SWIN_PRESETS.swin_tiny_cifar, { ...SMALL, mlpRatio: 2.5, windowSize: [3, 5] as Pair, inChannels: 1 }]) {
      const model = new SwinTransformer(config);
      assert.equal(swinParameterCount(config), parameterCount(model), JSON.stringify(config));
      model.dispose();
    }
  });

  test('initialisation is torchvision’s: Linear weights truncated normal with std 0.02, zero biases', () => {
    const model = new SwinTransformer(SWIN_PRESETS.swin_tiny_cifar);
    try {
      scope(() => {
        const linears = model.modules().filter((m): m is Linear => m instanceof Linear);
        const weights = linears.map((m) => m.weight.flatten());
        let sumSq = 0;
        let count = 0;
        for (const w of weights) {
          sumSq += w.square().sum().item();
          count += w.numel();
          // The largest of ~1.2M draws of N(0, 0.02²) is about 5σ = 0.1 (torchvision's ±2 truncation never bites); 10σ means a wrong init.
          assert.ok(w.abs().max().item() < 0.2);
        }
        // ~1.2M draws: the sample std's relative spread is 1/√(2n) = 0.06%; allow 0.2%, about 3σ.
        assert.ok(Math.abs(Math.sqrt(sumSq / count) - 0.02) < 0.02 * 0.002, `std ${Math.sqrt(sumSq / count)}`);
        for (const m of linears) if (m.bias !== null) assert.equal(m.bias.abs().max().item(), 0);
      });
    } finally {
      model.dispose();
    }
  });

  test('stochastic depth (row mode) drops whole samples with probability p and rescales the rest', () => {
    scope(() => {
      manualSeed(3);
      const x = ones([4000, 2, 3]);
      const y = stochasticDepth(x, 0.25, true);
      const perSample = y.amax([1, 2]);
      // Each sample is all 0 or all 1/(1 − 0.25).
      assert.ok(y.amin([1, 2]).equal(perSample));
      const kept = perSample.gt(0).sum().item();
      assertClose(perSample.sum(), kept / 0.75, { rtol: 1e-5 });
      // 4000 draws: the dropped fraction's std is 0.007; allow 4σ.
      assert.ok(Math.abs(1 - kept / 4000 - 0.25) < 0.028, `dropped fraction ${1 - kept / 4000}`);
      assert.ok(stochasticDepth(x, 0.25, false).equal(x));
    });
  });
});

describe('FLOPs of attention (Liu et al. 2021, Eq. 1–2)', () => {
  test('the formulas’ values for Swin-T’s first stage (h = w = 56, C = 96, M = 7)', () => {
    // 4hwC² = 4·3136·96² = 115,605,504; 2(hw)²C = 2·3136²·96 = 1,888,223,232; 2M²hwC = 2·49·3136·96 = 29,503,488.
    assert.equal(msaFlops(56, 56, 96), 115_605_504 + 1_888_223_232);
    assert.equal(wmsaFlops(56, 56, 96, 7), 115_605_504 + 29_503_488);
  });

  test('W-MSA is linear in the image area, MSA quadratic', () => {
    const [h, w, C, M] = [28, 28, 64, 7];
    // Doubling hw doubles every term of Ω(W-MSA).
    assert.equal(wmsaFlops(2 * h, w, C, M), 2 * wmsaFlops(h, w, C, M));
    assert.equal(wmsaFlops(2 * h, 2 * w, C, M), 4 * wmsaFlops(h, w, C, M));
    // Ω(MSA): the projection term doubles, the attention term quadruples.
    const projections = (hh: number, ww: number) => 4 * hh * ww * C * C;
    assert.equal(msaFlops(2 * h, w, C) - projections(2 * h, w), 4 * (msaFlops(h, w, C) - projections(h, w)));
    assert.ok(msaFlops(2 * h, w, C) > 2 * msaFlops(h, w, C));
  });

  test('Swin-T on 224×224: per-stage counts and the saving over global attention', () => {
    const { stages, windowed, global } = swinAttentionFlops(SWIN_PRESETS.swin_t, [224, 224]);
    assert.deepEqual(stages.map((s) => [s.height, s.channels, s.blocks]), [[56, 96, 2], [28, 192, 2], [14, 384, 6], [7, 768, 2]]);
    const expected = [[56, 96, 2], [28, 192, 2], [14, 384, 6], [7, 768, 2]].reduce((n, [hw, C, blocks]) => n + blocks * (4 * hw * hw * C * C + 2 * 49 * hw * hw * C), 0);
    assert.equal(windowed, expected);
    assert.equal(windowed, 1_527_407_616);
    // Global attention over the same maps: 4.0 G of its 5.8 G are stage 1's (hw = 3136)², 3.8 times W-MSA's total.
    assert.equal(global, [[56, 96, 2], [28, 192, 2], [14, 384, 6], [7, 768, 2]].reduce((n, [hw, C, blocks]) => n + blocks * msaFlops(hw, hw, C), 0));
    assert.equal(global, 5_820_165_120);
    // In the last stage one window covers the map, so W-MSA and MSA cost the same there.
    assert.equal(stages[3].windowed, stages[3].global);
  });
});

describe('inputs, registry and training', () => {
  test('bad inputs get a clear error', () => {
    const model = new SwinTransformer(SMALL);
    try {
      assertThrowsWith(() => model.forward(ones([1, 1, 36, 44])), /expected images \[N, 3, H, W\]/, /float32\[1, 1, 36, 44\]/);
      assertThrowsWith(() => model.forward(ones([3, 36, 44])), /expected images \[N, 3, H, W\]/);
      assertThrowsWith(() => model.forward(ones([1, 3, 3, 44])), /image 3×44 is smaller than one 4×4 patch/);
      assertThrowsWith(() => new SwinTransformer({ ...SMALL, numHeads: [3, 4] }), /stage 0 has 16 channels, which 3 heads do not divide/);
      assertThrowsWith(() => new SwinTransformer({ ...SMALL, depths: [2] }), /must be non-empty and of equal length/);
      assertThrowsWith(() => new SwinTransformer({ ...SMALL, stochasticDepthProb: 1.5 }), /stochasticDepthProb must be in \[0, 1\]/);
      assertThrowsWith(() => shiftedWindowAttentionMask(9, 8, [4, 4], [2, 2]), /height 9 and width 8 must be positive multiples of the window 4×4/);
      assertThrowsWith(() => shiftedWindowAttentionMask(8, 8, [4, 4], [4, 2]), /shift \[4,2\] must be integers in \[0, window\)/);
      scope(() => {
        const weights = { qkvWeight: randn([18, 6]), qkvBias: null, projWeight: randn([6, 6]), projBias: null, relativePositionBias: randn([1, 4, 16, 16]) };
        assertThrowsWith(() => shiftedWindowAttention(randn([1, 8, 8, 6]), weights, { window: [4, 4], shift: [0, 0], numHeads: 4 }), /numHeads 4 must be a positive integer dividing the 6 channels/);
        assertThrowsWith(() => shiftedWindowAttention(randn([1, 8, 8, 5]), weights, { window: [4, 4], shift: [0, 0], numHeads: 1 }), /qkvWeight must be \[15, 5\]/);
        assertThrowsWith(() => shiftedWindowAttention(randn([8, 8, 6]), weights, { window: [4, 4], shift: [0, 0], numHeads: 2 }), /channels-last feature map \[B, H, W, C\]/);
      });
    } finally {
      model.dispose();
    }
  });

  test('the registry builds every Swin with its metadata; the small ones run on MNIST and CIFAR shapes', () => {
    for (const [name, classes, size] of [['swin_t', 1000, 224], ['swin_s', 1000, 224], ['swin_b', 1000, 224], ['swin_l', 1000, 224], ['swin_tiny_mnist', 10, 32], ['swin_tiny_cifar', 10, 32]] as const) {
      const entry = getModelEntry(name, 'image-classification');
      assert.equal(entry.numClasses, classes);
      assert.equal(entry.inputSize[1], size);
    }
    for (const name of ['swin_tiny_mnist', 'swin_tiny_cifar']) {
      const entry = getModelEntry(name, 'image-classification');
      const model = getModel(name).eval();
      scope(() => {
        const logits = noGrad(() => model.forward(randn([2, ...entry.inputSize])) as Tensor);
        assert.deepEqual(logits.shape, [2, entry.numClasses]);
      });
      model.dispose();
    }
  });

  test('training smoke test: the loss falls on a fixed random batch', () => {
    manualSeed(11);
    const model = new SwinTransformer({ ...SMALL, patchSize: [2, 2], numClasses: 4, stochasticDepthProb: 0.1 });
    const x = randn([16, 3, 16, 16]);
    const y = randint(0, 4, [16]);
    const optimizer = new Adam(model.parameters(), { lr: 3e-3 });
    const losses: number[] = [];
    for (let step = 0; step < 25; step++) {
      scope(() => {
        optimizer.zeroGrad();
        const loss = F.crossEntropy(model.forward(x), y);
        loss.backward();
        optimizer.step();
        losses.push(loss.item());
      });
    }
    // Random labels: the start is near ln 4 = 1.39; fitting 16 samples must at least halve it.
    assert.ok(losses[0] > 1, `initial loss ${losses[0]}`);
    assert.ok(losses.at(-1)! < losses[0] / 2, `losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    model.dispose();
    x.dispose();
    y.dispose();
  });
});
