// Long training loops hold their memory flat: every tensor a step makes is
// freed when the step ends (by a scope, or by dispose()), so the count of live
// tensors comes back to where it started and the resident set does not grow.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';

import { empty, F, liveTensors, manualSeed, noGrad, randint, randn, scope, type Tensor } from '../../src/index.js';

const BATCH = 16;
const LR = 0.05;
// The data: 8 fixed batches of random inputs and labels, cycled, so the loss
// falls and shows that the steps really train.
const BATCHES = 8;
const WARMUP_STEPS = 1_000;
const MEASURED_STEPS = 10_000;
const CHECK_EVERY = 1_000;
// Growth allowed in the resident set between the end of the warm-up and the
// end of the loop. Measured: within ±1 MB (libtorch's allocator, glibc's
// arenas and V8's heap settle during the warm-up). A leak of one 32×64
// float32 tensor (8 KB) per step would add 80 MB over the 10,000 measured
// steps, and tensor wrappers that V8 cannot collect (as when every tensor was
// registered with the FinalizationRegistry at once) added 16 MB, so 8 MB
// tells both apart from noise.
const MAX_RSS_GROWTH = 8 * 2 ** 20;

interface Mlp {
  params: Tensor[];
  data: { x: Tensor; y: Tensor }[];
}

/** An MLP 64→32→10 initialised as nn.Linear does, and its data; every tensor kept. */
function makeMlp(): Mlp {
  manualSeed(1);
  const linear = (out: number, fanIn: number): Tensor[] => {
    const bound = 1 / Math.sqrt(fanIn); // nn.Linear's bound for both weight and bias
    return [empty([out, fanIn]), empty([out])].map((t) => t.uniform_(-bound, bound).requiresGrad_(true).keep());
  };
  const data = Array.from({ length: BATCHES }, () => ({ x: randn([BATCH, 64]).keep(), y: randint(0, 10, [BATCH]).keep() }));
  return { params: [...linear(32, 64), ...linear(10, 32)], data };
}

function disposeMlp(mlp: Mlp): void {
  for (const t of mlp.params) t.dispose();
  for (const { x, y } of mlp.data) {
    x.dispose();
    y.dispose();
  }
}

/** One SGD step inside a scope; returns the loss before the update. */
function scopedStep({ params: [w1, b1, w2, b2], data }: Mlp, step: number): number {
  return scope(() => {
    const { x, y } = data[step % BATCHES];
    const loss = F.crossEntropy(F.linear(F.linear(x, w1, b1).relu(), w2, b2), y);
    loss.backward();
    noGrad(() => {
      for (const p of [w1, b1, w2, b2]) {
        p.sub_(p.grad!, { alpha: LR });
        p.grad = null;
      }
    });
    return loss.item();
  });
}

/** The same step with every intermediate tensor disposed by hand, no scope. */
function disposingStep({ params: [w1, b1, w2, b2], data }: Mlp, step: number): number {
  const { x, y } = data[step % BATCHES];
  const pre = F.linear(x, w1, b1);
  const hidden = pre.relu();
  const logits = F.linear(hidden, w2, b2);
  const loss = F.crossEntropy(logits, y);
  loss.backward();
  const value = loss.item();
  for (const t of [pre, hidden, logits, loss]) t.dispose();
  noGrad(() => {
    for (const p of [w1, b1, w2, b2]) {
      const g = p.grad!;
      p.sub_(g, { alpha: LR });
      g.dispose();
      p.grad = null;
    }
  });
  return value;
}

function assertFlat(t: TestContext, step: (mlp: Mlp, i: number) => number): void {
  const mlp = makeMlp();
  const startTensors = liveTensors();
  let rssAfterWarmup = 0;
  let firstLoss = NaN;
  let lastLoss = NaN;
  const total = WARMUP_STEPS + MEASURED_STEPS;
  for (let i = 0; i < total; i++) {
    lastLoss = step(mlp, i);
    if (i === 0) firstLoss = lastLoss;
    if ((i + 1) % CHECK_EVERY === 0) assert.equal(liveTensors(), startTensors, `live tensors after ${i + 1} steps`);
    if (i + 1 === WARMUP_STEPS) rssAfterWarmup = process.memoryUsage.rss();
  }
  const growth = process.memoryUsage.rss() - rssAfterWarmup;
  t.diagnostic(`resident memory: ${(rssAfterWarmup / 2 ** 20).toFixed(1)} MB after ${WARMUP_STEPS} steps, growth ${(growth / 2 ** 20).toFixed(2)} MB over ${MEASURED_STEPS} more; loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(4)}`);
  assert.ok(growth < MAX_RSS_GROWTH, `resident memory grew by ${(growth / 2 ** 20).toFixed(1)} MB over ${MEASURED_STEPS} steps (bound ${MAX_RSS_GROWTH / 2 ** 20} MB)`);
  // 11,000 steps over 128 fixed samples memorise them: the loss starts near
  // ln 10 ≈ 2.3 and ends well below half of that.
  assert.ok(lastLoss < firstLoss / 2, `the loss went from ${firstLoss} to ${lastLoss}: the steps did not train`);
  disposeMlp(mlp);
  assert.equal(liveTensors(), startTensors - 4 - 2 * BATCHES, 'disposing the parameters and data frees them');
}

test('11,000 training steps in a scope each keep live tensors and resident memory flat', (t) => {
  assertFlat(t, scopedStep);
});

test('11,000 training steps freed by dispose() keep live tensors and resident memory flat', (t) => {
  assertFlat(t, disposingStep);
});
