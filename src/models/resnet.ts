// Residual networks (He et al., 2016, "Deep Residual Learning for Image
// Recognition"), in three families:
//   - the ImageNet ResNet-18/34/50/101/152 in torchvision 0.14's layout, names
//     and initialisation (so state dicts move both ways), with the stride of a
//     bottleneck on its 3×3 convolution (torchvision's "v1.5") and projection
//     shortcuts where the shape changes (the paper's option B);
//   - the CIFAR-10 networks of the paper's Section 4.2 (6n + 2 layers, 16/32/64
//     filters) with option A or B shortcuts, and their plain counterparts;
//   - the wide ResNet of Madry et al. (2018), the CIFAR-10 model of their
//     cifar10_challenge (model.py, "w28-10": filters 16/160/320/640).
// Read top to bottom: helpers, blocks, the three model classes, builders, and
// the registry entries.
import { Tensor } from '../tensor/tensor.js';
import { scope } from '../tensor/scope.js';
import { pad } from '../tensor/ops.js';
import * as F from '../nn/functional.js';
import * as init from '../nn/init.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, ReLU } from '../nn/layers.js';
import { Sequential } from '../nn/container.js';
import { Module } from '../nn/module.js';
import type { ClassifierEntry } from './registry.js';

// ---------------------------------------------------------------- helpers

function conv3x3(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, bias: false });
}

function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/** Throws a clear error unless `x` is a float batch of images [N, channels, H, W] with H and W multiples of `sizeMultiple`. */
function checkImages(model: string, x: unknown, channels: number, sizeMultiple = 1): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${model}: expected a Tensor of images [N, ${channels}, H, W], got ${typeof x}`);
  if (x.ndim !== 4 || x.shape[1] !== channels)
    throw new RangeError(`${model}: expected images [N, ${channels}, H, W], got ${x.describe()}`);
  if (!x.dtype.startsWith('float') && x.dtype !== 'bfloat16') throw new TypeError(`${model}: expected floating-point images, got ${x.describe()}`);
  const [n, , h, w] = x.shape;
  if (n === 0 || h === 0 || w === 0) throw new RangeError(`${model}: expected a non-empty batch of images, got ${x.describe()}`);
  if (h % sizeMultiple !== 0 || w % sizeMultiple !== 0)
    throw new RangeError(`${model}: image height and width must be multiples of ${sizeMultiple} (one per stride-2 stage), got ${x.describe()}`);
}

/**
 * A complete config from `given` over `defaults`: unknown keys and values of
 * the wrong type are rejected by name, as the registry passes untyped options.
 */
function resolveConfig<T extends object>(family: string, defaults: T, given: Partial<T>): T {
  if (typeof given !== 'object' || given === null) throw new TypeError(`${family}: config must be an object, got ${String(given)}`);
  for (const [key, value] of Object.entries(given)) {
    if (!(key in defaults)) throw new TypeError(`${family}: unknown config option '${key}'; known: ${Object.keys(defaults).join(', ')}`);
    const expected = (defaults as Record<string, unknown>)[key];
    if (value !== undefined && typeof value !== typeof expected)
      throw new TypeError(`${family}: config option '${key}' must be a ${typeof expected}, got ${JSON.stringify(value)}`);
  }
  const config = { ...defaults };
  for (const [key, value] of Object.entries(given)) if (value !== undefined) (config as Record<string, unknown>)[key] = value;
  return config;
}

function checkPositiveInt(family: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${family}: ${name} must be a positive integer, got ${value}`);
}

/** torchvision's ResNet initialisation: He-normal convolutions (fan-out, ReLU gain); BN starts at γ = 1, β = 0 on construction; Linear keeps its default. */
function initConvolutions(model: Module): void {
  // modules() walks in construction order, as torchvision's self.modules(), so a
  // seeded model draws the same numbers as torchvision's.
  for (const m of model.modules()) if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
}

/** Zeroes γ of the last BN of every residual block, so each block starts as the identity (Goyal et al., 2017). */
function zeroInitResiduals(model: Module): void {
  for (const m of model.modules()) {
    if (m instanceof Bottleneck) init.zeros_(m.bn3.weight!);
    else if (m instanceof BasicBlock) init.zeros_(m.bn2.weight!);
  }
}

/**
 * The option A shortcut of He et al.: the identity, subsampled by taking every
 * `stride`-th pixel and widened with zero channels after the existing ones (as
 * in fb.resnet.torch, which reproduced the paper).
 * (N, C, H, W) → (N, outChannels, ⌈H/stride⌉, ⌈W/stride⌉).
 */
