// The Swin Transformer (Liu et al., 2021, "Swin Transformer: Hierarchical
// Vision Transformer using Shifted Windows"), module for module torchvision
// 0.14's `swin_transformer.py`, so state-dict keys, shapes, initialisation and
// outputs are torchvision's: a 4×4 patch embedding (features.0), stages of
// blocks that alternate window attention and shifted-window attention
// (features.1, .3, …), patch merging between stages (features.2, .4, …), a
// final norm, average pooling and a linear head. The windowed attention
// itself is the pure function in ./swin-windows.ts.
import { empty } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import { cat } from '../tensor/ops.js';
import * as F from '../nn/functional.js';
import * as init from '../nn/init.js';
import { AdaptiveAvgPool2d, Conv2d, Dropout, Flatten, GELU, LayerNorm, Linear, StochasticDepth } from '../nn/layers.js';
import { Sequential } from '../nn/container.js';
import { Buffer, Module, Parameter } from '../nn/module.js';
import type { ClassifierEntry } from './registry.js';
import { relativePositionBias, relativePositionIndex, shiftedWindowAttention, type Pair } from './swin-windows.js';

export interface SwinConfig {
  /** Height and width of the patches the stem cuts the image into (4×4 in the paper). */
  patchSize: Pair;
  /** C: channels of the first stage; stage i has C·2^i. */
  embedDim: number;
  /** Blocks per stage (Swin-T: 2, 2, 6, 2). */
  depths: readonly number[];
  /** Attention heads per stage (Swin-T: 3, 6, 12, 24); each must divide its stage's channels. */
  numHeads: readonly number[];
  /** M: window height and width in tokens (7 in the paper); blocks with odd index shift by ⌊M/2⌋. */
  windowSize: Pair;
  /** Hidden width of each block's MLP relative to its channels. */
  mlpRatio: number;
  /** Dropout after the attention projection and in the MLPs. */
  dropout: number;
  /** Dropout on the attention weights. */
  attentionDropout: number;
  /** Stochastic depth rate of the last block; block k of K drops with rate·k/(K−1). */
  stochasticDepthProb: number;
  numClasses: number;
  /** Image channels (torchvision fixes 3; 1 for MNIST). */
  inChannels: number;
}

/** torchvision's SwinTransformer defaults; a preset supplies the architecture. */
export const SWIN_DEFAULTS: Pick<SwinConfig, 'patchSize' | 'windowSize' | 'mlpRatio' | 'dropout' | 'attentionDropout' | 'stochasticDepthProb' | 'numClasses' | 'inChannels'> = {
  patchSize: [4, 4],
  windowSize: [7, 7],
  mlpRatio: 4,
  dropout: 0,
  attentionDropout: 0,
  stochasticDepthProb: 0.1,
  numClasses: 1000,
  inChannels: 3,
};

/** The paper's (and torchvision's) ImageNet models, and two small ones for MNIST and CIFAR-10. */
export const SWIN_PRESETS = {
  /** Swin-T: torchvision's swin_t, 28,288,354 parameters. */
  swin_t: { ...SWIN_DEFAULTS, embedDim: 96, depths: [2, 2, 6, 2], numHeads: [3, 6, 12, 24], stochasticDepthProb: 0.2 },
  /** Swin-S: torchvision's swin_s. */
  swin_s: { ...SWIN_DEFAULTS, embedDim: 96, depths: [2, 2, 18, 2], numHeads: [3, 6, 12, 24], stochasticDepthProb: 0.3 },
  /** Swin-B: torchvision's swin_b. */
  swin_b: { ...SWIN_DEFAULTS, embedDim: 128, depths: [2, 2, 18, 2], numHeads: [4, 8, 16, 32], stochasticDepthProb: 0.5 },
  /**
   * Swin-L: the paper's C = 192, layers {2, 2, 18, 2}, heads {6, 12, 24, 48}
   * (not in torchvision 0.14); stochastic depth 0.5 as for Swin-B.
   */
  swin_l: { ...SWIN_DEFAULTS, embedDim: 192, depths: [2, 2, 18, 2], numHeads: [6, 12, 24, 48], stochasticDepthProb: 0.5 },
  /**
   * MNIST padded to 1×32×32: 4×4 patches give 8×8 tokens, two 4×4 windows a
   * side (shift 2); merging gives 4×4, one window, so stage 2 does not shift.
   * (2×2 patches of the 28×28 digit, 14×14 tokens at C = 32, cost 1.6× as much
   * per step and learnt far slower: 27% against 90% test accuracy after two
   * minutes of training, the same in torchvision.)
   */
  swin_tiny_mnist: { ...SWIN_DEFAULTS, patchSize: [4, 4], embedDim: 64, depths: [2, 2], numHeads: [2, 4], windowSize: [4, 4], numClasses: 10, inChannels: 1 },
  /**
   * CIFAR-10, 3×32×32: 2×2 patches give 16×16 tokens in 4×4 windows (shift 2),
   * then 8×8 (2×2 windows, shifted) and 4×4 (one window).
   */
  swin_tiny_cifar: { ...SWIN_DEFAULTS, patchSize: [2, 2], embedDim: 48, depths: [2, 2, 2], numHeads: [3, 6, 12], windowSize: [4, 4], numClasses: 10 },
} satisfies Record<string, SwinConfig>;

