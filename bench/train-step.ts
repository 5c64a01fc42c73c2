// One training step of the Madry et al. MNIST CNN (batch 64, float32, random
// inputs), and the input-gradient step that PGD repeats, in NetLab and in
// PyTorch (bench/train_step.py does the same work). Prints the median ms per
// step of each and the ratios NetLab/PyTorch.
import { F, getNumThreads, grad, manualSeed, noGrad, rand, randint, scope, empty, type Tensor } from '../src/index.js';
import { compare, PyTorchWorker, report, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

const BATCH = 64;
const LR = 0.01;
// A step takes tens of milliseconds; a block is 10 steps back to back, as in
// training (a step timed alone also times its OpenMP workers waking up after
// the other side's turn); one warm-up block per side fills libtorch's
// allocator and does one-time kernel set-up, and each side's median is over 9.
const OPTIONS: CompareOptions = { warmupBlocks: 1, blocks: 9, calls: 10 };

/** A weight or bias initialised as nn.Conv2d and nn.Linear do. */
function parameter(shape: number[], fanIn: number, requiresGrad: boolean): Tensor {
  // kaiming_uniform_(a = √5): bound = gain·√(3/fanIn) with gain = √(2/(1 + 5));
  // biases are uniform in ±1/√fanIn.
  const bound = shape.length > 1 ? Math.sqrt(2 / (1 + 5)) * Math.sqrt(3 / fanIn) : 1 / Math.sqrt(fanIn);
  return empty(shape).uniform_(-bound, bound).requiresGrad_(requiresGrad).keep();
}

/** w1, b1, w2, b2, w3, b3, w4, b4 of the two convolutions and two linear layers. */
function makeParams(requiresGrad: boolean): Tensor[] {
  const layers: [number[], number][] = [
    [[32, 1, 5, 5], 25],
    [[64, 32, 5, 5], 32 * 25],
    [[1024, 3136], 3136],
    [[10, 1024], 1024],
  ];
  return layers.flatMap(([shape, fanIn]) => [parameter(shape, fanIn, requiresGrad), parameter([shape[0]], fanIn, requiresGrad)]);
}

function forward(x: Tensor, [w1, b1, w2, b2, w3, b3, w4, b4]: Tensor[]): Tensor {
  let h = F.maxPool2d(F.conv2d(x, w1, b1, { padding: 2 }).relu(), 2); // (B, 32, 14, 14)
  h = F.maxPool2d(F.conv2d(h, w2, b2, { padding: 2 }).relu(), 2); // (B, 64, 7, 7)
  h = F.linear(h.flatten(1), w3, b3).relu(); // (B, 1024)
  return F.linear(h, w4, b4); // (B, 10)
}

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const x = rand([BATCH, 1, 28, 28]).keep();
const y = randint(0, 10, [BATCH]).keep();
const params = makeParams(true);
const frozen = makeParams(false);

function train(calls: number): void {
  for (let i = 0; i < calls; i++) {
    scope(() => {
      F.crossEntropy(forward(x, params), y).backward();
      noGrad(() => {
        for (const p of params) {
          p.sub_(p.grad!, { alpha: LR });
          p.grad = null;
        }
      });
    });
  }
}

function inputGrad(calls: number): void {
  for (let i = 0; i < calls; i++) {
    scope(() => {
      const xr = x.detach().requiresGrad_(true);
      grad(F.crossEntropy(forward(xr, frozen), y), xr);
    });
  }
}

const worker = new PyTorchWorker('train_step.py', [String(threads)]);
try {
  const trainTimes = await compare(worker, 'train', train, OPTIONS);
  const inputGradTimes = await compare(worker, 'input_grad', inputGrad, OPTIONS);
  reportThreads(threads);
  report('netlab_train_ms', trainTimes.netlab * 1e3);
  report('pytorch_train_ms', trainTimes.pytorch * 1e3);
  report('netlab_input_grad_ms', inputGradTimes.netlab * 1e3);
  report('pytorch_input_grad_ms', inputGradTimes.pytorch * 1e3);
  report('input_grad_ratio', inputGradTimes.netlab / inputGradTimes.pytorch);
  report('train_ratio', trainTimes.netlab / trainTimes.pytorch);
} finally {
  worker.close();
}