export function subsampleAndPad(x: Tensor, stride: number, outChannels: number): Tensor {
  const extra = outChannels - x.shape[1];
  if (extra < 0) throw new RangeError(`subsampleAndPad: cannot narrow ${x.describe()} to ${outChannels} channels`);
  return scope(() => {
    const sub = stride === 1 ? x : x.slice(2, null, null, stride).slice(3, null, null, stride);
    return pad(sub, [0, 0, 0, 0, 0, extra]);
  });
}

/**
 * TensorFlow's 'SAME' padding of one spatial side: the total pad that makes the
 * output ⌈size/stride⌉, split with the odd pixel after (bottom/right), unlike
 * PyTorch's symmetric padding.
 */
function tfSamePadding(size: number, kernel: number, stride: number): [number, number] {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * tf.image.per_image_standardization: each image to zero mean and unit
 * variance over all its C·H·W values, the standard deviation floored at
 * 1/√(C·H·W) so that a constant image stays finite. (N, C, H, W) → same.
 */
export function perImageStandardization(x: Tensor): Tensor {
  const count = x.shape[1] * x.shape[2] * x.shape[3];
  return scope(() => {
    const mean = x.mean([1, 2, 3], { keepdim: true });
    const std = x.std([1, 2, 3], { correction: 0, keepdim: true }).clamp(1 / Math.sqrt(count));
    return x.sub(mean).div(std);
  });
}

// ---------------------------------------------------------------- blocks

/** The two-layer block of ResNet-18/34 and the CIFAR networks: 3×3 → 3×3, added to the shortcut, then ReLU. */
export class BasicBlock extends Module {
  /** Output channels per `planes`. */
  static readonly expansion = 1;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  /** The shortcut where the shape changes (a projection, or option A's padding); null for the identity. */
  downsample: Module | null;

  constructor(inPlanes: number, planes: number, stride = 1, downsample: Module | null = null) {
    super();
    this.conv1 = conv3x3(inPlanes, planes, stride);
    this.bn1 = new BatchNorm2d(planes);
    this.relu = new ReLU(true);
    this.conv2 = conv3x3(planes, planes);
    this.bn2 = new BatchNorm2d(planes);
    this.downsample = downsample;
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.relu.forward(this.bn1.forward(this.conv1.forward(x))); // (N, planes, H/s, W/s)
      const residual = this.bn2.forward(this.conv2.forward(h));
      const shortcut = this.downsample === null ? x : this.downsample.forward(x);
      return this.relu.forward(residual.add_(shortcut));
    });
  }
}

/** The bottleneck of ResNet-50/101/152: 1×1 reduce → 3×3 (strided, v1.5) → 1×1 expand ×4, added to the shortcut. */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  relu: ReLU;
  downsample: Module | null;

  constructor(inPlanes: number, planes: number, stride = 1, downsample: Module | null = null) {
    super();
    this.conv1 = conv1x1(inPlanes, planes);
    this.bn1 = new BatchNorm2d(planes);
    // The stride sits on the 3×3 convolution (torchvision's v1.5); the paper's v1 put it on conv1.
    this.conv2 = conv3x3(planes, planes, stride);
    this.bn2 = new BatchNorm2d(planes);
    this.conv3 = conv1x1(planes, planes * Bottleneck.expansion);
    this.bn3 = new BatchNorm2d(planes * Bottleneck.expansion);
    this.relu = new ReLU(true);
    this.downsample = downsample;
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      let h = this.relu.forward(this.bn1.forward(this.conv1.forward(x))); // (N, planes, H, W)
      h = this.relu.forward(this.bn2.forward(this.conv2.forward(h))); // (N, planes, H/s, W/s)
      const residual = this.bn3.forward(this.conv3.forward(h)); // (N, 4·planes, H/s, W/s)
      const shortcut = this.downsample === null ? x : this.downsample.forward(x);
      return this.relu.forward(residual.add_(shortcut));
    });
  }
}

/** A BasicBlock without its shortcut: the "plain" network of the paper's degradation experiment. */
export class PlainBlock extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU;
  conv2: Conv2d;
  bn2: BatchNorm2d;

  constructor(inPlanes: number, planes: number, stride = 1) {
    super();
    this.conv1 = conv3x3(inPlanes, planes, stride);
    this.bn1 = new BatchNorm2d(planes);
    this.relu = new ReLU(true);
    this.conv2 = conv3x3(planes, planes);
    this.bn2 = new BatchNorm2d(planes);
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
      return this.relu.forward(this.bn2.forward(this.conv2.forward(h)));
    });
  }
}

/** Option A's shortcut as a module (no parameters): see `subsampleAndPad`. */
export class PadShortcut extends Module {
  constructor(
    readonly stride: number,
    readonly outChannels: number,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return subsampleAndPad(x, this.stride, this.outChannels);
  }

  protected override extraRepr(): string {
    return `stride=${this.stride}, out_channels=${this.outChannels}`;
  }
}