export type SwinPresetName = keyof typeof SWIN_PRESETS;

function checkConfig(config: SwinConfig): void {
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`SwinTransformer: ${name} must be a positive integer, got ${v}`);
  };
  for (const [name, pair] of [['patchSize', config.patchSize], ['windowSize', config.windowSize]] as const) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new RangeError(`SwinTransformer: ${name} must be [height, width], got ${JSON.stringify(pair)}`);
    pair.forEach((v) => positive(name, v));
  }
  positive('embedDim', config.embedDim);
  positive('numClasses', config.numClasses);
  positive('inChannels', config.inChannels);
  if (config.depths.length === 0 || config.depths.length !== config.numHeads.length)
    throw new RangeError(`SwinTransformer: depths ${JSON.stringify(config.depths)} and numHeads ${JSON.stringify(config.numHeads)} must be non-empty and of equal length`);
  config.depths.forEach((d) => positive('depths', d));
  config.numHeads.forEach((h, i) => {
    positive('numHeads', h);
    const dim = config.embedDim * 2 ** i;
    if (dim % h !== 0) throw new RangeError(`SwinTransformer: stage ${i} has ${dim} channels, which ${h} heads do not divide`);
  });
  for (const [name, p] of [['dropout', config.dropout], ['attentionDropout', config.attentionDropout], ['stochasticDepthProb', config.stochasticDepthProb]] as const)
    if (!(p >= 0 && p <= 1)) throw new RangeError(`SwinTransformer: ${name} must be in [0, 1], got ${p}`);
  if (!(config.mlpRatio > 0)) throw new RangeError(`SwinTransformer: mlpRatio must be positive, got ${config.mlpRatio}`);
}

/** Permutes dimensions (torchvision's ops.Permute), to move channels last and back. */
export class Permute extends Module {
  constructor(readonly dims: readonly number[]) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.permute(this.dims);
  }
}


/** W-MSA or SW-MSA with its weights: qkv, proj and the relative position bias table (M² pairs of offsets). */
export class ShiftedWindowAttention extends Module {
  readonly windowSize: Pair;
  readonly shiftSize: Pair;
  readonly numHeads: number;
  readonly attentionDropout: number;
  readonly dropout: number;
  relative_position_bias_table: Parameter; // ((2Mh−1)(2Mw−1), heads)
  relative_position_index: Buffer; // int64 ((Mh·Mw)²), persistent as in torchvision 0.14
  qkv: Linear;
  proj: Linear;

  constructor(dim: number, windowSize: Pair, shiftSize: Pair, numHeads: number, options: { attentionDropout?: number; dropout?: number } = {}) {
    super();
    this.windowSize = windowSize;
    this.shiftSize = shiftSize;
    this.numHeads = numHeads;
    this.attentionDropout = options.attentionDropout ?? 0;
    this.dropout = options.dropout ?? 0;
    this.relative_position_bias_table = Parameter.adopt(empty([(2 * windowSize[0] - 1) * (2 * windowSize[1] - 1), numHeads]));
    init.truncNormal_(this.relative_position_bias_table, { std: 0.02 });
    this.relative_position_index = Buffer.adopt(relativePositionIndex(windowSize));
    this.qkv = new Linear(dim, 3 * dim);
    this.proj = new Linear(dim, dim);
  }

