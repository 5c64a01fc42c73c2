// The basic layers of `torch.nn`, each a thin module over a function of
// ./functional.ts, initialised exactly as PyTorch initialises it.
import { empty, ones, zeros } from '../tensor/creation.js';
import { noGrad } from '../tensor/autograd.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import * as init from './init.js';
import { Buffer, Module, Parameter, pyRepr } from './module.js';

function positiveInt(layer: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${layer}: ${name} must be a positive integer, got ${value}`);
  return value;
}

function pairOf(layer: string, name: string, value: number | readonly [number, number], minimum: number): [number, number] {
  const p: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if (p.some((v) => !Number.isInteger(v) || v < minimum)) throw new RangeError(`${layer}: ${name} must be integers >= ${minimum}, got ${JSON.stringify(value)}`);
  return p;
}

function checkInput(layer: string, x: Tensor, dims: readonly number[], what: string): void {
  if (!dims.includes(x.ndim)) throw new RangeError(`${layer}: expected ${what}, got ${x.describe()}`);
}

/** Returns its input. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x.view(x.shape as number[]);
  }
}

/** y = x Wᵀ + b; weight [out, in], Kaiming-uniform (a = √5) as PyTorch, bias uniform ±1/√in. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean; dtype?: DType } = {}) {
    super();
    this.inFeatures = positiveInt('Linear', 'inFeatures', inFeatures);
    this.outFeatures = positiveInt('Linear', 'outFeatures', outFeatures);
    this.weight = Parameter.adopt(empty([outFeatures, inFeatures], { dtype: options.dtype }));
    this.bias = options.bias ?? true ? Parameter.adopt(empty([outFeatures], { dtype: options.dtype })) : null;
    this.resetParameters();
  }

  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias !== null) {
      const bound = 1 / Math.sqrt(this.inFeatures);
      init.uniform_(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }

  protected override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyRepr(this.bias !== null)}`;
  }
}

/**
 * Maxout (Goodfellow et al., 2013): `numUnits` outputs, each the maximum of
 * `numPieces` affine pieces of the input. PyTorch has no such layer; NetLab
 * stores it as one Linear map, `weight` [numUnits·numPieces, in] and `bias`
 * [numUnits·numPieces], whose rows u·numPieces … u·numPieces + numPieces − 1
 * are unit u's pieces (pylearn2's grouping of consecutive pieces). So
 * `maxout(x) = linear(x).view(N, numUnits, numPieces).amax(2)`, and a PyTorch
 * `nn.Linear(in, numUnits * numPieces)` holds the same weights under the same keys.
 * Initialised as Linear; the GAN builders overwrite it with their own ranges.
 */
export class Maxout extends Module {
  readonly inFeatures: number;
  readonly numUnits: number;
  readonly numPieces: number;
  weight: Parameter;
  bias: Parameter;

  constructor(inFeatures: number, numUnits: number, numPieces: number) {
    super();
    this.inFeatures = positiveInt('Maxout', 'inFeatures', inFeatures);
    this.numUnits = positiveInt('Maxout', 'numUnits', numUnits);
    this.numPieces = positiveInt('Maxout', 'numPieces', numPieces);
    this.weight = Parameter.adopt(empty([numUnits * numPieces, inFeatures]));
    this.bias = Parameter.adopt(empty([numUnits * numPieces]));
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    const bound = 1 / Math.sqrt(inFeatures);
    init.uniform_(this.bias, -bound, bound);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 2 || x.shape[1] !== this.inFeatures) throw new RangeError(`Maxout: expected input [N, ${this.inFeatures}], got ${x.describe()}`);
    using z = F.linear(x, this.weight, this.bias); // (N, units·pieces)
    using pieces = z.view(x.shape[0], this.numUnits, this.numPieces); // (N, units, pieces)
    return pieces.amax(2); // (N, units)
  }

  protected override extraRepr(): string {
    return `in_features=${this.inFeatures}, num_units=${this.numUnits}, num_pieces=${this.numPieces}`;
  }
}