type ResidualBlock = typeof BasicBlock | typeof Bottleneck;

// ---------------------------------------------------------------- ImageNet ResNet

export interface ResNetConfig {
  /** Output classes (1000 for ImageNet). */
  numClasses: number;
  /** Channels of the input images (3 for RGB). */
  inChannels: number;
  /** Start every residual block as the identity: γ = 0 in its last BN (Goyal et al., 2017). */
  zeroInitResidual: boolean;
}

export const RESNET_DEFAULTS: ResNetConfig = { numClasses: 1000, inChannels: 3, zeroInitResidual: false };

/**
 * The ImageNet ResNet in torchvision's layout: a 7×7/2 stem with 3×3/2
 * max-pooling, four stages of blocks (64, 128, 256, 512 planes; stages 2–4
 * halve the resolution), global average pooling and a linear classifier.
 * Inputs [N, 3, H, W] normalised with ImageNet's mean and std; any H, W ≥ 1
 * (224 in the paper); outputs logits [N, numClasses].
 */
export class ResNet extends Module {
  readonly config: ResNetConfig;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU;
  maxpool: MaxPool2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;

  /** `layers`: blocks per stage, e.g. [3, 4, 6, 3] for ResNet-34 and -50. */
  constructor(block: ResidualBlock, layers: readonly [number, number, number, number], config: Partial<ResNetConfig> = {}) {
    super();
    this.config = resolveConfig('ResNet', RESNET_DEFAULTS, config);
    const { numClasses, inChannels, zeroInitResidual } = this.config;
    checkPositiveInt('ResNet', 'numClasses', numClasses);
    checkPositiveInt('ResNet', 'inChannels', inChannels);
    layers.forEach((n, i) => checkPositiveInt('ResNet', `layers[${i}]`, n));
    this.conv1 = new Conv2d(inChannels, 64, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = new BatchNorm2d(64);
    this.relu = new ReLU(true);
    this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    let inPlanes = 64;
    const makeLayer = (planes: number, blocks: number, stride: number): Sequential => {
      const outPlanes = planes * block.expansion;
      // Projection shortcut (option B) wherever the shape changes.
      const downsample = stride !== 1 || inPlanes !== outPlanes ? new Sequential(conv1x1(inPlanes, outPlanes, stride), new BatchNorm2d(outPlanes)) : null;
      const stage = [new block(inPlanes, planes, stride, downsample)];
      inPlanes = outPlanes;
      for (let i = 1; i < blocks; i++) stage.push(new block(inPlanes, planes));
      return new Sequential(...stage);
    };
    this.layer1 = makeLayer(64, layers[0], 1);
    this.layer2 = makeLayer(128, layers[1], 2);
    this.layer3 = makeLayer(256, layers[2], 2);
    this.layer4 = makeLayer(512, layers[3], 2);
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.fc = new Linear(512 * block.expansion, numClasses);
    initConvolutions(this);
    if (zeroInitResidual) zeroInitResiduals(this);
  }

  forward(x: Tensor): Tensor {
    checkImages('ResNet', x, this.config.inChannels);
    return scope(() => this.forwardHead(this.forwardFeatures(x)));
  }

  /** (N, C, H, W) → (N, 512·expansion, ~H/32, ~W/32). */
  forwardFeatures(x: Tensor): Tensor {
    return scope(() => {
      let h = this.maxpool.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x)))); // (N, 64, H/4, W/4)
      h = this.layer1.forward(h); // (N, 64·e, H/4, W/4)
      h = this.layer2.forward(h); // (N, 128·e, H/8, W/8)
      h = this.layer3.forward(h); // (N, 256·e, H/16, W/16)
      return this.layer4.forward(h); // (N, 512·e, H/32, W/32)
    });
  }

  /** Features (N, C, h, w) → logits (N, numClasses). */
  forwardHead(features: Tensor): Tensor {
    return scope(() => this.fc.forward(this.avgpool.forward(features).flatten(1)));
  }
}

// ---------------------------------------------------------------- CIFAR ResNet

/** 'A': identity, subsampled and zero-padded where the shape changes (no parameters); 'B': 1×1 projection + BN there; 'none': the plain network. */
export type CifarShortcut = 'A' | 'B' | 'none';

export interface CifarResNetConfig {
  /** Weighted layers, 6n + 2 (20, 32, 44, 56, 110 in the paper). */
  depth: number;
  /** Output classes (10 for CIFAR-10). */
  numClasses: number;
  /** Channels of the input images (3 for CIFAR, 1 for MNIST). */
  inChannels: number;
  /** The shortcut where the shape changes; 'none' drops every shortcut. */
  shortcut: CifarShortcut;
  /** Start every residual block as the identity (γ = 0 in its last BN); not for plain networks. */
  zeroInitResidual: boolean;
}