  /** x: [B, H, W, C] → [B, H, W, C] */
  forward(x: Tensor): Tensor {
    return scope(() =>
      shiftedWindowAttention(
        x,
        {
          qkvWeight: this.qkv.weight,
          qkvBias: this.qkv.bias,
          projWeight: this.proj.weight,
          projBias: this.proj.bias,
          relativePositionBias: relativePositionBias(this.relative_position_bias_table, this.relative_position_index, this.windowSize),
        },
        { window: this.windowSize, shift: this.shiftSize, numHeads: this.numHeads, attentionDropout: this.attentionDropout, dropout: this.dropout, training: this.training },
      ),
    );
  }

  protected override extraRepr(): string {
    return `window_size=[${this.windowSize.join(', ')}], shift_size=[${this.shiftSize.join(', ')}], num_heads=${this.numHeads}`;
  }
}

/** One Swin block: x + SD(attn(norm1(x))), then x + SD(mlp(norm2(x))); channels last. */
export class SwinTransformerBlock extends Module {
  norm1: LayerNorm;
  attn: ShiftedWindowAttention;
  stochastic_depth: StochasticDepth;
  norm2: LayerNorm;
  mlp: Sequential; // Linear(C, rC), GELU, Dropout, Linear(rC, C), Dropout: keys mlp.0 and mlp.3

  constructor(dim: number, numHeads: number, windowSize: Pair, shiftSize: Pair, options: { mlpRatio: number; dropout: number; attentionDropout: number; stochasticDepthProb: number }) {
    super();
    this.norm1 = new LayerNorm(dim, { eps: 1e-5 });
    this.attn = new ShiftedWindowAttention(dim, windowSize, shiftSize, numHeads, options);
    this.stochastic_depth = new StochasticDepth(options.stochasticDepthProb);
    this.norm2 = new LayerNorm(dim, { eps: 1e-5 });
    const hidden = Math.trunc(dim * options.mlpRatio);
    this.mlp = new Sequential(new Linear(dim, hidden), new GELU(), new Dropout(options.dropout), new Linear(hidden, dim), new Dropout(options.dropout));
  }

  /** x: [B, H, W, C] → [B, H, W, C] */
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = x.add(this.stochastic_depth.forward(this.attn.forward(this.norm1.forward(x))));
      return h.add(this.stochastic_depth.forward(this.mlp.forward(this.norm2.forward(h))));
    });
  }
}

/**
 * Concatenates each 2×2 neighbourhood (padding odd sizes with zeros at the
 * bottom and right), normalises and projects 4C → 2C without bias.
 * torchvision's order of the four: (even row, even col), (odd, even), (even, odd), (odd, odd).
 */
export class PatchMerging extends Module {
  reduction: Linear;
  norm: LayerNorm;

  constructor(readonly dim: number) {
    super();
    this.reduction = new Linear(4 * dim, 2 * dim, { bias: false });
    this.norm = new LayerNorm(4 * dim, { eps: 1e-5 });
  }

  /** x: [B, H, W, C] → [B, ⌈H/2⌉, ⌈W/2⌉, 2C] */
  forward(x: Tensor): Tensor {
    return scope(() => {
      const [, H, W] = x.shape;
      const padded = F.pad(x, [0, 0, 0, W % 2, 0, H % 2]);
      const at = (row: number, col: number) => padded.slice(1, row, null, 2).slice(2, col, null, 2); // (B, H/2, W/2, C)
      const merged = cat([at(0, 0), at(1, 0), at(0, 1), at(1, 1)], -1); // (B, H/2, W/2, 4C)
      return this.reduction.forward(this.norm.forward(merged));
    });
  }
}

/** The Swin Transformer classifier, with torchvision's module tree and weight names. */
export class SwinTransformer extends Module {
  readonly config: SwinConfig;
  features: Sequential;
  norm: LayerNorm;
  permute: Permute;
  avgpool: AdaptiveAvgPool2d;
  flatten: Flatten;
  head: Linear;

