// The training recipes of MAE (He et al., 2022, Appendix A.1): pre-training
// (Table 8), end-to-end fine-tuning with layer-wise lr decay (Table 9) and
// linear probing with a BatchNorm head on the frozen encoder (Table 10), as
// functions over tensors, so `netlab mae` and `netlab reproduce mae` share them.
import { noGrad } from '../tensor/autograd.js';
import { cat } from '../tensor/ops.js';
import { zeros } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import * as init from '../nn/init.js';
import { Sequential } from '../nn/container.js';
import { BatchNorm1d, Linear } from '../nn/layers.js';
import type { Module, Parameter } from '../nn/module.js';
import { AdamW } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import { LARS } from '../optim/lars.js';
import { CosineWarmupLR } from '../optim/lr-scheduler.js';
import { DataLoader, TensorDataset, type BatchTransform } from '../data/dataset.js';
import { randomCrop, randomResizedCrop } from '../data/transforms.js';
import type { MaskedAutoencoderViT } from '../models/mae.js';
import { convertTimmVit } from '../models/vit-convert.js';
import type { VisionTransformer } from '../models/vit.js';
import { evaluate, fit, type FitResult, type StepInfo } from './trainer.js';

// ---- parameter groups ----------------------------------------------------------------------

/**
 * Pre-training's two groups, as timm 0.3.2's add_weight_decay that the
 * official main_pretrain.py uses: no weight decay for biases and other 1-D
 * parameters (the norms), `weightDecay` for the rest.
 */
export function weightDecayGroups(model: Module, weightDecay: number): { params: Parameter[]; weightDecay: number }[] {
  const decay: Parameter[] = [];
  const noDecay: Parameter[] = [];
  for (const [name, p] of model.namedParameters()) (p.ndim <= 1 || name.endsWith('.bias') ? noDecay : decay).push(p);
  return [
    { params: decay, weightDecay },
    { params: noDecay, weightDecay: 0 },
  ];
}

/**
 * Layer-wise lr decay for fine-tuning a ViT (torchvision layout), as the
 * official param_groups_lrd (after BEiT): the stem (conv_proj, class token,
 * position embedding) is layer 0, encoder block i is layer i + 1, the rest
 * (final norm, head) layer L + 1; layer k's lr is lr·decay^(L + 1 − k). No
 * weight decay for 1-D parameters, the class token and the position embedding.
 */
export function layerDecayGroups(model: VisionTransformer, options: { lr: number; weightDecay: number; layerDecay: number }): { params: Parameter[]; lr: number; weightDecay: number }[] {
  const L = model.config.numLayers;
  const groups = new Map<string, { params: Parameter[]; lr: number; weightDecay: number }>();
  for (const [name, p] of model.namedParameters()) {
    const block = /^encoder\.layers\.encoder_layer_(\d+)\./.exec(name);
    const layer = name === 'class_token' || name === 'encoder.pos_embedding' || name.startsWith('conv_proj.') ? 0 : block !== null ? Number(block[1]) + 1 : L + 1;
    const noDecay = p.ndim === 1 || name === 'class_token' || name === 'encoder.pos_embedding';
    const key = `${layer}/${noDecay}`;
    if (!groups.has(key)) groups.set(key, { params: [], lr: options.lr * options.layerDecay ** (L + 1 - layer), weightDecay: noDecay ? 0 : options.weightDecay });
    groups.get(key)!.params.push(p);
  }
  return [...groups.values()];
}

// ---- pre-training -----------------------------------------------------------------------------

export interface PretrainOptions {
  model: MaskedAutoencoderViT;
  /** Training images [N, C, H, W] in [0, 1]. */
  images: Tensor;
  epochs: number;
  batchSize: number;
  maskRatio: number;
  /** Base lr per 256 images (Table 8: 1.5e-4); the lr is blr·batch/256. */
  blr: number;
  weightDecay: number;
  warmupEpochs: number;
  /** Area range of the random resized crops, the only augmentation (Table 8: [0.2, 1]). */
  cropScale: readonly [number, number];
  seed: number;
  checkpointPath?: string;
  resume?: boolean;
  onStep?: (info: StepInfo) => void;
}

/**
 * Pre-trains an MAE as Table 8: AdamW β (0.9, 0.95), weight decay on the
 * weights only, lr = blr·batch/256 with linear warm-up and a half-cycle
 * cosine per iteration, random resized crops.
 */