export const CIFAR_RESNET_DEFAULTS: CifarResNetConfig = { depth: 20, numClasses: 10, inChannels: 3, shortcut: 'A', zeroInitResidual: false };

/**
 * He et al.'s CIFAR-10 network (Section 4.2): a 3×3 convolution with 16
 * filters, three stages of n blocks with 16, 32 and 64 filters (stages 2 and
 * 3 start with a stride-2 convolution), global average pooling and a linear
 * classifier: 6n + 2 weighted layers. Initialised as torchvision's ResNet.
 * Inputs [N, inChannels, H, W] (3×32×32 for CIFAR-10, 1×28×28 for MNIST);
 * outputs logits [N, numClasses].
 */
export class CifarResNet extends Module {
  readonly config: CifarResNetConfig;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;

  constructor(config: Partial<CifarResNetConfig> = {}) {
    super();
    this.config = resolveConfig('CifarResNet', CIFAR_RESNET_DEFAULTS, config);
    const { depth, numClasses, inChannels, shortcut, zeroInitResidual } = this.config;
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0)
      throw new RangeError(`CifarResNet: depth must be 6n + 2 with n ≥ 1 (20, 32, 44, 56, 110), got ${depth}`);
    checkPositiveInt('CifarResNet', 'numClasses', numClasses);
    checkPositiveInt('CifarResNet', 'inChannels', inChannels);
    if (!['A', 'B', 'none'].includes(shortcut)) throw new TypeError(`CifarResNet: shortcut must be 'A', 'B' or 'none', got '${shortcut}'`);
    if (shortcut === 'none' && zeroInitResidual) throw new RangeError('CifarResNet: zeroInitResidual needs shortcuts; a plain network would start with every block outputting zero');
    const n = (depth - 2) / 6;
    this.conv1 = conv3x3(inChannels, 16);
    this.bn1 = new BatchNorm2d(16);
    this.relu = new ReLU(true);
    let inPlanes = 16;
    const makeLayer = (planes: number, stride: number): Sequential => {
      const blocks: Module[] = [];
      for (let i = 0; i < n; i++) {
        const s = i === 0 ? stride : 1;
        const changes = s !== 1 || inPlanes !== planes;
        if (shortcut === 'none') blocks.push(new PlainBlock(inPlanes, planes, s));
        else if (!changes) blocks.push(new BasicBlock(inPlanes, planes, s));
        else if (shortcut === 'A') blocks.push(new BasicBlock(inPlanes, planes, s, new PadShortcut(s, planes)));
        else blocks.push(new BasicBlock(inPlanes, planes, s, new Sequential(conv1x1(inPlanes, planes, s), new BatchNorm2d(planes))));
        inPlanes = planes;
      }
      return new Sequential(...blocks);
    };
    this.layer1 = makeLayer(16, 1);
    this.layer2 = makeLayer(32, 2);
    this.layer3 = makeLayer(64, 2);
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.fc = new Linear(64, numClasses);
    initConvolutions(this);
    if (zeroInitResidual) zeroInitResiduals(this);
  }

  forward(x: Tensor): Tensor {
    checkImages('CifarResNet', x, this.config.inChannels);
    return scope(() => this.forwardHead(this.forwardFeatures(x)));
  }

  /** (N, C, H, W) → (N, 64, ⌈H/4⌉, ⌈W/4⌉). */
  forwardFeatures(x: Tensor): Tensor {
    return scope(() => {
      let h = this.relu.forward(this.bn1.forward(this.conv1.forward(x))); // (N, 16, H, W)
      h = this.layer1.forward(h); // (N, 16, H, W)
      h = this.layer2.forward(h); // (N, 32, H/2, W/2)
      return this.layer3.forward(h); // (N, 64, H/4, W/4)
    });
  }

  /** Features (N, 64, h, w) → logits (N, numClasses). */
  forwardHead(features: Tensor): Tensor {
    return scope(() => this.fc.forward(this.avgpool.forward(features).flatten(1)));
  }
}

// ---------------------------------------------------------------- Madry et al.'s wide ResNet

export interface MadryWideResNetConfig {
  /** Output classes (10 for CIFAR-10). */
  numClasses: number;
  /** Channels of the input images. */
  inChannels: number;
  /** Filters of the stem and of the three stages; model.py's [16, 16, 32, 64] is the non-wide version. */
  filters: [number, number, number, number];
  /** Residual units per stage (5 in model.py). */
  unitsPerStage: number;
  /** Standardise each image inside the model, as their graph does (tf.image.per_image_standardization). */
  perImageStandardization: boolean;
}

export const MADRY_WRN_DEFAULTS: MadryWideResNetConfig = {
  numClasses: 10,
  inChannels: 3,
  filters: [16, 160, 320, 640],
  unitsPerStage: 5,
  perImageStandardization: true,
};

