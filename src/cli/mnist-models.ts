// Registered models on MNIST: a model made for 3×32×32 CIFAR images (ResNet-20,
// the small ViT and Swin) is built with one input channel and fed MNIST padded
// from 28 to 32 pixels. The build options travel in the weights file's
// metadata, so attack, eval and predict rebuild the same network.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { scope, type Tensor } from '../tensor/index.js';
import { pad } from '../tensor/ops.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { getModel, getModelEntry, listModels } from '../models/registry.js';
import { UsageError } from './args.js';

const MNIST_SIZE = 28;

export interface MnistModelPlan {
  arch: string;
  /** Options for the registry's builder (inChannels, numClasses). */
  options: Record<string, unknown>;
  /** Zero pixels added on each side of a 28×28 image. */
  padding: number;
}

/** How `arch` takes MNIST images, or a usage error saying why it cannot. */
export function planForMnist(command: string, arch: string): MnistModelPlan {
  if (!listModels().includes(arch)) throw new UsageError(`${command}: unknown --arch '${arch}'; choose one of ${listModels().join(', ')}`);
  const [channels, height, width] = getModelEntry(arch).inputSize;
  const padding = (height - MNIST_SIZE) / 2;
  if (height !== width || !Number.isInteger(padding) || padding < 0 || padding > 4)
    throw new UsageError(`${command}: '${arch}' takes ${channels}×${height}×${width} images; MNIST works with models for 28×28 or 32×32 inputs (e.g. madry-cnn, resnet20, vit_tiny_mnist, swin_tiny_mnist)`);
  const options: Record<string, unknown> = {};
  if (channels !== 1) options.inChannels = 1;
  if (getModelEntry(arch).numClasses !== 10) options.numClasses = 10;
  return { arch, options, padding };
}

/** Pads a batch of 28×28 images to the model's size (no copy when none is needed). */
export function padInput(x: Tensor, padding: number): Tensor {
  return padding === 0 ? x : pad(x, [padding, padding, padding, padding]);
}

/** The model as a classifier of raw 28×28 MNIST batches (the padding is part of the function). */
export function mnistClassifier(model: Module, plan: MnistModelPlan): (x: Tensor) => Tensor {
  return (x) => scope(() => model.forward(padInput(x, plan.padding)) as Tensor);
}

/** Saves weights with the plan in the metadata. */
export function saveMnistModel(path: string, model: Module, plan: MnistModelPlan, extra: Record<string, string> = {}): void {
  scope(() => saveSafetensors(path, model.stateDict(), { ...extra, arch: plan.arch, build_options: JSON.stringify(plan.options), input_padding: String(plan.padding) }));
}

/**
 * Builds `arch` and loads a weights file into it. Build options come from the
 * file's metadata when NetLab wrote it, else `fallback` (PyTorch's files have none).
 */
export function buildWithWeights(command: string, arch: string, weightsOption: unknown, fallback: Record<string, unknown>): { model: Module; options: Record<string, unknown>; path: string } {
  if (typeof weightsOption !== 'string') throw new UsageError(`${command}: --weights FILE is required (train one with: netlab train --out FILE)`);
  const path = resolve(weightsOption);
  if (!existsSync(path)) throw new Error(`${command}: weights file not found: ${path}`);
  const file = loadSafetensors(path);
  try {
    let options = fallback;
    if (file.metadata.build_options !== undefined) {
      try {
        options = JSON.parse(file.metadata.build_options) as Record<string, unknown>;
      } catch {
        throw new Error(`${command}: ${path} has unreadable build_options metadata`);
      }
    }
    const model = getModel(arch, options);
    try {
      model.loadStateDict(file.tensors);
    } catch (error) {
      model.dispose();
      throw new Error(`${command}: ${path} does not fit '${arch}': ${(error as Error).message}`);
    }
    return { model, options, path };
  } finally {
    for (const t of file.tensors.values()) t.dispose();
  }
}

/** A registered model with MNIST weights, ready to classify raw 28×28 batches. */
export function loadMnistModel(command: string, arch: string, weightsOption: unknown): { model: Module; plan: MnistModelPlan } {
  const plan = planForMnist(command, arch);
  const { model, options } = buildWithWeights(command, arch, weightsOption, plan.options);
  return { model, plan: { ...plan, options } };
}
