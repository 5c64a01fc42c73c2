// The MNIST networks of Goodfellow et al. (2014), "Generative Adversarial
// Nets", as the paper's released code builds them (goodfeli/adversarial,
// mnist.yaml): a ReLU generator and a maxout discriminator trained with
// dropout. Layer names follow that code's pylearn2 layers (h0, h1, y), so the
// state-dict keys read `h0.weight`, `h1.bias`, `y.weight`.
import { scope } from '../tensor/scope.js';
import { noGrad } from '../tensor/autograd.js';
import { rand } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import * as init from '../nn/init.js';
import { Linear, Maxout } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { DiscriminatorEntry, GeneratorEntry } from './registry.js';

export interface GanGeneratorConfig {
  /** Size of the noise vector z. */
  latentDim: number;
  /** Width of the two ReLU layers. */
  hiddenDim: number;
  /** Pixels of one generated image (28·28 for MNIST). */
  outputDim: number;
  /** Weights start uniform in ±initRange (pylearn2's irange); biases at zero. */
  initRange: number;
}

export interface GanDiscriminatorConfig {
  /** Pixels of one input image. */
  inputDim: number;
  /** Maxout units per hidden layer. */
  numUnits: number;
  /** Affine pieces per maxout unit. */
  numPieces: number;
  /** Dropout probability of the input (the released code keeps 80% of the pixels). */
  inputDropout: number;
  /** Dropout probability of the hidden layers (the released code keeps half). */
  hiddenDropout: number;
  /** Weights start uniform in ±initRange; biases at zero. */
  initRange: number;
}

export const GAN_GENERATOR_DEFAULTS: GanGeneratorConfig = { latentDim: 100, hiddenDim: 1200, outputDim: 784, initRange: 0.05 };
export const GAN_DISCRIMINATOR_DEFAULTS: GanDiscriminatorConfig = { inputDim: 784, numUnits: 240, numPieces: 5, inputDropout: 0.2, hiddenDropout: 0.5, initRange: 0.005 };

/** Learnable parameters of the generator (2,503,984 for MNIST). */
export function ganGeneratorParameterCount(config: Partial<GanGeneratorConfig> = {}): number {
  const { latentDim: z, hiddenDim: h, outputDim: o } = { ...GAN_GENERATOR_DEFAULTS, ...config };
  return z * h + h + h * h + h + h * o + o;
}

/** Learnable parameters of the discriminator (1,231,441 for MNIST). */
export function ganDiscriminatorParameterCount(config: Partial<GanDiscriminatorConfig> = {}): number {
  const { inputDim: d, numUnits: u, numPieces: k } = { ...GAN_DISCRIMINATOR_DEFAULTS, ...config };
  return d * u * k + u * k + u * u * k + u * k + u + 1;
}

function uniformInit(layer: Linear | Maxout, range: number): void {
  init.uniform_(layer.weight, -range, range);
  init.zeros_(layer.bias!);
}

function checkConfig(name: string, config: object): void {
  for (const [key, value] of Object.entries(config)) {
    const isProbability = key.endsWith('Dropout');
    const ok = isProbability ? value >= 0 && value < 1 : key === 'initRange' ? value > 0 && Number.isFinite(value) : Number.isInteger(value) && value > 0;
    if (!ok) throw new RangeError(`${name}: ${key} must be ${isProbability ? 'in [0, 1)' : key === 'initRange' ? 'a finite number > 0' : 'a positive integer'}, got ${String(value)}`);
  }
}

/**
 * G(z): z [N, latentDim] → ReLU hiddenDim → ReLU hiddenDim → sigmoid
 * outputDim, an image with pixels in (0, 1) flattened row by row.
 */
export class GanGenerator extends Module {
  readonly config: GanGeneratorConfig;
  h0: Linear;
  h1: Linear;
  y: Linear;

  constructor(config: Partial<GanGeneratorConfig> = {}) {
    super();
    this.config = { ...GAN_GENERATOR_DEFAULTS, ...config };
    checkConfig('GanGenerator', this.config);
    const { latentDim, hiddenDim, outputDim, initRange } = this.config;
    this.h0 = new Linear(latentDim, hiddenDim);
    this.h1 = new Linear(hiddenDim, hiddenDim);
    this.y = new Linear(hiddenDim, outputDim);
    for (const layer of [this.h0, this.h1, this.y]) uniformInit(layer, initRange);
  }

  /**
   * Sets the output bias so that G's pixels start at the training set's
   * marginals: bias = logit(mean pixel), the mean clipped to [1e-7, 1 − 1e-7]
   * (pylearn2's init_sigmoid_bias_from_marginals). `images` [N, outputDim] in [0, 1].
   */
  initBiasFromMarginals(images: Tensor): void {
    if (images.ndim !== 2 || images.shape[1] !== this.config.outputDim) throw new RangeError(`GanGenerator.initBiasFromMarginals: expected images [N, ${this.config.outputDim}], got ${images.describe()}`);
    noGrad(() => scope(() => {
      const mean = images.mean(0).clamp(1e-7, 1 - 1e-7);
      this.y.bias!.copy_(mean.div(mean.neg().add(1)).log());
    }));
  }