/** model.py's leaky ReLU slope, used after every batch norm. */
const LEAKINESS = 0.1;
/** tf.contrib.layers.batch_norm's defaults in model.py: epsilon 0.001, decay 0.9 (PyTorch's momentum 0.1). */
const TF_BN = { eps: 1e-3, momentum: 0.1 };

/**
 * model.py's pre-activation residual unit (names follow its variable scopes):
 * BN → leaky ReLU → 3×3 conv (strided) → BN → leaky ReLU → 3×3 conv, added to
 * the shortcut. The shortcut takes the activated input in the first unit of the
 * network ("activate_before_residual") and the raw input elsewhere; where the
 * width changes it is average-pooled by the stride and zero-padded equally on
 * both sides of the channels (no parameters). Convolutions pad as TF's 'SAME'.
 */
export class WideResidualUnit extends Module {
  init_bn: BatchNorm2d;
  conv1: Conv2d;
  bn2: BatchNorm2d;
  conv2: Conv2d;

  constructor(
    readonly inFilters: number,
    readonly outFilters: number,
    readonly stride: number,
    readonly activateBeforeResidual: boolean,
  ) {
    super();
    this.init_bn = new BatchNorm2d(inFilters, TF_BN);
    // Stride 1 'SAME' padding is symmetric and left to the convolution; stride 2 pads in forward.
    this.conv1 = new Conv2d(inFilters, outFilters, 3, { stride, padding: stride === 1 ? 1 : 0, bias: false });
    this.bn2 = new BatchNorm2d(outFilters, TF_BN);
    this.conv2 = conv3x3(outFilters, outFilters);
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const activated = this.init_bn.forward(x).leakyRelu(LEAKINESS);
      let h = this.conv1.forward(this.stride === 1 ? activated : padSame(activated, 3, this.stride)); // (N, out, H/s, W/s)
      h = this.conv2.forward(this.bn2.forward(h).leakyRelu(LEAKINESS));
      return h.add(this.shortcut(this.activateBeforeResidual ? activated : x));
    });
  }

  private shortcut(x: Tensor): Tensor {
    if (this.inFilters === this.outFilters) return x;
    const pooled = this.stride === 1 ? x : F.avgPool2d(x, this.stride); // (N, in, H/s, W/s)
    const side = (this.outFilters - this.inFilters) / 2;
    return pad(pooled, [0, 0, 0, 0, side, side]); // (N, out, H/s, W/s)
  }

  protected override extraRepr(): string {
    return `in_filters=${this.inFilters}, out_filters=${this.outFilters}, stride=${this.stride}, activate_before_residual=${this.activateBeforeResidual ? 'True' : 'False'}`;
  }
}

/** Pads (N, C, H, W) as TF's 'SAME' convolution would before a `kernel`×`kernel` convolution of `stride`. */
function padSame(x: Tensor, kernel: number, stride: number): Tensor {
  const [top, bottom] = tfSamePadding(x.shape[2], kernel, stride);
  const [left, right] = tfSamePadding(x.shape[3], kernel, stride);
  return pad(x, [left, right, top, bottom]);
}

/**
 * The CIFAR-10 model of Madry et al. (2018), "Towards Deep Learning Models
 * Resistant to Adversarial Attacks" (MadryLab/cifar10_challenge, model.py):
 * per-image standardisation, a 3×3 convolution with 16 filters, three stages
 * of 5 pre-activation units (160, 320, 640 filters; stages 2 and 3 stride 2),
 * a final BN and leaky ReLU, global average pooling and a linear layer.
 * Property names follow model.py's variable scopes (init_conv, unit_1.0.init_bn,
 * unit_last's final_bn, logit) so their checkpoint converts by renaming; their
 * HWIO kernels and [in, out] logit weight need transposing.
 * Inputs [N, 3, H, W] with H, W multiples of 4 (32×32 in the paper), any
 * scale (their pipeline feeds 0–255); outputs logits [N, numClasses].
 */
export class MadryWideResNet extends Module {
  readonly config: MadryWideResNetConfig;
  init_conv: Conv2d;
  unit_1: Sequential;
  unit_2: Sequential;
  unit_3: Sequential;
  final_bn: BatchNorm2d;
  logit: Linear;