/** Flattens dimensions startDim…endDim (by default all but the batch dimension). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }

  protected override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
  dtype?: DType;
}

// What Conv2d and ConvTranspose2d share, as PyTorch's _ConvNd: the
// geometry, its checks, the weight and bias, and their initialisation.
abstract class ConvBase extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Parameter;
  bias: Parameter | null;

  protected constructor(name: string, inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dOptions, transposed: boolean) {
    super();
    this.inChannels = positiveInt(name, 'inChannels', inChannels);
    this.outChannels = positiveInt(name, 'outChannels', outChannels);
    this.kernelSize = pairOf(name, 'kernelSize', kernelSize, 1);
    this.stride = pairOf(name, 'stride', options.stride ?? 1, 1);
    this.padding = pairOf(name, 'padding', options.padding ?? 0, 0);
    this.dilation = pairOf(name, 'dilation', options.dilation ?? 1, 1);
    this.groups = positiveInt(name, 'groups', options.groups ?? 1);
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0)
      throw new RangeError(`${name}: groups=${this.groups} must divide inChannels=${inChannels} and outChannels=${outChannels}`);
    // Conv2d stores [out, in/groups, kH, kW]; the transposed convolution [in, out/groups, kH, kW].
    const shape = transposed ? [inChannels, outChannels / this.groups, ...this.kernelSize] : [outChannels, inChannels / this.groups, ...this.kernelSize];
    this.weight = Parameter.adopt(empty(shape, { dtype: options.dtype }));
    this.bias = options.bias ?? true ? Parameter.adopt(empty([outChannels], { dtype: options.dtype })) : null;
    this.resetParameters();
  }

  /** Kaiming-uniform with a = √5 and a bias uniform on ±1/√fan_in, with PyTorch's fan-in (dimension 1 of the stored weight). */
  resetParameters(): void {
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias !== null) {
      const bound = 1 / Math.sqrt(init.calculateFanInAndFanOut(this.weight).fanIn);
      init.uniform_(this.bias, -bound, bound);
    }
  }

  protected override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=(${this.kernelSize.join(', ')}), stride=(${this.stride.join(', ')})`;
    if (this.padding.some((p) => p !== 0)) s += `, padding=(${this.padding.join(', ')})`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=(${this.dilation.join(', ')})`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ', bias=False';
    return s;
  }
}

/** 2-D convolution; weight [out, in/groups, kH, kW], initialised like Linear with fan-in in/groups·kH·kW. */
export class Conv2d extends ConvBase {
  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dOptions = {}) {
    super('Conv2d', inChannels, outChannels, kernelSize, options, false);
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/** Transposed 2-D convolution (DCGAN's generator); weight [in, out/groups, kH, kW]. */
export class ConvTranspose2d extends ConvBase {
  readonly outputPadding: [number, number];

  constructor(inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dOptions & { outputPadding?: number | [number, number] } = {}) {
    super('ConvTranspose2d', inChannels, outChannels, kernelSize, options, true);
    this.outputPadding = pairOf('ConvTranspose2d', 'outputPadding', options.outputPadding ?? 0, 0);
  }

  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation });
  }
}

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the newest batch in the running statistics; null for a cumulative average. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
  dtype?: DType;
}