  /** z [N, latentDim] → images [N, outputDim] in (0, 1). */
  forward(z: Tensor): Tensor {
    const { latentDim } = this.config;
    if (z.ndim !== 2 || z.shape[1] !== latentDim) throw new RangeError(`GanGenerator: expected noise z [N, ${latentDim}], got ${z.describe()}`);
    if (!z.dtype.startsWith('float')) throw new TypeError(`GanGenerator: noise must be floating point, got ${z.describe()}`);
    return scope(() => {
      const h = this.h1.forward(this.h0.forward(z).relu()).relu(); // (N, hidden)
      return this.y.forward(h).sigmoid(); // (N, pixels)
    });
  }
}

/**
 * D(x) before its sigmoid: x [N, inputDim] → dropout → maxout → dropout →
 * maxout → dropout → one logit l, with D(x) = σ(l) the probability that x
 * came from the data. Working on the logit keeps the losses finite where
 * σ(l) rounds to 0 or 1 (log σ(l) = −softplus(−l)).
 */
export class GanDiscriminator extends Module {
  readonly config: GanDiscriminatorConfig;
  h0: Maxout;
  h1: Maxout;
  y: Linear;

  constructor(config: Partial<GanDiscriminatorConfig> = {}) {
    super();
    this.config = { ...GAN_DISCRIMINATOR_DEFAULTS, ...config };
    checkConfig('GanDiscriminator', this.config);
    const { inputDim, numUnits, numPieces, initRange } = this.config;
    this.h0 = new Maxout(inputDim, numUnits, numPieces);
    this.h1 = new Maxout(numUnits, numUnits, numPieces);
    this.y = new Linear(numUnits, 1);
    for (const layer of [this.h0, this.h1, this.y]) uniformInit(layer, initRange);
  }

  /** Images [N, inputDim] → logits [N]. */
  forward(x: Tensor): Tensor {
    const { inputDim, inputDropout, hiddenDropout } = this.config;
    if (x.ndim !== 2 || x.shape[1] !== inputDim) throw new RangeError(`GanDiscriminator: expected images [N, ${inputDim}], got ${x.describe()}`);
    if (!x.dtype.startsWith('float')) throw new TypeError(`GanDiscriminator: images must be floating point, got ${x.describe()}`);
    return scope(() => {
      let h = this.h0.forward(F.dropout(x, inputDropout, this.training)); // (N, units)
      h = this.h1.forward(F.dropout(h, hiddenDropout, this.training)); // (N, units)
      return this.y.forward(F.dropout(h, hiddenDropout, this.training)).view(-1); // (N,)
    });
  }
}

/** Noise for the generator: [n, latentDim] uniform on [−√3, √3] (mean 0, variance 1), from libtorch's generator. */
export function sampleLatent(n: number, latentDim: number = GAN_GENERATOR_DEFAULTS.latentDim): Tensor {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`sampleLatent: n must be a positive integer, got ${String(n)}`);
  return scope(() => rand([n, latentDim]).mul(2 * Math.sqrt(3)).sub(Math.sqrt(3)));
}

export function ganMnistGenerator(config: Partial<GanGeneratorConfig> = {}): GanGenerator {
  return new GanGenerator(config);
}

export function ganMnistDiscriminator(config: Partial<GanDiscriminatorConfig> = {}): GanDiscriminator {
  return new GanDiscriminator(config);
}

const SOURCE = 'Goodfellow et al. (2014), MNIST, as in the released code (mnist.yaml)';

export const GAN_MODELS: (GeneratorEntry | DiscriminatorEntry)[] = [
  {
    name: 'gan_mnist_generator',
    task: 'image-generation',
    description: `GAN generator of ${SOURCE}: z 100 uniform → ReLU 1200 → ReLU 1200 → sigmoid 784`,
    build: (options) => ganMnistGenerator(options as Partial<GanGeneratorConfig>),
    config: GAN_GENERATOR_DEFAULTS,
    parameterCount: ganGeneratorParameterCount(),
    latentDim: GAN_GENERATOR_DEFAULTS.latentDim,
    outputSize: [1, 28, 28],
    partner: 'gan_mnist_discriminator',
  },
  {
    name: 'gan_mnist_discriminator',
    task: 'real-fake-discrimination',
    description: `GAN discriminator of ${SOURCE}: 784 → maxout 240×5 → maxout 240×5 → 1 (sigmoid), dropout 0.2/0.5`,
    build: (options) => ganMnistDiscriminator(options as Partial<GanDiscriminatorConfig>),
    config: GAN_DISCRIMINATOR_DEFAULTS,
    parameterCount: ganDiscriminatorParameterCount(),
    inputSize: [1, 28, 28],
    partner: 'gan_mnist_generator',
  },
];