  constructor(config: Partial<MadryWideResNetConfig> = {}) {
    super();
    this.config = resolveConfig('MadryWideResNet', MADRY_WRN_DEFAULTS, config);
    const { numClasses, inChannels, filters, unitsPerStage } = this.config;
    checkPositiveInt('MadryWideResNet', 'numClasses', numClasses);
    checkPositiveInt('MadryWideResNet', 'inChannels', inChannels);
    checkPositiveInt('MadryWideResNet', 'unitsPerStage', unitsPerStage);
    if (!Array.isArray(filters) || filters.length !== 4) throw new TypeError(`MadryWideResNet: filters must be 4 numbers, got ${JSON.stringify(filters)}`);
    filters.forEach((f, i) => checkPositiveInt('MadryWideResNet', `filters[${i}]`, f));
    for (let i = 0; i < 3; i++) {
      const growth = filters[i + 1] - filters[i];
      // The shortcut pads (out − in)/2 zero channels on each side; stages 2 and 3 must also subsample it.
      if (growth < 0 || growth % 2 !== 0 || (i > 0 && growth === 0))
        throw new RangeError(`MadryWideResNet: each stage must widen by an even number of filters (stages 2 and 3 by at least 2), got ${JSON.stringify(filters)}`);
    }
    this.init_conv = conv3x3(inChannels, filters[0]);
    const stage = (i: number, stride: number): Sequential => {
      const units = [new WideResidualUnit(filters[i], filters[i + 1], stride, i === 0)];
      for (let u = 1; u < unitsPerStage; u++) units.push(new WideResidualUnit(filters[i + 1], filters[i + 1], 1, false));
      return new Sequential(...units);
    };
    this.unit_1 = stage(0, 1);
    this.unit_2 = stage(1, 2);
    this.unit_3 = stage(2, 2);
    this.final_bn = new BatchNorm2d(filters[3], TF_BN);
    this.logit = new Linear(filters[3], numClasses);
    // model.py's initialisers: convolutions normal with std √(2/(k²·out)), i.e. He
    // fan-out; the logit weight TF's uniform_unit_scaling (±√(3/in)); biases 0.
    initConvolutions(this);
    init.uniform_(this.logit.weight, -Math.sqrt(3 / filters[3]), Math.sqrt(3 / filters[3]));
    init.zeros_(this.logit.bias!);
  }

  forward(x: Tensor): Tensor {
    checkImages('MadryWideResNet', x, this.config.inChannels, 4);
    return scope(() => this.forwardHead(this.forwardFeatures(x)));
  }

  /** (N, C, H, W) → (N, filters[3], H/4, W/4), after the final BN and leaky ReLU. */
  forwardFeatures(x: Tensor): Tensor {
    return scope(() => {
      const input = this.config.perImageStandardization ? perImageStandardization(x) : x;
      let h = this.init_conv.forward(input); // (N, 16, H, W)
      h = this.unit_1.forward(h); // (N, 160, H, W)
      h = this.unit_2.forward(h); // (N, 320, H/2, W/2)
      h = this.unit_3.forward(h); // (N, 640, H/4, W/4)
      return this.final_bn.forward(h).leakyRelu(LEAKINESS);
    });
  }

  /** Features (N, C, h, w) → logits (N, numClasses). */
  forwardHead(features: Tensor): Tensor {
    return scope(() => this.logit.forward(features.mean([2, 3])));
  }
}

// ---------------------------------------------------------------- builders

/** The residual block of an ImageNet ResNet: two 3×3 convolutions, or 1×1 → 3×3 → 1×1 with 4× expansion. */
export type ResNetBlockKind = 'BasicBlock' | 'Bottleneck';

/** He et al.'s Table 1: the block and the blocks per stage of each ImageNet depth. */
const IMAGENET_RESNETS = {
  resnet18: { block: 'BasicBlock', layers: [2, 2, 2, 2] },
  resnet34: { block: 'BasicBlock', layers: [3, 4, 6, 3] },
  resnet50: { block: 'Bottleneck', layers: [3, 4, 6, 3] },
  resnet101: { block: 'Bottleneck', layers: [3, 4, 23, 3] },
  resnet152: { block: 'Bottleneck', layers: [3, 8, 36, 3] },
} as const satisfies Record<string, { block: ResNetBlockKind; layers: readonly [number, number, number, number] }>;

type ImageNetResNetName = keyof typeof IMAGENET_RESNETS;

function imagenetResNet(name: ImageNetResNetName, config: Partial<ResNetConfig>): ResNet {
  const { block, layers } = IMAGENET_RESNETS[name];
  return new ResNet(block === 'BasicBlock' ? BasicBlock : Bottleneck, layers, config);
}

/** ResNet-18: BasicBlock × [2, 2, 2, 2]; 11,689,512 parameters with 1000 classes. */
export function resnet18(config: Partial<ResNetConfig> = {}): ResNet {
  return imagenetResNet('resnet18', config);
}

/** ResNet-34: BasicBlock × [3, 4, 6, 3]; 21,797,672 parameters. */
export function resnet34(config: Partial<ResNetConfig> = {}): ResNet {
  return imagenetResNet('resnet34', config);
}