abstract class BatchNorm extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Parameter | null;
  bias: Parameter | null;
  running_mean: Buffer | null;
  running_var: Buffer | null;
  num_batches_tracked: Buffer | null;

  constructor(numFeatures: number, options: BatchNormOptions) {
    super();
    this.numFeatures = positiveInt(this.constructor.name, 'numFeatures', numFeatures);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    const dtype = options.dtype;
    this.weight = this.affine ? Parameter.adopt(ones([numFeatures], { dtype })) : null;
    this.bias = this.affine ? Parameter.adopt(zeros([numFeatures], { dtype })) : null;
    this.running_mean = this.trackRunningStats ? Buffer.adopt(zeros([numFeatures], { dtype })) : null;
    this.running_var = this.trackRunningStats ? Buffer.adopt(ones([numFeatures], { dtype })) : null;
    this.num_batches_tracked = this.trackRunningStats ? Buffer.adopt(zeros([], { dtype: 'int64' })) : null;
  }

  protected abstract checkInput(x: Tensor): void;

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    let factor = this.momentum ?? 0;
    if (this.training && this.num_batches_tracked !== null) {
      const tracked = this.num_batches_tracked;
      noGrad(() => tracked.add_(1));
      if (this.momentum === null) factor = 1 / tracked.item();
    }
    // Batch statistics when training, or when there are no running ones.
    const useBatchStats = this.training || this.running_mean === null;
    const trackNow = !this.training || this.trackRunningStats;
    return F.batchNorm(x, trackNow ? this.running_mean : null, trackNow ? this.running_var : null, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: factor,
      eps: this.eps,
    });
  }

  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyRepr(this.eps)}, momentum=${pyRepr(this.momentum)}, affine=${pyRepr(this.affine)}, track_running_stats=${pyRepr(this.trackRunningStats)}`;
  }
}

/** Batch normalisation of [N, C] or [N, C, L] inputs (Ioffe & Szegedy, 2015). */
export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }

  protected checkInput(x: Tensor): void {
    checkInput('BatchNorm1d', x, [2, 3], 'a 2-D [N, C] or 3-D [N, C, L] input');
  }
}

/** Batch normalisation of [N, C, H, W] inputs, per channel (ResNet's BN). */
export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }

  protected checkInput(x: Tensor): void {
    checkInput('BatchNorm2d', x, [4], 'a 4-D [N, C, H, W] input');
  }
}

/** Layer normalisation over the trailing dimensions (Ba et al., 2016). */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(normalizedShape: number | readonly number[], options: { eps?: number; elementwiseAffine?: boolean; dtype?: DType } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.normalizedShape.forEach((d) => positiveInt('LayerNorm', 'normalizedShape', d));
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? Parameter.adopt(ones(this.normalizedShape, { dtype: options.dtype })) : null;
    this.bias = affine ? Parameter.adopt(zeros(this.normalizedShape, { dtype: options.dtype })) : null;
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  protected override extraRepr(): string {
    return `(${this.normalizedShape.join(', ')},), eps=${pyRepr(this.eps)}, elementwise_affine=${pyRepr(this.weight !== null)}`;
  }
}

/** Zeroes elements with probability p during training (Srivastava et al., 2014). */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: probability has to be between 0 and 1, got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }

  protected override extraRepr(): string {
    return `p=${this.p}, inplace=False`;
  }
}

/** A lookup table [numEmbeddings, embeddingDim], initialised N(0, 1); the padding row is zero. */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, options: { paddingIdx?: number; dtype?: DType } = {}) {
    super();
    this.numEmbeddings = positiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    this.embeddingDim = positiveInt('Embedding', 'embeddingDim', embeddingDim);
    let paddingIdx = options.paddingIdx ?? null;
    if (paddingIdx !== null) {
      if (!Number.isInteger(paddingIdx) || paddingIdx < -numEmbeddings || paddingIdx >= numEmbeddings)
        throw new RangeError(`Embedding: paddingIdx must be within [${-numEmbeddings}, ${numEmbeddings - 1}], got ${paddingIdx}`);
      if (paddingIdx < 0) paddingIdx += numEmbeddings;
    }
    this.paddingIdx = paddingIdx;
    this.weight = Parameter.adopt(empty([numEmbeddings, embeddingDim], { dtype: options.dtype }));
    this.resetParameters();
  }

  resetParameters(): void {
    init.normal_(this.weight);
    this.resetPaddingRow();
  }

  /** Zeroes the padding row (after a custom initialisation of the weight). */
  resetPaddingRow(): void {
    if (this.paddingIdx !== null) {
      const weight = this.weight;
      const row = this.paddingIdx;
      noGrad(() => {
        using padding = weight.select(0, row);
        padding.zero_();
      });
    }
  }

  forward(indices: Tensor): Tensor {
    return F.embedding(indices, this.weight, { paddingIdx: this.paddingIdx });
  }

  protected override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, padding_idx=${this.paddingIdx}`}`;
  }
}

/** max(x, 0); with `inplace`, overwrites its input (as torchvision's ResNet, saving an allocation per call). */
export class ReLU extends Module {
  constructor(readonly inplace = false) {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.inplace ? x.relu_() : x.relu();
  }

  protected override extraRepr(): string {
    return this.inplace ? 'inplace=True' : '';
  }
}

export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.gelu({ approximate: this.approximate });
  }

  protected override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }

  protected override extraRepr(): string {
    return `negative_slope=${this.negativeSlope}`;
  }
}

export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }

  protected override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;

  constructor(kernelSize: number | [number, number], options: { stride?: number | [number, number]; padding?: number | [number, number]; ceilMode?: boolean } = {}) {
    super();
    this.kernelSize = pairOf('MaxPool2d', 'kernelSize', kernelSize, 1);
    this.stride = pairOf('MaxPool2d', 'stride', options.stride ?? this.kernelSize, 1);
    this.padding = pairOf('MaxPool2d', 'padding', options.padding ?? 0, 0);
    this.ceilMode = options.ceilMode ?? false;
  }

  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode });
  }

  protected override extraRepr(): string {
    return `kernel_size=${this.kernelSize[0]}, stride=${this.stride[0]}, padding=${this.padding[0]}, dilation=1, ceil_mode=${this.ceilMode ? 'True' : 'False'}`;
  }
}

export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(kernelSize: number | [number, number], options: { stride?: number | [number, number]; padding?: number | [number, number] } = {}) {
    super();
    this.kernelSize = pairOf('AvgPool2d', 'kernelSize', kernelSize, 1);
    this.stride = pairOf('AvgPool2d', 'stride', options.stride ?? this.kernelSize, 1);
    this.padding = pairOf('AvgPool2d', 'padding', options.padding ?? 0, 0);
  }

  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }

  protected override extraRepr(): string {
    return `kernel_size=${this.kernelSize[0]}, stride=${this.stride[0]}, padding=${this.padding[0]}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number, number];

  constructor(outputSize: number | [number, number]) {
    super();
    this.outputSize = pairOf('AdaptiveAvgPool2d', 'outputSize', outputSize, 1);
  }

  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }

  protected override extraRepr(): string {
    return `output_size=(${this.outputSize.join(', ')})`;
  }
}

/** torchvision's StochasticDepth module in 'row' mode. */
export class StochasticDepth extends Module {
  readonly mode = 'row';

  constructor(readonly p: number) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`StochasticDepth: drop probability has to be between 0 and 1, got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return F.stochasticDepth(x, this.p, this.training);
  }

  protected override extraRepr(): string {
    return `p=${pyRepr(this.p)}, mode=${this.mode}`;
  }
}
