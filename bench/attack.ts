// PGD-40 (L∞, ε = 0.3, steps of 0.01, random start: Madry et al.'s MNIST
// attack) on the first 1,000 MNIST test images in batches of 500, against the
// Madry CNN with randomly drawn weights. NetLab runs its PGD class; PyTorch
// (bench/attack.py) runs the same loop written by hand, with the same weights
// (saved here as safetensors). Prints the median seconds of one attack over
// all the images on each side, two checks that both sides did the same
// work (the accuracy of the shared weights on the clean images, equal on both
// sides; the fraction of images each side's last attack changed the
// prediction of) and the ratio NetLab/PyTorch last. NETLAB_BENCH_QUICK=1 attacks 100 images with
// 5 steps.
//
// NetLab's figure includes what its Attack base adds around the steps: a
// forward pass for the input checks, one after the last step to score the
// run, and one more with the constraint checks on the result; the PyTorch
// loop makes one forward pass after the last step.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getNumThreads, manualSeed, noGrad, scope, type Tensor } from '../src/index.js';
import { PGD } from '../src/attacks/pgd.js';
import { loadMnist, mnistDataFolder } from '../src/data/index.js';
import { saveSafetensors } from '../src/io/safetensors.js';
import { madryCnn } from '../src/models/madry-cnn.js';
import { compare, PyTorchWorker, QUICK, report, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

const IMAGES = QUICK ? 100 : 1_000;
const BATCH = QUICK ? 50 : 500;
const STEPS = QUICK ? 5 : 40;
const EPS = 0.3;
const STEP_SIZE = 0.01;
// One attack over the 1,000 images takes seconds, so a block is one attack;
// one warm-up per side, then the median of 3 per side.
const OPTIONS: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 2, calls: 1 } : { warmupBlocks: 1, blocks: 3, calls: 1 };

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const model = madryCnn();
const folder = mkdtempSync(join(tmpdir(), 'netlab-bench-attack-'));
const weights = join(folder, 'madry-cnn.safetensors');
scope(() => saveSafetensors(weights, model.stateDict()));

const test = loadMnist({ split: 'test' });
const batches: [Tensor, Tensor][] = [];
for (let start = 0; start < IMAGES; start += BATCH) {
  const size = Math.min(BATCH, IMAGES - start);
  batches.push([test.images.narrow(0, start, size).keep(), test.labels.narrow(0, start, size).keep()]);
}
const pgd = new PGD({ norm: 'linf', eps: EPS, stepSize: STEP_SIZE, steps: STEPS, randomStart: true });
let netlabChanged = 0;

function attack(calls: number): void {
  for (let i = 0; i < calls; i++) {
    netlabChanged = 0;
    for (const [x, labels] of batches) {
      scope(() => {
        const result = pgd.run(model, x, { labels });
        netlabChanged += result.success.sum().item();
      });
    }
  }
}

/** The fraction of the images the model classifies correctly. */
function cleanAccuracy(): number {
  let correct = 0;
  for (const [x, labels] of batches) correct += noGrad(() => scope(() => model.forward(x).argmax(1).eq(labels).sum().item()));
  return correct / IMAGES;
}

const worker = new PyTorchWorker('attack.py', [String(threads), weights, mnistDataFolder(), String(IMAGES), String(BATCH), String(STEPS), String(EPS), String(STEP_SIZE)]);
try {
  const times = await compare(worker, 'attack', attack, OPTIONS);
  const [pytorchRate] = await worker.measure('rate', 0);
  const [pytorchClean] = await worker.measure('clean', 0);
  reportThreads(threads);
  report('images', IMAGES);
  report('steps', STEPS);
  report('netlab_clean_accuracy', cleanAccuracy());
  report('pytorch_clean_accuracy', pytorchClean);
  report('netlab_success_rate', netlabChanged / IMAGES);
  report('pytorch_success_rate', pytorchRate);
  report('netlab_s', times.netlab);
  report('pytorch_s', times.pytorch);
  report('ratio', times.netlab / times.pytorch);
} finally {
  worker.close();
  rmSync(folder, { recursive: true, force: true });
}