/** ResNet-50: Bottleneck × [3, 4, 6, 3]; 25,557,032 parameters. */
export function resnet50(config: Partial<ResNetConfig> = {}): ResNet {
  return imagenetResNet('resnet50', config);
}

/** ResNet-101: Bottleneck × [3, 4, 23, 3]; 44,549,160 parameters. */
export function resnet101(config: Partial<ResNetConfig> = {}): ResNet {
  return imagenetResNet('resnet101', config);
}

/** ResNet-152: Bottleneck × [3, 8, 36, 3]; 60,192,808 parameters. */
export function resnet152(config: Partial<ResNetConfig> = {}): ResNet {
  return imagenetResNet('resnet152', config);
}

// 2 per channel: γ and β.
const bnParameters = (channels: number) => 2 * channels;

/**
 * The number of learnable parameters of an ImageNet ResNet, without building
 * it: stem, blocks with a projection wherever the shape changes, classifier
 * (ResNet-50: 25,557,032, as torchvision counts).
 */
export function resnetParameterCount(block: ResNetBlockKind, layers: readonly [number, number, number, number], config: Partial<ResNetConfig> = {}): number {
  const { numClasses, inChannels } = { ...RESNET_DEFAULTS, ...config };
  const expansion = block === 'BasicBlock' ? 1 : 4;
  let count = 49 * inChannels * 64 + bnParameters(64);
  let inPlanes = 64;
  [64, 128, 256, 512].forEach((planes, stage) => {
    const outPlanes = planes * expansion;
    for (let i = 0; i < layers[stage]; i++) {
      count +=
        block === 'BasicBlock'
          ? 9 * inPlanes * planes + bnParameters(planes) + 9 * planes * planes + bnParameters(planes)
          : inPlanes * planes + bnParameters(planes) + 9 * planes * planes + bnParameters(planes) + planes * outPlanes + bnParameters(outPlanes);
      const stride = stage > 0 && i === 0 ? 2 : 1;
      if (stride !== 1 || inPlanes !== outPlanes) count += inPlanes * outPlanes + bnParameters(outPlanes);
      inPlanes = outPlanes;
    }
  });
  return count + inPlanes * numClasses + numClasses;
}

/**
 * The number of learnable parameters of a CIFAR ResNet or plain network,
 * without building it (ResNet-20 with option A: 269,722; option A and plain
 * networks have no shortcut weights, option B adds 1×1 projections with BN).
 */
export function cifarResNetParameterCount(config: Partial<CifarResNetConfig> = {}): number {
  const { depth, numClasses, inChannels, shortcut } = { ...CIFAR_RESNET_DEFAULTS, ...config };
  const n = (depth - 2) / 6;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`cifarResNetParameterCount: depth must be 6n + 2 with n ≥ 1, got ${depth}`);
  let count = 9 * inChannels * 16 + bnParameters(16);
  let inPlanes = 16;
  for (const planes of [16, 32, 64]) {
    for (let i = 0; i < n; i++) {
      count += 9 * inPlanes * planes + bnParameters(planes) + 9 * planes * planes + bnParameters(planes);
      if (shortcut === 'B' && inPlanes !== planes) count += inPlanes * planes + bnParameters(planes);
      inPlanes = planes;
    }
  }
  return count + 64 * numClasses + numClasses;
}

/**
 * The number of learnable parameters of Madry et al.'s wide ResNet, without
 * building it: per unit BN(in), 3×3 in→out, BN(out), 3×3 out→out (shortcuts
 * have no weights); the final BN and the classifier.
 */
export function madryWideResNetParameterCount(config: Partial<MadryWideResNetConfig> = {}): number {
  const { numClasses, inChannels, filters, unitsPerStage } = { ...MADRY_WRN_DEFAULTS, ...config };
  const unit = (i: number, o: number) => bnParameters(i) + 9 * i * o + bnParameters(o) + 9 * o * o;
  let count = 9 * inChannels * filters[0];
  for (let stage = 1; stage < 4; stage++) count += unit(filters[stage - 1], filters[stage]) + (unitsPerStage - 1) * unit(filters[stage], filters[stage]);
  return count + bnParameters(filters[3]) + filters[3] * numClasses + numClasses;
}

export type CifarBuilderConfig = Partial<Omit<CifarResNetConfig, 'depth'>>;
export type PlainBuilderConfig = Partial<Omit<CifarResNetConfig, 'depth' | 'shortcut' | 'zeroInitResidual'>>;

/** Rejects options that a named builder fixes itself, rather than overriding them silently. */
function rejectFixed(builder: string, config: object, fixed: string[]): void {
  for (const key of fixed) if (key in config) throw new TypeError(`${builder}: option '${key}' is fixed by this builder`);
}

