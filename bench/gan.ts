// The GAN of Goodfellow et al. (2014) on MNIST-sized data: one training step
// of the released code's networks and recipe (batch 100, both players updated
// together, SGD with momentum) through NetLab's trainer, and the paper's
// Parzen-window evaluation (10,000 samples, σ chosen on 1,000 validation
// images, 10,000 test images, float64), each against the same work in PyTorch
// (bench/gan.py). Prints the median ms per training step and seconds per
// evaluation of each side, and the ratios NetLab/PyTorch.
import { getNumThreads, manualSeed, rand, scope } from '../src/index.js';
import { GanDiscriminator, GanGenerator } from '../src/models/gan.js';
import { trainGan } from '../src/train/gan.js';
import { parzenEstimate } from '../src/eval/parzen.js';
import { compare, PyTorchWorker, QUICK, report, reportThreads, warnIfBusy } from './common.js';

const BATCH = 100;
const STEPS = 10; // training steps per block: one pass over 1,000 images
const N = QUICK ? 500 : 10000; // samples and test images of the Parzen evaluation
const VALIDATION = QUICK ? 100 : 1000;

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const generator = new GanGenerator();
const discriminator = new GanDiscriminator();
const images = rand([BATCH * STEPS, 784]).keep();
const samples = rand([N, 784]).keep();
const validation = rand([VALIDATION, 784]).keep();
const test = rand([N, 784]).keep();

function train(calls: number): void {
  for (let i = 0; i < calls; i++) trainGan(generator, discriminator, images, { epochs: 1, batchSize: BATCH, seed: i });
}

function parzen(calls: number): void {
  for (let i = 0; i < calls; i++) scope(() => parzenEstimate(samples, test, { validation }));
}

const worker = new PyTorchWorker('gan.py', [String(threads), String(N), String(VALIDATION)]);
try {
  const step = await compare(worker, 'train', train, { warmupBlocks: 1, blocks: QUICK ? 1 : 9, calls: 1 });
  const evaluation = await compare(worker, 'parzen', parzen, { warmupBlocks: 0, blocks: QUICK ? 1 : 3, calls: 1 });
  reportThreads(threads);
  report('netlab_train_step_ms', (step.netlab / STEPS) * 1e3);
  report('pytorch_train_step_ms', (step.pytorch / STEPS) * 1e3);
  report('netlab_parzen_s', evaluation.netlab);
  report('pytorch_parzen_s', evaluation.pytorch);
  report('parzen_ratio', evaluation.netlab / evaluation.pytorch);
  report('train_step_ratio', step.netlab / step.pytorch);
} finally {
  worker.close();
}
