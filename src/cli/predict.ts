// `netlab predict`: runs any registered model with given weights on a tensor
// file, or on image files with the model's preprocessing, so weights
// exported from PyTorch can be used directly.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { cat, noGrad, scope, setNumThreads, tensor, Tensor } from '../tensor/index.js';
import { interpolate, softmax } from '../nn/functional.js';
import { centerCrop } from '../data/transforms.js';
import { CIFAR10_CLASSES } from '../data/cifar.js';
import { readImage } from '../io/image.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { getModelEntry, listModels, type DiscriminatorEntry, type GeneratorEntry, type LanguageModelEntry, type MaskedImageModelingEntry, type ModelEntry, type SequenceToSequenceEntry } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import type { MaskedAutoencoderViT } from '../models/mae.js';
import { buildWithWeights, planFor, safetensorsOption, prepare, withStoredNormalization, type DatasetName, type ModelPlan } from './model-files.js';
import { numberOption, UsageError, type CommandSpec } from './args.js';

export const PREDICT: CommandSpec = {
  name: 'predict',
  summary: 'run a registered model with given weights on a tensor file or on images, and write or print its predictions',
  options: {
    arch: { type: 'string', value: 'NAME', help: `model architecture (${listModels().join(', ')})` },
    weights: { type: 'string', value: 'FILE', help: 'weights (.safetensors) with PyTorch state-dict keys' },
    input: { type: 'string', value: 'PATH', help: 'a prepared batch (.safetensors, [N, C, H, W] floating point), or a PNG or JPEG image, or a folder of them' },
    key: { type: 'string', value: 'NAME', help: 'which tensor of a .safetensors input (default: the only one, or "input")' },
    output: { type: 'string', value: 'FILE', help: 'where to write "logits" and "predictions" (.safetensors); required for a tensor input' },
    top: { type: 'string', value: 'K', help: 'classes printed per image', default: '3' },
    'batch-size': { type: 'string', value: 'N', help: 'images per forward pass', default: '256' },
    'mask-ratio': { type: 'string', value: 'R', help: 'masked autoencoders: the fraction of patches removed, in [0, 1)', default: '0.75' },
    'norm-pix-loss': { type: 'boolean', help: 'masked autoencoders: reconstruct patches normalised by their mean and variance' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print a summary as one JSON object on stdout' },
  },
  notes: [
    'Classifiers read [N, C, H, W] images and write "logits" and "predictions". A GAN generator reads "z" [N, latent]',
    'and writes "samples" [N, pixels]; a GAN discriminator reads "images" [N, pixels] and writes "logits" and',
    '"probabilities" (D(x)). A masked autoencoder reads "imgs" [N, C, H, W] and, if present, "noise" [N, L] (the uniform',
    'noise that decides which patches are removed, for repeatable runs) and writes "loss" (a scalar), "pred"',
    '[N, L, p²·C] and "mask" [N, L] (1 = removed). A sequence-to-sequence model reads "src" [N, S] and "tgt" [N, T]',
    '(int64 token ids, padding 0) and writes "logits" [N, T, V]: the decoder\'s output for the teacher-forced tgt under the',
    'causal mask. A masked language model (BERT) reads "input_ids" and, if present, "token_type_ids" and "attention_mask"',
    '(int64 [N, L], 1 = attend) and writes what the class its weights come from gives, under Hugging Face\'s names:',
    '"prediction_logits" and "seq_relationship_logits" for pre-training weights (keys "cls.…"), "logits" for a classifier.',
    '',
    'Images get the preprocessing the weights were trained with: for NetLab weights, that of their dataset (MNIST: grey',
    'levels resized to 28×28, white digits on black as in MNIST; CIFAR-10: RGB resized to 32×32, standardised); for',
    "weights without NetLab's metadata, the registry's: ImageNet models resize the shorter side to 256/224 of the",
    'input size, crop the centre and standardise with the ImageNet statistics, as torchvision does.',
  ].join('\n'),
};

export interface PredictSummary {
  n: number;
  /** Classes of a classifier's logits; absent for the tasks that write other tensors. */
  classes?: number;
  output: string | null;
  /** For image inputs: each file's top classes. */
  images?: { file: string; top: { class: number; name: string; probability: number }[] }[];
}

const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;

export function runPredict(values: Record<string, string | boolean | undefined>): PredictSummary {
  const arch = typeof values.arch === 'string' ? values.arch : '';
  if (!listModels().includes(arch)) throw new UsageError(`predict: --arch must name a registered model (${listModels().join(', ')}), got '${arch}'`);
  if (typeof values.input !== 'string') throw new UsageError('predict: --input PATH is required');
  if (typeof values.weights === 'string') safetensorsOption('predict', 'weights', values.weights, true);
  const inputPath = resolve(values.input);
  if (!existsSync(inputPath)) throw new Error(`predict: input not found: ${inputPath}`);
  const entry = getModelEntry(arch);
  if (entry.task === 'masked-image-modeling') return predictMaskedImages(entry, inputPath, values);
  if (entry.task === 'sequence-to-sequence') return predictSequences(entry, inputPath, values);
  if (entry.task === 'masked-language-modeling') return predictTokens(entry, inputPath, values);
  if (entry.task !== 'image-classification') return predictNamedTensors(entry, inputPath, values);
  const tensorInput = inputPath.endsWith('.safetensors');
  const images = tensorInput ? [] : imageFiles(inputPath);
  const output = tensorInput || values.output !== undefined ? safetensorsOption('predict', 'output', values.output, false) : null;
  const batchSize = numberOption('predict', 'batch-size', values['batch-size'], { min: 1, integer: true });
  const top = numberOption('predict', 'top', values.top, { min: 1, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption('predict', 'threads', values.threads, { min: 1, integer: true }));
  const { model, options, path: weights, metadata } = buildWithWeights('predict', arch, values.weights, {});
  try {
    model.eval();
    const x = tensorInput ? loadTensorInput(inputPath, typeof values.key === 'string' ? values.key : undefined, arch, options) : loadImages(images, imagePlan(arch, options, weights, metadata));
    try {
      const logits = noGrad(() =>
        scope(() => {
          const parts: Tensor[] = [];
          for (let i = 0; i < x.shape[0]; i += batchSize) parts.push(model.forward(x.narrow(0, i, Math.min(batchSize, x.shape[0] - i)).float()) as Tensor);
          return cat(parts);
        }),
      );
      try {
        if (output !== null) scope(() => saveSafetensors(output, { logits, predictions: logits.argmax(1) }, { arch, weights }));
        const summary: PredictSummary = { n: logits.shape[0], classes: logits.shape[1], output };
        if (!tensorInput) {
          summary.images = topClasses(logits, images, top, classNames(metadata.dataset, logits.shape[1]));
          if (!values.json) for (const image of summary.images) process.stdout.write(`${image.file}: ${image.top.map((t) => `${t.name} ${(100 * t.probability).toFixed(1)}%`).join(', ')}\n`);
        }
        process.stderr.write(`predict: ${summary.n} inputs${output === null ? '' : ` → ${output}`}\n`);
        return summary;
      } finally {
        logits.dispose();
      }
    } finally {
      x.dispose();
    }
  } finally {
    model.dispose();
  }
}

/** What the tasks read as named tensors share: the .safetensors input and output, the batch size, threads, the model with its weights and the input file's tensors (the caller disposes model and tensors). */
function namedTensorRun(
  entry: ModelEntry,
  inputPath: string,
  values: Record<string, string | boolean | undefined>,
  reads: string,
  buildOptions: Parameters<typeof buildWithWeights>[3] = {},
): { output: string; batchSize: number; model: Module; inputs: Map<string, Tensor> } {
  if (!inputPath.endsWith('.safetensors')) throw new UsageError(`predict: '${entry.name}' (${entry.task}) reads ${reads} from a .safetensors file, got '${values.input}'`);
  const output = safetensorsOption('predict', 'output', values.output, false);
  const batchSize = numberOption('predict', 'batch-size', values['batch-size'], { min: 1, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption('predict', 'threads', values.threads, { min: 1, integer: true }));
  const { model } = buildWithWeights('predict', entry.name, values.weights, buildOptions);
  return { output, batchSize, model, inputs: loadSafetensors(inputPath).tensors };
}

/** The input file's tensor `name`, or an error naming the tensors it has. */
function inputTensor(inputs: Map<string, Tensor>, name: string, inputPath: string, entry: ModelEntry): Tensor {
  const t = inputs.get(name);
  if (t === undefined) throw new Error(`predict: ${inputPath} has no tensor '${name}' for ${entry.name}; it has ${[...inputs.keys()].join(', ') || 'none'}`);
  return t;
}

/** What `netlab predict` reads and writes for the tasks whose inputs are named tensors. */
const TENSOR_IO = {
  'image-generation': { reads: 'z', writes: 'samples' },
  'real-fake-discrimination': { reads: 'images', writes: 'logits' },
} as const;

/**
 * A generator maps `z` [N, latentDim] to `samples` [N, pixels] in [0, 1]; a
 * discriminator maps `images` [N, pixels] (or [N, C, H, W], flattened) to
 * `logits` [N] and `probabilities` [N], D(x) = σ(logit).
 */
function predictNamedTensors(entry: GeneratorEntry | DiscriminatorEntry, inputPath: string, values: Record<string, string | boolean | undefined>): PredictSummary {
  const io = TENSOR_IO[entry.task];
  const { output, batchSize, model, inputs } = namedTensorRun(entry, inputPath, values, `'${io.reads}'`);
  try {
    const given = inputTensor(inputs, typeof values.key === 'string' ? values.key : io.reads, inputPath, entry);
    if (!given.dtype.startsWith('float')) throw new Error(`predict: '${io.reads}' must be floating point, got ${given.describe()}`);
    const width = entry.task === 'image-generation' ? entry.latentDim : entry.inputSize.reduce((a, b) => a * b);
    const x = scope(() => (given.ndim >= 2 ? given.flatten(1).float() : given.float()));
    try {
      if (x.ndim !== 2 || x.shape[1] !== width) throw new Error(`predict: '${entry.name}' takes '${io.reads}' as [N, ${width}], got ${given.describe()}`);
      model.eval();
      const out = noGrad(() => scope(() => {
        const parts: Tensor[] = [];
        for (let i = 0; i < x.shape[0]; i += batchSize) parts.push(model.forward(x.narrow(0, i, Math.min(batchSize, x.shape[0] - i))) as Tensor);
        return cat(parts);
      }));
      try {
        scope(() => saveSafetensors(output, entry.task === 'image-generation' ? { samples: out } : { logits: out, probabilities: out.sigmoid() }, { arch: entry.name }));
      } finally {
        out.dispose();
      }
      process.stderr.write(`predict: ${x.shape[0]} inputs → ${output}\n`);
      return { n: x.shape[0], output };
    } finally {
      x.dispose();
    }
  } finally {
    for (const t of inputs.values()) t.dispose();
    model.dispose();
  }
}

/**
 * A masked autoencoder: `imgs` [N, C, H, W] (and `noise` [N, L] when given)
 * → `loss`, `pred` [N, L, p²·C], `mask` [N, L]. Batches are weighted by
 * their size, so the loss is the official one over all N images (every image
 * has the same number of removed patches).
 */
function predictMaskedImages(entry: MaskedImageModelingEntry, inputPath: string, values: Record<string, string | boolean | undefined>): PredictSummary {
  const maskRatio = numberOption('predict', 'mask-ratio', values['mask-ratio'], { min: 0, max: 1, exclusiveMax: true }); // some patches must stay visible
  const { output, batchSize, model, inputs } = namedTensorRun(entry, inputPath, values, "'imgs'");
  const mae = model as MaskedAutoencoderViT;
  if (values['norm-pix-loss']) mae.normPixLoss = true;
  try {
    const imgs = inputTensor(inputs, 'imgs', inputPath, entry);
    const noise = inputs.get('noise');
    const [C, S] = entry.inputSize;
    if (imgs.ndim !== 4) throw new Error(`predict: '${entry.name}' takes 'imgs' as [N, ${C}, ${S}, ${S}], got ${imgs.describe()}`);
    const n = imgs.shape[0];
    if (noise !== undefined && (noise.ndim !== 2 || noise.shape[0] !== n))
      throw new Error(`predict: 'noise' must be [N, L] = [${n}, ${mae.numPatches}] to match 'imgs' ${imgs.describe()}, got ${noise.describe()}`);
    mae.eval();
    noGrad(() =>
      scope(() => {
        const preds: Tensor[] = [];
        const masks: Tensor[] = [];
        let loss = 0;
        for (let i = 0; i < n; i += batchSize) {
          const size = Math.min(batchSize, n - i);
          const out = mae.forward(imgs.narrow(0, i, size), { maskRatio, noise: noise?.narrow(0, i, size) });
          loss += (out.loss.item() * size) / n;
          preds.push(out.pred);
          masks.push(out.mask);
        }
        saveSafetensors(output, { loss: tensor(loss), pred: cat(preds), mask: cat(masks) }, { arch: entry.name });
      }),
    );
    process.stderr.write(`predict: ${n} images, mask ratio ${maskRatio} → ${output}\n`);
    return { n, output };
  } finally {
    for (const t of inputs.values()) t.dispose();
    model.dispose();
  }
}

/** A sequence-to-sequence model: `src` [N, S] and `tgt` [N, T] (int64) → `logits` [N, T, V], in batches. */
function predictSequences(entry: SequenceToSequenceEntry, inputPath: string, values: Record<string, string | boolean | undefined>): PredictSummary {
  const { output, batchSize, model, inputs } = namedTensorRun(entry, inputPath, values, "'src' and 'tgt'");
  try {
    const [src, tgt] = [inputTensor(inputs, 'src', inputPath, entry), inputTensor(inputs, 'tgt', inputPath, entry)];
    if (src.ndim !== 2 || tgt.ndim !== 2 || src.shape[0] !== tgt.shape[0])
      throw new Error(`predict: '${entry.name}' takes 'src' [N, S] and 'tgt' [N, T] with the same N, got ${src.describe()} and ${tgt.describe()}`);
    model.eval();
    const n = src.shape[0];
    noGrad(() =>
      scope(() => {
        const parts: Tensor[] = [];
        for (let i = 0; i < n; i += batchSize) {
          const size = Math.min(batchSize, n - i);
          parts.push(model.forward(src.narrow(0, i, size), tgt.narrow(0, i, size)) as Tensor);
        }
        saveSafetensors(output, { logits: cat(parts) }, { arch: entry.name });
      }),
    );
    process.stderr.write(`predict: ${n} sequence pairs → ${output}\n`);
    return { n, output };
  } finally {
    for (const t of inputs.values()) t.dispose();
    model.dispose();
  }
}

/**
 * A masked language model: `input_ids` and, when present, `token_type_ids`
 * and `attention_mask` (int64 [N, L]) → the outputs of the class the weights
 * were saved from, under Hugging Face's names (BERT pre-training:
 * `prediction_logits` [N, L, V] and `seq_relationship_logits` [N, 2]; a
 * classifier or the masked-LM model: `logits`; a bare encoder:
 * `last_hidden_state` and `pooler_output`), in batches.
 */
function predictTokens(entry: LanguageModelEntry, inputPath: string, values: Record<string, string | boolean | undefined>): PredictSummary {
  const { output, batchSize, model, inputs } = namedTensorRun(entry, inputPath, values, "'input_ids' (and 'token_type_ids', 'attention_mask')", entry.buildOptionsFor);
  try {
    const ids = inputTensor(inputs, 'input_ids', inputPath, entry);
    const [types, mask] = [inputs.get('token_type_ids'), inputs.get('attention_mask')];
    // Checked whole here, so a mismatch is not reported for a slice of some batch.
    for (const [name, t] of [['token_type_ids', types], ['attention_mask', mask]] as const) {
      if (t !== undefined && (t.ndim !== ids.ndim || t.shape.some((d, i) => d !== ids.shape[i]))) throw new Error(`predict: '${name}' must have the shape of 'input_ids' ${ids.describe()}, got ${t.describe()}`);
    }
    model.eval();
    const n = ids.ndim === 0 ? 0 : ids.shape[0];
    const rows = (t: Tensor | undefined, i: number, size: number) => (t === undefined || t.ndim === 0 ? t : t.narrow(0, i, Math.min(size, t.shape[0] - i)));
    noGrad(() =>
      scope(() => {
        const parts = new Map<string, Tensor[]>();
        // At least one batch, so input_ids that are not [N, L] reach the model's own check.
        for (let i = 0; i === 0 || i < n; i += batchSize) {
          const out = entry.namedOutputs(model, { inputIds: rows(ids, i, batchSize)!, tokenTypeIds: rows(types, i, batchSize), attentionMask: rows(mask, i, batchSize) });
          for (const [name, t] of Object.entries(out)) parts.set(name, [...(parts.get(name) ?? []), t]);
        }
        saveSafetensors(output, Object.fromEntries([...parts].map(([name, list]) => [name, cat(list)])), { arch: entry.name });
      }),
    );
    process.stderr.write(`predict: ${n} sequences → ${output}\n`);
    return { n, output };
  } finally {
    for (const t of inputs.values()) t.dispose();
    model.dispose();
  }
}

function loadTensorInput(input: string, key: string | undefined, arch: string, options: Record<string, unknown>): Tensor {
  const inputs = loadSafetensors(input);
  let picked: Tensor | undefined;
  try {
    const x = pickInput(inputs.tensors, key, input);
    const [c, h, w] = getModelEntry(arch, 'image-classification').inputSize;
    const channels = typeof options.inChannels === 'number' ? options.inChannels : c;
    if (x.ndim !== 4 || x.shape[1] !== channels) throw new Error(`predict: '${arch}' expects [N, ${channels}, H, W] inputs (${channels}×${h}×${w}), got ${x.describe()} from ${input}`);
    if (!x.dtype.startsWith('float')) throw new Error(`predict: inputs must be floating point, got ${x.describe()} from ${input}`);
    picked = x;
    return x;
  } finally {
    for (const t of inputs.tensors.values()) if (t !== picked) t.dispose();
  }
}

/** The image files of `path`: itself, or the PNG and JPEG files in the folder, sorted. */
function imageFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const files = readdirSync(path)
    .filter((name) => IMAGE_EXTENSIONS.test(name))
    .sort()
    .map((name) => join(path, name));
  if (files.length === 0) throw new Error(`predict: ${path} holds no .png, .jpg or .jpeg files`);
  return files;
}

/** How images reach the network: the dataset's size and preparation for NetLab's weights, the registry's for others. */
interface ImagePlan {
  channels: 1 | 3;
  size: number;
  /** Resize the shorter side to size·256/224 and crop the centre (ImageNet models), else resize to size×size. */
  resizeAndCrop: boolean;
  plan: ModelPlan;
}

function imagePlan(arch: string, options: Record<string, unknown>, path: string, metadata: Record<string, string>): ImagePlan {
  const entry = getModelEntry(arch, 'image-classification');
  const dataset = metadata.dataset as DatasetName | undefined;
  if (dataset === 'mnist' || dataset === 'cifar10') {
    const plan = withStoredNormalization('predict', planFor('predict', arch, dataset), path, metadata);
    return { channels: dataset === 'mnist' ? 1 : 3, size: dataset === 'mnist' ? 28 : 32, resizeAndCrop: false, plan };
  }
  const channels = (typeof options.inChannels === 'number' ? options.inChannels : entry.inputSize[0]) as number;
  if (channels !== 1 && channels !== 3) throw new Error(`predict: images have 1 or 3 channels; '${arch}' is built for ${channels}`);
  const size = entry.inputSize[1];
  const plan: ModelPlan = { arch, dataset: 'mnist', options, padding: 0, normalization: entry.normalization };
  return { channels, size, resizeAndCrop: size >= 64, plan };
}

function loadImages(files: readonly string[], how: ImagePlan): Tensor {
  return scope(() => {
    const batch = files.map((file) =>
      scope(() => {
        const image = readImage(file, { channels: how.channels }).unsqueeze(0); // [1, C, H, W]
        const [h, w] = [image.shape[2], image.shape[3]];
        if (!how.resizeAndCrop) return h === how.size && w === how.size ? image : interpolate(image, { size: [how.size, how.size], mode: 'bilinear', antialias: true });
        const shorter = Math.floor((how.size * 256) / 224);
        const scale = shorter / Math.min(h, w);
        const resized = interpolate(image, { size: [Math.max(shorter, Math.round(h * scale)), Math.max(shorter, Math.round(w * scale))], mode: 'bilinear', antialias: true });
        return centerCrop(resized, how.size);
      }),
    );
    return prepare(cat(batch), how.plan);
  });
}

function classNames(dataset: string | undefined, classes: number): (i: number) => string {
  if (dataset === 'cifar10' && classes === CIFAR10_CLASSES.length) return (i) => CIFAR10_CLASSES[i];
  return (i) => String(i);
}

function topClasses(logits: Tensor, files: readonly string[], k: number, name: (i: number) => string): NonNullable<PredictSummary['images']> {
  return scope(() => {
    const probabilities = softmax(logits, 1);
    const { values, indices } = probabilities.topk(Math.min(k, logits.shape[1]), { dim: 1 });
    const p = values.toArray() as number[][];
    const c = indices.toArray() as number[][];
    return files.map((file, i) => ({ file, top: c[i].map((cls, j) => ({ class: cls, name: name(cls), probability: p[i][j] })) }));
  });
}

function pickInput(tensors: Map<string, Tensor>, key: string | undefined, file: string): Tensor {
  if (key !== undefined) {
    const t = tensors.get(key);
    if (t === undefined) throw new Error(`predict: ${file} has no tensor '${key}'; it has ${[...tensors.keys()].join(', ')}`);
    return t;
  }
  if (tensors.size === 1) return [...tensors.values()][0];
  const t = tensors.get('input');
  if (t === undefined) throw new Error(`predict: ${file} holds ${tensors.size} tensors (${[...tensors.keys()].join(', ')}); name one with --key`);
  return t;
}