function cifarBuilder(depth: number): (config?: CifarBuilderConfig) => CifarResNet {
  return (config = {}) => {
    rejectFixed(`resnet${depth}`, config, ['depth']);
    return new CifarResNet({ ...config, depth });
  };
}

function plainBuilder(depth: number): (config?: PlainBuilderConfig) => CifarResNet {
  return (config = {}) => {
    rejectFixed(`plain${depth}`, config, ['depth', 'shortcut', 'zeroInitResidual']);
    return new CifarResNet({ ...config, depth, shortcut: 'none' });
  };
}

/** CIFAR ResNet-20 (n = 3); 269,722 parameters with option A shortcuts. */
export const resnet20 = cifarBuilder(20);
/** CIFAR ResNet-32 (n = 5). */
export const resnet32 = cifarBuilder(32);
/** CIFAR ResNet-44 (n = 7). */
export const resnet44 = cifarBuilder(44);
/** CIFAR ResNet-56 (n = 9). */
export const resnet56 = cifarBuilder(56);
/** CIFAR ResNet-110 (n = 18). */
export const resnet110 = cifarBuilder(110);
/** Plain 20-layer CIFAR network: ResNet-20 without shortcuts. */
export const plain20 = plainBuilder(20);
export const plain32 = plainBuilder(32);
export const plain44 = plainBuilder(44);
export const plain56 = plainBuilder(56);
export const plain110 = plainBuilder(110);

/** Madry et al.'s CIFAR-10 wide ResNet (w28-10 filters, 5 units per stage). */
export function madryWideResNet(config: Partial<MadryWideResNetConfig> = {}): MadryWideResNet {
  return new MadryWideResNet(config);
}

// ---------------------------------------------------------------- registry entries

const IMAGENET_NORMALIZATION = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/** Per-channel mean and standard deviation of the CIFAR-10 training images in [0, 1]. */
const CIFAR10_NORMALIZATION = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

const CIFAR_DEPTHS = [20, 32, 44, 56, 110];

/** Every network of this file, for the registry. */
export const RESNET_MODELS: ClassifierEntry[] = [
  ...(Object.keys(IMAGENET_RESNETS) as ImageNetResNetName[]).map((name): ClassifierEntry => {
    const { block, layers } = IMAGENET_RESNETS[name];
    return {
      name,
      description: `ImageNet ${name.replace('resnet', 'ResNet-')} of He et al. (2016), torchvision 0.14 layout (${block} ×[${layers.join(', ')}], v1.5 strides)`,
      build: (options) => imagenetResNet(name, options as Partial<ResNetConfig>),
      config: { block, layers, ...RESNET_DEFAULTS },
      parameterCount: resnetParameterCount(block, layers),
      inputSize: [3, 224, 224],
      numClasses: 1000,
      normalization: IMAGENET_NORMALIZATION,
      task: 'image-classification',
      recipe: 'resnet',
    };
  }),
  ...CIFAR_DEPTHS.map((depth): ClassifierEntry => ({
    name: `resnet${depth}`,
    description: `CIFAR-10 ResNet-${depth} of He et al. (2016), Section 4.2 (option A shortcuts by default)`,
    build: (options) => cifarBuilder(depth)(options as CifarBuilderConfig),
    config: { ...CIFAR_RESNET_DEFAULTS, depth },
    parameterCount: cifarResNetParameterCount({ depth }),
    inputSize: [3, 32, 32],
    numClasses: 10,
    normalization: CIFAR10_NORMALIZATION,
    task: 'image-classification',
    recipe: 'resnet',
  })),
  ...CIFAR_DEPTHS.map((depth): ClassifierEntry => ({
    name: `plain${depth}`,
    description: `CIFAR-10 plain ${depth}-layer network of He et al. (2016): ResNet-${depth} without shortcuts`,
    build: (options) => plainBuilder(depth)(options as PlainBuilderConfig),
    config: { ...CIFAR_RESNET_DEFAULTS, depth, shortcut: 'none' },
    parameterCount: cifarResNetParameterCount({ depth, shortcut: 'none' }),
    inputSize: [3, 32, 32],
    numClasses: 10,
    normalization: CIFAR10_NORMALIZATION,
    task: 'image-classification',
    recipe: 'resnet',
  })),
  {
    name: 'madry-wrn',
    description: 'CIFAR-10 wide ResNet of Madry et al. (2018), cifar10_challenge model.py: filters 16/160/320/640, 5 pre-activation units per stage',
    build: (options) => madryWideResNet(options as Partial<MadryWideResNetConfig>),
    config: MADRY_WRN_DEFAULTS,
    parameterCount: madryWideResNetParameterCount(),
    inputSize: [3, 32, 32],
    numClasses: 10,
    // The model standardises each image itself.
    normalization: null,
    task: 'image-classification',
    recipe: 'resnet',
  },
];