export function pretrainMae(options: PretrainOptions): FitResult {
  const { model, images, epochs, batchSize, maskRatio } = options;
  // The loader yields (images, labels) pairs; pre-training has no labels, so they are zeros.
  const labels = zeros([images.shape[0]], { dtype: 'int64' });
  const dataset = new TensorDataset(images, labels);
  const [, , side] = images.shape;
  const transform: BatchTransform = ([x, y], rng) => [randomResizedCrop(x, side, { scale: options.cropScale, rng }), y];
  const loader = new DataLoader(dataset, { batchSize, shuffle: true, dropLast: true, seed: options.seed, transform });
  const lr = (options.blr * batchSize) / 256;
  const optimizer = new AdamW(weightDecayGroups(model, options.weightDecay), { lr, betas: [0.9, 0.95], weightDecay: options.weightDecay });
  const totalSteps = epochs * loader.length;
  const schedule = new CosineWarmupLR(optimizer, { warmupSteps: Math.round(options.warmupEpochs * loader.length), totalSteps: Math.max(1, totalSteps) });
  try {
    return fit({
      model,
      loader,
      optimizer,
      epochs,
      schedule,
      scheduleEvery: 'step',
      loss: (m, x) => (m as MaskedAutoencoderViT).forward(x, { maskRatio }).loss,
      checkpointPath: options.checkpointPath,
      resume: options.resume,
      onStep: options.onStep,
    });
  } finally {
    optimizer.dispose();
    labels.dispose();
  }
}

// ---- from the encoder to a classifier ------------------------------------------------------

/**
 * Loads the MAE encoder's weights into NetLab's ViT (torchvision layout): the
 * timm-layout keys renamed by convertTimmVit, the decoder and mask token left
 * out; the head keeps its own initialisation (the encoder has none). The
 * fixed sine-cosine position embedding becomes the ViT's learnable one, as in
 * the official fine-tuning. With average pooling the final norm is reset, as
 * the official fine-tuning starts a fresh fc_norm.
 */
export function loadMaeEncoder(vit: VisionTransformer, mae: MaskedAutoencoderViT): void {
  const weights = convertTimmVit(mae.stateDict(), { ignore: /^(decoder_|mask_token$)/ });
  try {
    const { missingKeys } = vit.loadStateDict(weights, { strict: false });
    const unexpected = missingKeys.filter((k) => !k.startsWith('heads.'));
    if (unexpected.length) throw new Error(`loadMaeEncoder: the MAE encoder has no weights for ${unexpected.join(', ')}`);
  } finally {
    for (const t of weights.values()) t.dispose();
  }
  if (vit.config.pool === 'avg') {
    init.ones_(vit.encoder.ln.weight!);
    init.zeros_(vit.encoder.ln.bias!);
  }
}

/**
 * The pooled features of the frozen encoder, (N, D), in evaluation mode
 * without gradients: the class token after the final norm (or the normalised
 * mean of the patch tokens with pool 'avg'), what the probe's head reads.
 */
export function encoderFeatures(vit: VisionTransformer, images: Tensor, batchSize = 1000): Tensor {
  const wasTraining = vit.training;
  vit.eval();
  try {
    return noGrad(() =>
      scope(() => {
        const parts: Tensor[] = [];
        for (let i = 0; i < images.shape[0]; i += batchSize) {
          parts.push(scope(() => vit.pooled(vit.forwardFeatures(images.narrow(0, i, Math.min(batchSize, images.shape[0] - i))).tokens)));
        }
        return cat(parts);
      }),
    );
  } finally {
    vit.train(wasTraining);
  }
}

export interface ProbeOptions {
  trainFeatures: Tensor;
  trainLabels: Tensor;
  testFeatures: Tensor;
  testLabels: Tensor;
  numClasses: number;
  /** The fewest training steps: whole epochs are run until there are at least this many. */
  minSteps: number;
  batchSize: number;
  /** Base lr per 256 examples. */
  blr: number;
  /**
   * 'lars' as the paper (Table 10, meant for batch 16,384), or 'sgd' with
   * momentum 0.9: at batch 256 LARS with the paper's blr 0.1 scales each
   * update to 1e-4 of the weights and barely moves them.
   */
  optimizer: 'sgd' | 'lars';
  seed: number;
}

/**
 * Linear probing as Table 10 on precomputed features of the frozen encoder:
 * the head is BatchNorm without affine parameters (ε 1e-6) then a linear
 * layer (weights N(0, 0.01²) truncated, bias 0); LARS or SGD with momentum
 * 0.9, no weight decay, 10% warm-up then cosine. Returns the test accuracy
 * and the trained head.
 */