  constructor(config: SwinConfig) {
    super();
    checkConfig(config);
    this.config = { ...config, patchSize: [config.patchSize[0], config.patchSize[1]], windowSize: [config.windowSize[0], config.windowSize[1]], depths: [...config.depths], numHeads: [...config.numHeads] };
    const { patchSize, embedDim, depths, numHeads, windowSize } = this.config;
    const layers: Module[] = [
      // Patch partition and linear embedding in one strided convolution; channels go last.
      new Sequential(new Conv2d(this.config.inChannels, embedDim, [patchSize[0], patchSize[1]], { stride: [patchSize[0], patchSize[1]] }), new Permute([0, 2, 3, 1]), new LayerNorm(embedDim, { eps: 1e-5 })),
    ];
    const totalBlocks = depths.reduce((a, b) => a + b, 0);
    let blockId = 0;
    depths.forEach((depth, stage) => {
      const dim = embedDim * 2 ** stage;
      const blocks: Module[] = [];
      for (let i = 0; i < depth; i++, blockId++) {
        // Linear decay from 0 at the first block to the configured rate at the last
        // (torchvision divides by zero for a single block; that block keeps rate 0 here).
        const rate = totalBlocks > 1 ? (this.config.stochasticDepthProb * blockId) / (totalBlocks - 1) : 0;
        const shift: Pair = i % 2 === 0 ? [0, 0] : [Math.floor(windowSize[0] / 2), Math.floor(windowSize[1] / 2)];
        blocks.push(new SwinTransformerBlock(dim, numHeads[stage], windowSize, shift, { mlpRatio: this.config.mlpRatio, dropout: this.config.dropout, attentionDropout: this.config.attentionDropout, stochasticDepthProb: rate }));
      }
      layers.push(new Sequential(...blocks));
      if (stage < depths.length - 1) layers.push(new PatchMerging(dim));
    });
    this.features = new Sequential(...layers);
    const numFeatures = embedDim * 2 ** (depths.length - 1);
    this.norm = new LayerNorm(numFeatures, { eps: 1e-5 });
    this.permute = new Permute([0, 3, 1, 2]);
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.flatten = new Flatten(1);
    this.head = new Linear(numFeatures, this.config.numClasses);
    // torchvision's last word on every Linear, the blocks' MLPs included.
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        init.truncNormal_(m.weight, { std: 0.02 });
        if (m.bias !== null) init.zeros_(m.bias);
      }
    }
  }

  private checkInput(x: Tensor): void {
    if (!(x instanceof Tensor)) throw new TypeError(`SwinTransformer: expected a Tensor, got ${describeValue(x)}`);
    const { inChannels, patchSize } = this.config;
    if (x.ndim !== 4 || x.shape[1] !== inChannels)
      throw new RangeError(`SwinTransformer: expected images [N, ${inChannels}, H, W], got ${x.describe()}`);
    if (x.shape[2] < patchSize[0] || x.shape[3] < patchSize[1])
      throw new RangeError(`SwinTransformer: image ${x.shape[2]}×${x.shape[3]} is smaller than one ${patchSize[0]}×${patchSize[1]} patch (input ${x.describe()})`);
  }

  /** images [N, C, H, W] → final features [N, H/(p·2^(S−1)), W/(…), C·2^(S−1)], normalised. */
  forwardFeatures(x: Tensor): Tensor {
    this.checkInput(x);
    return scope(() => this.norm.forward(this.features.forward(x)));
  }

  /** features [N, h, w, C'] → logits [N, classes] */
  forwardHead(features: Tensor): Tensor {
    return scope(() => this.head.forward(this.flatten.forward(this.avgpool.forward(this.permute.forward(features)))));
  }

  /** images [N, C, H, W] → logits [N, classes] */
  forward(x: Tensor): Tensor {
    return scope(() => this.forwardHead(this.forwardFeatures(x)));
  }
}

/** The number of learnable parameters of a Swin configuration, without building it. */
export function swinParameterCount(config: SwinConfig): number {
  checkConfig(config);
  const { patchSize, embedDim, depths, numHeads, windowSize, mlpRatio, numClasses, inChannels } = config;
  const layerNorm = (d: number) => 2 * d;
  const linear = (i: number, o: number, bias = true) => i * o + (bias ? o : 0);
  let count = inChannels * embedDim * patchSize[0] * patchSize[1] + embedDim + layerNorm(embedDim);
  const tableRows = (2 * windowSize[0] - 1) * (2 * windowSize[1] - 1);
  depths.forEach((depth, stage) => {
    const d = embedDim * 2 ** stage;
    const hidden = Math.trunc(d * mlpRatio);
    const block = layerNorm(d) + tableRows * numHeads[stage] + linear(d, 3 * d) + linear(d, d) + layerNorm(d) + linear(d, hidden) + linear(hidden, d);
    count += depth * block;
    if (stage < depths.length - 1) count += layerNorm(4 * d) + linear(4 * d, 2 * d, false);
  });
  const numFeatures = embedDim * 2 ** (depths.length - 1);
  return count + layerNorm(numFeatures) + linear(numFeatures, numClasses);
}

