// The model registry: every network NetLab builds, by name, with the metadata
// a user needs to feed it (as torchvision's get_model / list_models).
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RecipeName } from '../train/recipes.js';
import { MADRY_CNN_DEFAULTS, madryCnn, madryCnnParameterCount } from './madry-cnn.js';
import { CW_MNIST_DEFAULTS, cwMnistNet, cwMnistParameterCount } from './cw-mnist.js';
import { VIT_MODEL_ENTRIES } from './vit.js';

/**
 * What a model does, which decides how it is fed, trained, evaluated and
 * run by `netlab predict`: classifiers take images and give logits; a GAN's
 * generator takes noise and gives images, its discriminator takes images and
 * gives one logit each (real against generated); a masked autoencoder takes
 * images, hides most of their patches and reconstructs them; a
 * sequence-to-sequence model takes source and target token ids and gives the
 * next target token's logits at every position; a masked language model
 * takes token ids, segment ids and an attention mask and gives vocabulary
 * logits at every position (with BERT's next-sentence logits), or the
 * logits of a fine-tuned head, as its weights decide.
 */
export const TASKS = ['image-classification', 'image-generation', 'real-fake-discrimination', 'masked-image-modeling', 'sequence-to-sequence', 'masked-language-modeling'] as const;
export type Task = (typeof TASKS)[number];

interface BaseEntry {
  name: string;
  task: Task;
  /** One line on what it is and where it comes from. */
  description: string;
  build: (options?: Record<string, unknown>) => Module;
  /** The configuration the builder uses when given no options. */
  config: object;
  /** Learnable parameters of the model as built with no options (torchvision's `num_params`). */
  parameterCount: number;
}

export interface ClassifierEntry extends BaseEntry {
  task: 'image-classification';
  /** [channels, height, width] of one input image. */
  inputSize: [number, number, number];
  numClasses: number;
  /** Per-channel normalisation the model expects inside its input pipeline; null for raw [0, 1] inputs. */
  normalization: { mean: number[]; std: number[] } | null;
  /** The training recipe of the paper that introduced it (`netlab train --preset`). */
  recipe: RecipeName;
}

export interface GeneratorEntry extends BaseEntry {
  task: 'image-generation';
  /** Size of the noise vector z. */
  latentDim: number;
  /** [channels, height, width] of one generated image (flattened in the output). */
  outputSize: [number, number, number];
  /** The discriminator it is trained against. */
  partner: string;
}

export interface DiscriminatorEntry extends BaseEntry {
  task: 'real-fake-discrimination';
  /** [channels, height, width] of one input image (taken flattened). */
  inputSize: [number, number, number];
  /** The generator it is trained against. */
  partner: string;
}

export interface MaskedImageModelingEntry extends BaseEntry {
  task: 'masked-image-modeling';
  /** [channels, height, width] of one input image. */
  inputSize: [number, number, number];
  patchSize: number;
  /** The classifier (a ViT preset) its encoder's weights load into for fine-tuning and linear probing. */
  encoder: string;
}

export interface SequenceToSequenceEntry extends BaseEntry {
  task: 'sequence-to-sequence';
  srcVocab: number;
  tgtVocab: number;
  /** The padding token id of both vocabularies. */
  padIdx: number;
}

export interface LanguageModelEntry extends BaseEntry {
  task: 'masked-language-modeling';
  /** Parameters of the encoder alone (BertModel), as the papers count them; parameterCount adds the pre-training heads. */
  encoderParameterCount: number;
  vocabSize: number;
  /** Longest sequence, in tokens. */
  maxLength: number;
  /** Segment types (2: sentence A and B). */
  typeVocabSize: number;
  /** The build options that fit a state dict: the head its keys show (a pre-training file builds the pre-training model). */
  buildOptionsFor: (stateDict: Map<string, Tensor>) => Record<string, unknown>;
  /** The model's outputs under the reference implementation's names. */
  namedOutputs: (model: Module, inputs: { inputIds: Tensor; tokenTypeIds?: Tensor; attentionMask?: Tensor }) => Record<string, Tensor>;
}

export type ModelEntry = ClassifierEntry | GeneratorEntry | DiscriminatorEntry | MaskedImageModelingEntry | SequenceToSequenceEntry | LanguageModelEntry;

type EntryOf<T extends Task> = Extract<ModelEntry, { task: T }>;

const REGISTRY = new Map<string, ModelEntry>();

export function registerModel(entry: ModelEntry): void {
  if (REGISTRY.has(entry.name)) throw new Error(`registerModel: '${entry.name}' is already registered`);
  REGISTRY.set(entry.name, entry);
}

/** Builds a registered model by name. */
export function getModel(name: string, options: Record<string, unknown> = {}): Module {
  return getModelEntry(name).build(options);
}

/** The entry of a registered model; with `task`, an error unless the model does that task. */
export function getModelEntry(name: string): ModelEntry;
export function getModelEntry<T extends Task>(name: string, task: T): EntryOf<T>;
export function getModelEntry(name: string, task?: Task): ModelEntry {
  const entry = REGISTRY.get(name);
  if (entry === undefined) throw new Error(`unknown model '${name}'; registered models: ${listModels(task).join(', ')}`);
  if (task !== undefined && entry.task !== task) throw new Error(`'${name}' is a model for ${entry.task}, not ${task}; models for ${task}: ${listModels(task).join(', ')}`);
  return entry;
}

/** The registered names, sorted; with `task`, only the models for it. */
export function listModels(task?: Task): string[] {
  return [...REGISTRY.values()].filter((e) => task === undefined || e.task === task).map((e) => e.name).sort();
}

/** The number of learnable parameters. */
export function parameterCount(model: Module): number {
  return model.parameters().reduce((n, p) => n + p.numel(), 0);
}

registerModel({
  name: 'madry-cnn',
  task: 'image-classification',
  description: 'MNIST CNN of Madry et al. (2018): conv5x5-32, pool, conv5x5-64, pool, fc1024, fc10',
  build: (options) => madryCnn(options),
  config: MADRY_CNN_DEFAULTS,
  parameterCount: madryCnnParameterCount(),
  inputSize: [1, 28, 28],
  numClasses: 10,
  normalization: null,
  recipe: 'madry',
});

registerModel({
  name: 'cw-mnist',
  task: 'image-classification',
  description: 'MNIST CNN of Carlini & Wagner (2017), Table I: conv3x3-32 ×2, pool, conv3x3-64 ×2, pool, fc200, dropout, fc200, fc10',
  build: (options) => cwMnistNet(options),
  config: CW_MNIST_DEFAULTS,
  parameterCount: cwMnistParameterCount(),
  inputSize: [1, 28, 28],
  numClasses: 10,
  normalization: null,
  recipe: 'cw',
});

for (const entry of VIT_MODEL_ENTRIES) registerModel(entry);

import { RESNET_MODELS } from './resnet.js';
for (const entry of RESNET_MODELS) registerModel(entry);

import { SWIN_MODELS } from './swin.js';
for (const entry of SWIN_MODELS) registerModel(entry);

import { GAN_MODELS } from './gan.js';
for (const entry of GAN_MODELS) registerModel(entry);

import { MAE_MODEL_ENTRIES } from './mae.js';
for (const entry of MAE_MODEL_ENTRIES) registerModel(entry);

import { TRANSFORMER_MODEL_ENTRIES } from './transformer.js';
for (const entry of TRANSFORMER_MODEL_ENTRIES) registerModel(entry);

import { BERT_MODEL_ENTRIES } from './bert.js';
for (const entry of BERT_MODEL_ENTRIES) registerModel(entry);