export function linearProbe(options: ProbeOptions): { testAccuracy: number; head: Sequential; steps: number } {
  const D = options.trainFeatures.shape[1];
  const linear = new Linear(D, options.numClasses);
  init.truncNormal_(linear.weight, { std: 0.01 });
  init.zeros_(linear.bias!);
  const head = new Sequential(new BatchNorm1d(D, { affine: false, eps: 1e-6 }), linear);
  const loader = new DataLoader(new TensorDataset(options.trainFeatures, options.trainLabels), { batchSize: Math.min(options.batchSize, options.trainFeatures.shape[0]), shuffle: true, dropLast: true, seed: options.seed });
  const lr = (options.blr * loader.batchSize) / 256;
  const optimizer = options.optimizer === 'lars' ? new LARS(head.parameters(), { lr, momentum: 0.9 }) : new SGD(head.parameters(), { lr, momentum: 0.9 });
  const epochs = Math.max(1, Math.ceil(options.minSteps / loader.length));
  const total = epochs * loader.length;
  const schedule = new CosineWarmupLR(optimizer, { warmupSteps: Math.round(0.1 * total), totalSteps: Math.max(1, total) });
  try {
    fit({ model: head, loader, optimizer, epochs, schedule, scheduleEvery: 'step' });
    const testLoader = new DataLoader(new TensorDataset(options.testFeatures, options.testLabels), { batchSize: 1000 });
    return { testAccuracy: evaluate(head, testLoader).accuracy, head, steps: total };
  } finally {
    optimizer.dispose();
  }
}

export interface FineTuneOptions {
  model: VisionTransformer;
  trainImages: Tensor;
  trainLabels: Tensor;
  testImages: Tensor;
  testLabels: Tensor;
  epochs: number;
  batchSize: number;
  /** Base lr per 256 images (Table 9: 1e-3 for ViT-B). */
  blr: number;
  /** Layer-wise lr decay (Table 9: 0.75 for ViT-B); 1 for none. */
  layerDecay: number;
  weightDecay: number;
  warmupEpochs: number;
  labelSmoothing: number;
  /** Random crops of images padded by this many pixels (0: none). */
  cropPadding: number;
  seed: number;
  checkpointPath?: string;
  resume?: boolean;
  onStep?: (info: StepInfo) => void;
}

/**
 * End-to-end fine-tuning as Table 9: AdamW β (0.9, 0.999), layer-wise lr
 * decay, weight decay, label smoothing, warm-up then cosine per iteration;
 * drop path is the model's own option. Returns the test accuracy.
 */
export function fineTune(options: FineTuneOptions): { testAccuracy: number; result: FitResult } {
  const { model, batchSize } = options;
  const dataset = new TensorDataset(options.trainImages, options.trainLabels);
  const pad = options.cropPadding;
  const [, , side] = options.trainImages.shape;
  const transform: BatchTransform | undefined = pad > 0 ? ([x, y], rng) => [randomCrop(x, side, { padding: pad, rng }), y] : undefined;
  const loader = new DataLoader(dataset, { batchSize: Math.min(batchSize, dataset.length), shuffle: true, dropLast: true, seed: options.seed, transform });
  const lr = (options.blr * loader.batchSize) / 256;
  const optimizer = new AdamW(layerDecayGroups(model, { lr, weightDecay: options.weightDecay, layerDecay: options.layerDecay }), { lr, weightDecay: options.weightDecay });
  const total = options.epochs * loader.length;
  const schedule = new CosineWarmupLR(optimizer, { warmupSteps: Math.round(options.warmupEpochs * loader.length), totalSteps: Math.max(1, total) });
  const smoothing = options.labelSmoothing;
  try {
    const result = fit({
      model,
      loader,
      optimizer,
      epochs: options.epochs,
      schedule,
      scheduleEvery: 'step',
      loss: (m, x, y) => F.crossEntropy(m.forward(x) as Tensor, y, { labelSmoothing: smoothing }),
      checkpointPath: options.checkpointPath,
      resume: options.resume,
      onStep: options.onStep,
    });
    const testLoader = new DataLoader(new TensorDataset(options.testImages, options.testLabels), { batchSize: 1000 });
    return { testAccuracy: evaluate(model, testLoader).accuracy, result };
  } finally {
    optimizer.dispose();
  }
}
