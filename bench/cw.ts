// Carlini & Wagner's L2 attack (targeted at the next class, 5 steps of the
// search over c × 200 Adam iterations, no early abort, so both sides do the
// same work; each iteration is a forward and backward pass of 100 images, so
// 1,000 of them take a few minutes a side) on the first 100 MNIST test images, against the cw-mnist
// network with randomly drawn weights. NetLab runs its CWL2 class; PyTorch
// (bench/cw.py) runs the same algorithm written by hand with the same
// weights. Prints the median seconds of one attack on each side, the success
// rates and mean L2 distances of both (the same algorithm, so close but not
// bit-equal), and the ratio NetLab/PyTorch last. NETLAB_BENCH_QUICK=1
// attacks 20 images with 2 × 20 iterations.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getNumThreads, manualSeed, scope, type Tensor } from '../src/index.js';
import { CWL2 } from '../src/attacks/cw-l2.js';
import { loadMnist, mnistDataFolder } from '../src/data/index.js';
import { saveSafetensors } from '../src/io/safetensors.js';
import { cwMnistNet } from '../src/models/cw-mnist.js';
import { compare, PyTorchWorker, QUICK, report, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

const IMAGES = QUICK ? 20 : 100;
const SEARCH_STEPS = QUICK ? 2 : 5;
const ITERATIONS = QUICK ? 20 : 200;
// One attack takes tens of seconds: no warm-up block, the median of 2 per side.
const OPTIONS: CompareOptions = { warmupBlocks: 0, blocks: 2, calls: 1 };

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const model = cwMnistNet();
model.eval();
const folder = mkdtempSync(join(tmpdir(), 'netlab-bench-cw-'));
const weights = join(folder, 'cw-mnist.safetensors');
scope(() => saveSafetensors(weights, model.stateDict()));

const test = loadMnist({ split: 'test' });
const x: Tensor = test.images.narrow(0, 0, IMAGES).keep();
const labels: Tensor = test.labels.narrow(0, 0, IMAGES).keep();
const targets: Tensor = scope(() => labels.add(1).remainder(10));
const cw = new CWL2({ searchSteps: SEARCH_STEPS, maxIterations: ITERATIONS, abortEarly: false });
let last = { rate: NaN, l2: NaN };

function attack(calls: number): void {
  for (let i = 0; i < calls; i++) {
    scope(() => {
      const result = cw.run(model, x, { labels, targets });
      last = { rate: result.success.float().mean().item(), l2: result.l2.maskedSelect(result.success).mean().item() };
    });
  }
}

const worker = new PyTorchWorker('cw.py', [String(threads), weights, mnistDataFolder(), String(IMAGES), String(SEARCH_STEPS), String(ITERATIONS)]);
try {
  const times = await compare(worker, 'attack', attack, OPTIONS);
  const [pytorchRate] = await worker.measure('rate', 0);
  const [pytorchL2] = await worker.measure('l2', 0);
  reportThreads(threads);
  report('images', IMAGES);
  report('iterations', SEARCH_STEPS * ITERATIONS);
  report('netlab_success_rate', last.rate);
  report('pytorch_success_rate', pytorchRate);
  report('netlab_mean_l2', last.l2);
  report('pytorch_mean_l2', pytorchL2);
  report('netlab_s', times.netlab);
  report('pytorch_s', times.pytorch);
  report('ratio', times.netlab / times.pytorch);
} finally {
  worker.close();
  rmSync(folder, { recursive: true, force: true });
}
