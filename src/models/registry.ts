// The model registry: every network NetLab builds, by name, with the metadata
// a user needs to feed it (as torchvision's get_model / list_models).
import type { Module } from '../nn/module.js';
import type { RecipeName } from '../train/recipes.js';
import { MADRY_CNN_DEFAULTS, madryCnn, madryCnnParameterCount } from './madry-cnn.js';
import { VIT_MODEL_ENTRIES } from './vit.js';

export interface ModelEntry {
  name: string;
  /** One line on what it is and where it comes from. */
  description: string;
  build: (options?: Record<string, unknown>) => Module;
  /** The configuration the builder uses when given no options. */
  config: object;
  /** Learnable parameters of the model as built with no options (torchvision's `num_params`). */
  parameterCount: number;
  /** [channels, height, width] of one input image. */
  inputSize: [number, number, number];
  numClasses: number;
  /** Per-channel normalisation the model expects inside its input pipeline; null for raw [0, 1] inputs. */
  normalization: { mean: number[]; std: number[] } | null;
  /** The training recipe of the paper that introduced it (`netlab train --preset`). */
  recipe: RecipeName;
}

const REGISTRY = new Map<string, ModelEntry>();

export function registerModel(entry: ModelEntry): void {
  if (REGISTRY.has(entry.name)) throw new Error(`registerModel: '${entry.name}' is already registered`);
  REGISTRY.set(entry.name, entry);
}

/** Builds a registered model by name. */
export function getModel(name: string, options: Record<string, unknown> = {}): Module {
  return getModelEntry(name).build(options);
}

export function getModelEntry(name: string): ModelEntry {
  const entry = REGISTRY.get(name);
  if (entry === undefined) throw new Error(`unknown model '${name}'; registered models: ${listModels().join(', ')}`);
  return entry;
}

export function listModels(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** The number of learnable parameters. */
export function parameterCount(model: Module): number {
  return model.parameters().reduce((n, p) => n + p.numel(), 0);
}

registerModel({
  name: 'madry-cnn',
  description: 'MNIST CNN of Madry et al. (2018): conv5x5-32, pool, conv5x5-64, pool, fc1024, fc10',
  build: (options) => madryCnn(options),
  config: MADRY_CNN_DEFAULTS,
  parameterCount: madryCnnParameterCount(),
  inputSize: [1, 28, 28],
  numClasses: 10,
  normalization: null,
  recipe: 'madry',
});

for (const entry of VIT_MODEL_ENTRIES) registerModel(entry);

import { RESNET_MODELS } from './resnet.js';
for (const entry of RESNET_MODELS) registerModel(entry);

import { SWIN_MODELS } from './swin.js';
for (const entry of SWIN_MODELS) registerModel(entry);