/** Builds a Swin Transformer from a full configuration. */
export function swinTransformer(config: SwinConfig): SwinTransformer {
  return new SwinTransformer(config);
}

function preset(name: SwinPresetName, overrides: Partial<SwinConfig>): SwinTransformer {
  return new SwinTransformer({ ...SWIN_PRESETS[name], ...overrides });
}

/** Swin-T (torchvision's swin_t): C = 96, depths 2, 2, 6, 2. */
export function swinT(overrides: Partial<SwinConfig> = {}): SwinTransformer {
  return preset('swin_t', overrides);
}

/** Swin-S (torchvision's swin_s): C = 96, depths 2, 2, 18, 2. */
export function swinS(overrides: Partial<SwinConfig> = {}): SwinTransformer {
  return preset('swin_s', overrides);
}

/** Swin-B (torchvision's swin_b): C = 128, depths 2, 2, 18, 2. */
export function swinB(overrides: Partial<SwinConfig> = {}): SwinTransformer {
  return preset('swin_b', overrides);
}

/** Swin-L (the paper's; not in torchvision 0.14): C = 192, depths 2, 2, 18, 2. */
export function swinL(overrides: Partial<SwinConfig> = {}): SwinTransformer {
  return preset('swin_l', overrides);
}

/** A two-stage Swin for MNIST padded to 1×32×32. */
export function swinTinyMnist(overrides: Partial<SwinConfig> = {}): SwinTransformer {
  return preset('swin_tiny_mnist', overrides);
}

/** A three-stage Swin for CIFAR-10 (3×32×32). */
export function swinTinyCifar(overrides: Partial<SwinConfig> = {}): SwinTransformer {
  return preset('swin_tiny_cifar', overrides);
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

const DESCRIPTIONS: Record<SwinPresetName, string> = {
  swin_t: 'Swin-T of Liu et al. (2021), torchvision swin_t: C=96, depths 2-2-6-2, window 7, ImageNet 224x224',
  swin_s: 'Swin-S of Liu et al. (2021), torchvision swin_s: C=96, depths 2-2-18-2, window 7, ImageNet 224x224',
  swin_b: 'Swin-B of Liu et al. (2021), torchvision swin_b: C=128, depths 2-2-18-2, window 7, ImageNet 224x224',
  swin_l: 'Swin-L of Liu et al. (2021): C=192, depths 2-2-18-2, heads 6-12-24-48, window 7, ImageNet 224x224',
  swin_tiny_mnist: 'Small Swin for MNIST padded to 32x32: patch 4, C=64, depths 2-2, window 4 (8x8 then 4x4 tokens)',
  swin_tiny_cifar: 'Small Swin for CIFAR-10: patch 2, C=48, depths 2-2-2, window 4 (16x16, 8x8, 4x4 tokens)',
};

const INPUTS: Record<SwinPresetName, { inputSize: [number, number, number]; normalization: ClassifierEntry['normalization'] }> = {
  swin_t: { inputSize: [3, 224, 224], normalization: IMAGENET },
  swin_s: { inputSize: [3, 224, 224], normalization: IMAGENET },
  swin_b: { inputSize: [3, 224, 224], normalization: IMAGENET },
  swin_l: { inputSize: [3, 224, 224], normalization: IMAGENET },
  // The small models take raw [0, 1] pixels, the attacks' input range.
  swin_tiny_mnist: { inputSize: [1, 32, 32], normalization: null },
  swin_tiny_cifar: { inputSize: [3, 32, 32], normalization: null },
};

/** Registry entries for every Swin preset (registered by ./registry.ts). */
export const SWIN_MODELS: ClassifierEntry[] = (Object.keys(SWIN_PRESETS) as SwinPresetName[]).map((name) => ({
  name,
  description: DESCRIPTIONS[name],
  build: (options?: Record<string, unknown>) => preset(name, (options ?? {}) as Partial<SwinConfig>),
  config: SWIN_PRESETS[name],
  parameterCount: swinParameterCount(SWIN_PRESETS[name]),
  inputSize: INPUTS[name].inputSize,
  numClasses: SWIN_PRESETS[name].numClasses,
  normalization: INPUTS[name].normalization,
  task: 'image-classification',
  recipe: 'swin',
}));
