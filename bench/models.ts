// The big vision models at batch 8 on 3×224×224 images: ResNet-50, ViT-B/16
// and Swin-T, NetLab's against torchvision's (bench/models_bench.py), both
// with random weights. Two measurements per model: a forward pass in
// evaluation mode without gradients, and a training step in training mode
// (cross-entropy against random labels, backward, one SGD step). Prints per
// model the median ms of each side and the ratio NetLab/PyTorch.
// NETLAB_BENCH_QUICK=1 runs batch 1, once per side, on images of the same
// size, so that it goes through the shapes (Swin's unpadded 7×7 windows, ViT's
// 14×14 patch grid) that the full run measures.
import { F, getNumThreads, manualSeed, noGrad, randint, randn, scope } from '../src/index.js';
import type { Module } from '../src/nn/module.js';
import { resnet50 } from '../src/models/resnet.js';
import { swinT } from '../src/models/swin.js';
import { vitB16 } from '../src/models/vit.js';
import { SGD } from '../src/optim/sgd.js';
import { compare, PyTorchWorker, QUICK, report, reportComparison, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

const BATCH = QUICK ? 1 : 8;
const SIZE = 224;
const CLASSES = 1000;
// Small enough that repeated steps on random labels keep the weights finite.
const LR = 1e-3;
// A forward pass takes a second or more, a training step about three times
// as long, so a block is one call; one warm-up call per side fills libtorch's
// allocator and does its one-time set-up. Single calls of this size move by
// ±10% from one to the next on a shared 2-core machine, so each side's median
// is over 9 forward passes and 7 training steps (about six minutes in all).
const FORWARD: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 1, calls: 1 } : { warmupBlocks: 1, blocks: 9, calls: 1 };
const TRAIN: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 1, calls: 1 } : { warmupBlocks: 1, blocks: 7, calls: 1 };

/** Each model under torchvision's builder name, which bench/models_bench.py knows too. */
const MODELS: [string, () => Module][] = [
  ['resnet50', () => resnet50()],
  ['vit_b_16', () => vitB16()],
  ['swin_t', () => swinT()],
];

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const x = randn([BATCH, 3, SIZE, SIZE]).keep();
const y = randint(0, CLASSES, [BATCH]).keep();

const worker = new PyTorchWorker('models_bench.py', [String(threads), String(BATCH)]);
try {
  reportThreads(threads);
  report('batch', BATCH);
  for (const [name, build] of MODELS) {
    // One model at a time on each side: ViT-B/16's weights, gradients and activations alone take gigabytes.
    const model = build();
    const optimizer = new SGD(model.parameters(), { lr: LR });
    try {
      const forward = (calls: number) => {
        model.eval();
        noGrad(() => {
          // Nothing returned: a tensor a top-level scope returns lives on until garbage collection.
          for (let i = 0; i < calls; i++) {
            scope(() => {
              model.forward(x);
            });
          }
        });
      };
      const train = (calls: number) => {
        model.train();
        for (let i = 0; i < calls; i++) {
          scope(() => {
            optimizer.zeroGrad();
            F.crossEntropy(model.forward(x), y).backward();
            optimizer.step();
          });
        }
      };
      const forwardTimes = await compare(worker, `${name}_forward`, forward, FORWARD);
      const trainTimes = await compare(worker, `${name}_train`, train, TRAIN);
      reportComparison(`${name}_forward`, forwardTimes);
      reportComparison(`${name}_train`, trainTimes);
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  }
} finally {
  worker.close();
}
