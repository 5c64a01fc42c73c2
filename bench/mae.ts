// The masked autoencoder of He et al. (2022), mae_vit_base_patch16 (ViT-B/16
// encoder, 512-d 8-block decoder) at batch 8 on 3×224×224 images with 75% of
// the patches removed: NetLab's (src/models/mae.ts) against the same model in
// plain PyTorch (bench/mae.py, the official models_mae.py with timm 0.3.2's
// blocks), both with random weights. Both sides mask with the same noise, so
// their encoders see the same 49 patches per image. Two measurements: a
// forward pass (loss, prediction and mask) in evaluation mode without
// gradients, and a training step in training mode (forward, backward, one
// AdamW step with the official pre-training's betas (0.9, 0.95) and weight
// decay 0.05). Prints the median ms of each side and the ratio NetLab/PyTorch.
// NETLAB_BENCH_QUICK=1 runs batch 1, once per side, on images of the same
// size, so that it goes through the shapes (196 patches, 49 kept) that the
// full run measures.
import { getNumThreads, manualSeed, noGrad, randn, scope, tensor } from '../src/index.js';
import { lenKeep, maskedAutoencoder } from '../src/models/mae.js';
import { AdamW } from '../src/optim/adam.js';
import { compare, PyTorchWorker, QUICK, report, reportComparison, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

const PRESET = 'mae_vit_base_patch16';
const BATCH = QUICK ? 1 : 8;
const SIZE = 224;
const MASK_RATIO = 0.75;
// The official pre-training's AdamW (main_pretrain.py); the learning rate is its base rate.
const ADAMW = { lr: 1.5e-4, betas: [0.9, 0.95] as [number, number], weightDecay: 0.05 };
// As in bench/models.ts: a call of this size is long, so a block is one call,
// after one warm-up call per side (libtorch's allocator, AdamW's state), and
// each side's median is over 9 forward passes and 7 training steps.
const FORWARD: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 1, calls: 1 } : { warmupBlocks: 1, blocks: 9, calls: 1 };
const TRAIN: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 1, calls: 1 } : { warmupBlocks: 1, blocks: 7, calls: 1 };

/**
 * The masking noise (N, L) of both sides (bench/mae.py computes the same): the
 * fractional part of k·(√5 − 1)/2 at flat index k, in float64, rounded to
 * float32. The values are distinct, so the kept patches do not depend on how
 * either side's argsort breaks ties.
 */
function maskingNoise(n: number, length: number): Float32Array {
  return Float32Array.from({ length: n * length }, (_, k) => (k * 0.6180339887498949) % 1);
}

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const model = maskedAutoencoder(PRESET);
const optimizer = new AdamW(model.parameters(), ADAMW);
const PATCHES = model.numPatches; // 196
const imgs = randn([BATCH, 3, SIZE, SIZE]).keep();
const noise = tensor(maskingNoise(BATCH, PATCHES), { shape: [BATCH, PATCHES] }).keep();
const options = { maskRatio: MASK_RATIO, noise };

const forward = (calls: number) => {
  model.eval();
  noGrad(() => {
    // The block returns nothing: a tensor a top-level scope returns outlives it until garbage collection.
    for (let i = 0; i < calls; i++) {
      scope(() => {
        model.forward(imgs, options);
      });
    }
  });
};

const train = (calls: number) => {
  model.train();
  for (let i = 0; i < calls; i++) {
    scope(() => {
      optimizer.zeroGrad();
      model.forward(imgs, options).loss.backward();
      optimizer.step();
    });
  }
};

const worker = new PyTorchWorker('mae.py', [String(threads), String(BATCH), String(MASK_RATIO)]);
try {
  reportThreads(threads);
  report('batch', BATCH);
  report('kept_patches', lenKeep(PATCHES, MASK_RATIO));
  const forwardTimes = await compare(worker, 'forward', forward, FORWARD);
  const trainTimes = await compare(worker, 'train', train, TRAIN);
  reportComparison('forward', forwardTimes);
  reportComparison('train', trainTimes);
} finally {
  worker.close();
  optimizer.dispose();
  model.dispose();
}
