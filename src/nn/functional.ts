// The neural-network functions of `torch.nn.functional`, over libtorch's
// kernels (and so libtorch's gradients). Options are PyTorch's keyword
// arguments in camelCase.
import { aten } from '../tensor/native.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import { type DType, dtypeCode } from '../tensor/dtype.js';
import { scope } from '../tensor/scope.js';
import { empty } from '../tensor/creation.js';

export { pad, oneHot } from '../tensor/ops.js';

const op = {
  linear: aten('linear'),
  conv2d: aten('conv2d'),
  convTranspose2d: aten('conv_transpose2d', 'input'),
  maxPool2d: aten('max_pool2d'),
  maxPool2dWithIndices: aten('max_pool2d_with_indices'),
  avgPool2d: aten('avg_pool2d'),
  adaptiveAvgPool2d: aten('adaptive_avg_pool2d'),
  batchNorm: aten('batch_norm'),
  layerNorm: aten('layer_norm'),
  groupNorm: aten('group_norm'),
  dropout: aten('dropout'),
  embedding: aten('embedding'),
  softmax: aten('softmax', 'int'),
  logSoftmax: aten('log_softmax', 'int'),
  crossEntropy: aten('cross_entropy_loss'),
  nllLoss: aten('nll_loss_nd'),
  mseLoss: aten('mse_loss'),
  l1Loss: aten('l1_loss'),
  smoothL1Loss: aten('smooth_l1_loss'),
  bce: aten('binary_cross_entropy'),
  bceWithLogits: aten('binary_cross_entropy_with_logits'),
  klDiv: aten('kl_div'),
  nearest: aten('upsample_nearest2d', 'vec'),
  bilinear: aten('upsample_bilinear2d', 'vec'),
  bicubic: aten('upsample_bicubic2d', 'vec'),
  bilinearAntialias: aten('_upsample_bilinear2d_aa', 'vec'),
  bicubicAntialias: aten('_upsample_bicubic2d_aa', 'vec'),
  im2col: aten('im2col'),
  col2im: aten('col2im'),
  cosineSimilarity: aten('cosine_similarity'),
};

export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reduction(name: string, value: string | undefined, allowed: readonly string[] = ['none', 'mean', 'sum']): number {
  const r = value ?? 'mean';
  if (!allowed.includes(r)) throw new TypeError(`${name}: reduction must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${r}'`);
  return REDUCTIONS[r as Reduction];
}

function tensor(name: string, value: unknown): Tensor {
  if (value instanceof Tensor) return value;
  throw new TypeError(`${name}: expected a Tensor, got ${describeValue(value)}`);
}

function optional(name: string, value: Tensor | null | undefined): number | null {
  return value == null ? null : tensor(name, value).handle;
}

function expectDims(name: string, input: Tensor, dims: readonly number[], what: string): void {
  if (!dims.includes(input.ndim)) throw new RangeError(`${name}: expected ${what}, got ${input.describe()}`);
}

type Pair = number | readonly [number, number];

function pair(name: string, option: string, value: Pair, minimum: number): [number, number] {
  const p: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if (!Array.isArray(value) && typeof value !== 'number') throw new TypeError(`${name}: ${option} must be an integer or a pair of integers`);
  for (const v of p) {
    if (!Number.isInteger(v) || v < minimum) throw new RangeError(`${name}: ${option} must be integers >= ${minimum}, got ${JSON.stringify(value)}`);
  }
  return p;
}

/** y = x Wᵀ + b, with W of shape [out, in] as in PyTorch. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  tensor('linear', input);
  const w = tensor('linear: weight', weight);
  if (w.ndim !== 2) throw new RangeError(`linear: weight must be 2-D [out, in], got ${w.describe()}`);
  if (input.ndim === 0 || input.shape[input.ndim - 1] !== w.shape[1])
    throw new RangeError(`linear: input ${input.describe()} has last dimension ${input.shape[input.ndim - 1]} but weight ${w.describe()} expects ${w.shape[1]}`);
  return new Tensor(op.linear(input.handle, w.handle, optional('linear: bias', bias)));
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution over [N, C, H, W] (or [C, H, W]) with weight [out, in/groups, kH, kW]. */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  expectDims('conv2d', tensor('conv2d', input), [3, 4], 'a 3-D [C, H, W] or 4-D [N, C, H, W] input');
  const w = tensor('conv2d: weight', weight);
  if (w.ndim !== 4) throw new RangeError(`conv2d: weight must be 4-D [out, in/groups, kH, kW], got ${w.describe()}`);
  const groups = options.groups ?? 1;
  const channels = input.shape[input.ndim - 3];
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`conv2d: groups must be a positive integer, got ${groups}`);
  if (channels !== w.shape[1] * groups)
    throw new RangeError(`conv2d: input ${input.describe()} has ${channels} channels but weight ${w.describe()} with groups=${groups} expects ${w.shape[1] * groups}`);
  return new Tensor(
    op.conv2d(input.handle, w.handle, optional('conv2d: bias', bias), pair('conv2d', 'stride', options.stride ?? 1, 1), pair('conv2d', 'padding', options.padding ?? 0, 0), pair('conv2d', 'dilation', options.dilation ?? 1, 1), groups),
  );
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/** Transposed 2-D convolution with weight [in, out/groups, kH, kW]. */
export function convTranspose2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  expectDims('convTranspose2d', tensor('convTranspose2d', input), [3, 4], 'a 3-D [C, H, W] or 4-D [N, C, H, W] input');
  const w = tensor('convTranspose2d: weight', weight);
  if (w.ndim !== 4) throw new RangeError(`convTranspose2d: weight must be 4-D [in, out/groups, kH, kW], got ${w.describe()}`);
  const groups = options.groups ?? 1;
  return new Tensor(
    op.convTranspose2d(
      input.handle,
      w.handle,
      optional('convTranspose2d: bias', bias),
      pair('convTranspose2d', 'stride', options.stride ?? 1, 1),
      pair('convTranspose2d', 'padding', options.padding ?? 0, 0),
      pair('convTranspose2d', 'outputPadding', options.outputPadding ?? 0, 0),
      groups,
      pair('convTranspose2d', 'dilation', options.dilation ?? 1, 1),
    ),
  );
}

export interface Pool2dOptions {
  /** Defaults to the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: Pool2dOptions & { dilation?: Pair } = {}): Tensor {
  expectDims('maxPool2d', tensor('maxPool2d', input), [3, 4], 'a 3-D or 4-D input');
  const k = pair('maxPool2d', 'kernelSize', kernelSize, 1);
  return new Tensor(op.maxPool2d(input.handle, k, pair('maxPool2d', 'stride', options.stride ?? k, 1), pair('maxPool2d', 'padding', options.padding ?? 0, 0), pair('maxPool2d', 'dilation', options.dilation ?? 1, 1), options.ceilMode ?? false));
}

/** Max pooling that also returns where each maximum came from. */
export function maxPool2dWithIndices(input: Tensor, kernelSize: Pair, options: Pool2dOptions & { dilation?: Pair } = {}): { values: Tensor; indices: Tensor } {
  expectDims('maxPool2d', tensor('maxPool2d', input), [3, 4], 'a 3-D or 4-D input');
  const k = pair('maxPool2d', 'kernelSize', kernelSize, 1);
  const [values, indices] = op.maxPool2dWithIndices(input.handle, k, pair('maxPool2d', 'stride', options.stride ?? k, 1), pair('maxPool2d', 'padding', options.padding ?? 0, 0), pair('maxPool2d', 'dilation', options.dilation ?? 1, 1), options.ceilMode ?? false);
  return { values: new Tensor(values), indices: new Tensor(indices) };
}

export function avgPool2d(input: Tensor, kernelSize: Pair, options: Pool2dOptions & { countIncludePad?: boolean; divisorOverride?: number } = {}): Tensor {
  expectDims('avgPool2d', tensor('avgPool2d', input), [3, 4], 'a 3-D or 4-D input');
  const k = pair('avgPool2d', 'kernelSize', kernelSize, 1);
  return new Tensor(op.avgPool2d(input.handle, k, pair('avgPool2d', 'stride', options.stride ?? k, 1), pair('avgPool2d', 'padding', options.padding ?? 0, 0), options.ceilMode ?? false, options.countIncludePad ?? true, options.divisorOverride ?? null));
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  expectDims('adaptiveAvgPool2d', tensor('adaptiveAvgPool2d', input), [3, 4], 'a 3-D or 4-D input');
  return new Tensor(op.adaptiveAvgPool2d(input.handle, pair('adaptiveAvgPool2d', 'outputSize', outputSize, 1)));
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalisation over dimension 1. In training mode it normalises by the
 * batch statistics and updates the running ones in place (momentum 0.1).
 */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  tensor('batchNorm', input);
  if (input.ndim < 2) throw new RangeError(`batchNorm: expected an input with at least 2 dimensions [N, C, ...], got ${input.describe()}`);
  const training = options.training ?? false;
  if (training && input.numel() / input.shape[1] <= 1)
    throw new RangeError(`batchNorm: expected more than 1 value per channel when training, got input ${input.describe()}`);
  if (!training && (runningMean === null || runningVar === null)) throw new TypeError('batchNorm: running statistics are required in evaluation mode');
  return new Tensor(op.batchNorm(input.handle, optional('batchNorm: weight', options.weight), optional('batchNorm: bias', options.bias), optional('batchNorm: runningMean', runningMean), optional('batchNorm: runningVar', runningVar), training, options.momentum ?? 0.1, options.eps ?? 1e-5, false));
}

/** Layer normalisation over the trailing `normalizedShape` dimensions. */
export function layerNorm(input: Tensor, normalizedShape: readonly number[], options: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {}): Tensor {
  tensor('layerNorm', input);
  const tail = input.shape.slice(input.ndim - normalizedShape.length);
  if (normalizedShape.length > input.ndim || tail.some((d, i) => d !== normalizedShape[i]))
    throw new RangeError(`layerNorm: normalizedShape [${normalizedShape.join(', ')}] does not match the trailing dimensions of input ${input.describe()}`);
  return new Tensor(op.layerNorm(input.handle, normalizedShape, optional('layerNorm: weight', options.weight), optional('layerNorm: bias', options.bias), options.eps ?? 1e-5, false));
}

export function groupNorm(input: Tensor, numGroups: number, options: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {}): Tensor {
  tensor('groupNorm', input);
  if (input.ndim < 2 || input.shape[1] % numGroups !== 0)
    throw new RangeError(`groupNorm: ${numGroups} groups do not divide the ${input.shape[1]} channels of input ${input.describe()}`);
  return new Tensor(op.groupNorm(input.handle, numGroups, optional('groupNorm: weight', options.weight), optional('groupNorm: bias', options.bias), options.eps ?? 1e-5, false));
}

/** Zeroes elements with probability p and scales the rest by 1/(1−p), when training. */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  tensor('dropout', input);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: probability has to be between 0 and 1, got ${p}`);
  return new Tensor(op.dropout(input.handle, p, training));
}

/** Looks up rows of `weight` [numEmbeddings, dim] by int64 indices. */
export function embedding(input: Tensor, weight: Tensor, options: { paddingIdx?: number | null } = {}): Tensor {
  tensor('embedding', input);
  const w = tensor('embedding: weight', weight);
  if (input.dtype !== 'int64' && input.dtype !== 'int32') throw new TypeError(`embedding: indices must be int64 or int32, got ${input.describe()}`);
  if (w.ndim !== 2) throw new RangeError(`embedding: weight must be 2-D [numEmbeddings, dim], got ${w.describe()}`);
  // libtorch takes -1 for "no padding row" and checks nothing, so PyTorch's rule
  // (negative counts from the end, out of range is an error) is applied here.
  const rows = w.shape[0];
  let paddingIdx = options.paddingIdx ?? null;
  if (paddingIdx !== null) {
    if (!Number.isInteger(paddingIdx) || paddingIdx < -rows || paddingIdx >= rows)
      throw new RangeError(`embedding: paddingIdx must be an integer within [${-rows}, ${rows - 1}] for weight ${w.describe()}, got ${paddingIdx}`);
    if (paddingIdx < 0) paddingIdx += rows;
  }
  return new Tensor(op.embedding(w.handle, input.handle, paddingIdx ?? -1, false, false));
}

export function softmax(input: Tensor, dim: number, options: { dtype?: DType } = {}): Tensor {
  return new Tensor(op.softmax(tensor('softmax', input).handle, dim, options.dtype === undefined ? null : dtypeCode(options.dtype)));
}

export function logSoftmax(input: Tensor, dim: number, options: { dtype?: DType } = {}): Tensor {
  return new Tensor(op.logSoftmax(tensor('logSoftmax', input).handle, dim, options.dtype === undefined ? null : dtypeCode(options.dtype)));
}

export interface CrossEntropyOptions {
  /** A weight per class. */
  weight?: Tensor | null;
  reduction?: Reduction;
  /** Targets equal to this index contribute nothing (class-index targets only). */
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution: the true class gets 1 − ε + ε/C (Szegedy et al.; the Transformer uses ε = 0.1). */
  labelSmoothing?: number;
}

/**
 * Cross-entropy between logits [N, C, ...] and class indices [N, ...] (int64)
 * or class probabilities of the logits' shape.
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  tensor('crossEntropy', input);
  tensor('crossEntropy: target', target);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  checkClassTarget('crossEntropy', input, target);
  return new Tensor(op.crossEntropy(input.handle, target.handle, optional('crossEntropy: weight', options.weight), reduction('crossEntropy', options.reduction), options.ignoreIndex ?? -100, smoothing));
}

function checkClassTarget(name: string, input: Tensor, target: Tensor): void {
  if (target.dtype === 'int64') {
    const expected = input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
    if (target.ndim !== expected.length || target.shape.some((d, i) => d !== expected[i]))
      throw new RangeError(`${name}: class-index target ${target.describe()} does not match input ${input.describe()}; expected shape [${expected.join(', ')}]`);
  } else if (target.dtype.startsWith('float') || target.dtype === 'bfloat16') {
    if (name !== 'crossEntropy') throw new TypeError(`${name}: target must hold int64 class indices, got ${target.describe()}`);
    if (!target.shape.every((d, i) => d === input.shape[i]) || target.ndim !== input.ndim)
      throw new RangeError(`${name}: a probability target must have the input's shape ${input.describe()}, got ${target.describe()}`);
  } else {
    throw new TypeError(`${name}: target must be int64 class indices${name === 'crossEntropy' ? ' or float probabilities' : ''}, got ${target.describe()}`);
  }
}

/** Negative log-likelihood of log-probabilities [N, C, ...] at int64 class indices. */
export function nllLoss(input: Tensor, target: Tensor, options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  tensor('nllLoss', input);
  tensor('nllLoss: target', target);
  checkClassTarget('nllLoss', input, target);
  return new Tensor(op.nllLoss(input.handle, target.handle, optional('nllLoss: weight', options.weight), reduction('nllLoss', options.reduction), options.ignoreIndex ?? -100));
}

function checkSameShape(name: string, input: Tensor, target: Tensor): void {
  tensor(name, input);
  tensor(`${name}: target`, target);
  if (input.ndim !== target.ndim || input.shape.some((d, i) => d !== target.shape[i]))
    throw new RangeError(`${name}: input ${input.describe()} and target ${target.describe()} must have the same shape`);
}

export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkSameShape('mseLoss', input, target);
  return new Tensor(op.mseLoss(input.handle, target.handle, reduction('mseLoss', options.reduction)));
}

export function l1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkSameShape('l1Loss', input, target);
  return new Tensor(op.l1Loss(input.handle, target.handle, reduction('l1Loss', options.reduction)));
}

export function smoothL1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction; beta?: number } = {}): Tensor {
  checkSameShape('smoothL1Loss', input, target);
  return new Tensor(op.smoothL1Loss(input.handle, target.handle, reduction('smoothL1Loss', options.reduction), options.beta ?? 1));
}

/** Binary cross-entropy of probabilities in [0, 1]. */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: { weight?: Tensor | null; reduction?: Reduction } = {}): Tensor {
  checkSameShape('binaryCrossEntropy', input, target);
  return new Tensor(op.bce(input.handle, target.handle, optional('binaryCrossEntropy: weight', options.weight), reduction('binaryCrossEntropy', options.reduction)));
}

/** Binary cross-entropy of logits, computed stably; `posWeight` weighs positives per class. */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {}): Tensor {
  checkSameShape('binaryCrossEntropyWithLogits', input, target);
  return new Tensor(op.bceWithLogits(input.handle, target.handle, optional('binaryCrossEntropyWithLogits: weight', options.weight), optional('binaryCrossEntropyWithLogits: posWeight', options.posWeight), reduction('binaryCrossEntropyWithLogits', options.reduction)));
}

/**
 * KL(target ‖ input) with `input` log-probabilities; 'batchmean' divides the
 * sum by the batch size, which is the mathematically correct KL.
 */
export function klDiv(input: Tensor, target: Tensor, options: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Tensor {
  checkSameShape('klDiv', input, target);
  const r = options.reduction ?? 'mean';
  if (r === 'batchmean') {
    return scope(() => {
      const summed = new Tensor(op.klDiv(input.handle, target.handle, REDUCTIONS.sum, options.logTarget ?? false));
      return input.ndim === 0 ? summed : summed.div(input.shape[0]);
    });
  }
  return new Tensor(op.klDiv(input.handle, target.handle, reduction('klDiv', r, ['none', 'mean', 'sum', 'batchmean']), options.logTarget ?? false));
}

export interface InterpolateOptions {
  size?: Pair;
  scaleFactor?: number | readonly [number, number];
  mode?: 'nearest' | 'bilinear' | 'bicubic';
  alignCorners?: boolean;
  /** Low-pass the image when shrinking it, as PIL does ('bilinear' and 'bicubic' only; PyTorch's `antialias`). */
  antialias?: boolean;
}

/** Resizes [N, C, H, W] images: nearest, bilinear or bicubic (PyTorch's `interpolate`). */
export function interpolate(input: Tensor, options: InterpolateOptions): Tensor {
  expectDims('interpolate', tensor('interpolate', input), [4], 'a 4-D [N, C, H, W] input');
  const mode = options.mode ?? 'nearest';
  if ((options.size === undefined) === (options.scaleFactor === undefined)) throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  const size = options.size === undefined ? null : pair('interpolate', 'size', options.size, 1);
  let scales: number[] | null = null;
  if (options.scaleFactor !== undefined) {
    scales = typeof options.scaleFactor === 'number' ? [options.scaleFactor, options.scaleFactor] : [...options.scaleFactor];
    if (scales.some((s) => !(s > 0))) throw new RangeError(`interpolate: scaleFactor must be positive, got ${JSON.stringify(options.scaleFactor)}`);
  }
  if (mode === 'nearest') {
    if (options.alignCorners !== undefined) throw new TypeError("interpolate: alignCorners only applies to 'bilinear' and 'bicubic'");
    if (options.antialias) throw new TypeError("interpolate: antialias only applies to 'bilinear' and 'bicubic'");
    return new Tensor(op.nearest(input.handle, size, scales));
  }
  if (mode !== 'bilinear' && mode !== 'bicubic') throw new TypeError(`interpolate: unknown mode '${mode}'; expected 'nearest', 'bilinear' or 'bicubic'`);
  const kernel = options.antialias ? (mode === 'bilinear' ? op.bilinearAntialias : op.bicubicAntialias) : mode === 'bilinear' ? op.bilinear : op.bicubic;
  return new Tensor(kernel(input.handle, size, options.alignCorners ?? false, scales));
}

export interface UnfoldOptions {
  dilation?: Pair;
  padding?: Pair;
  stride?: Pair;
}

/** Extracts sliding blocks: [N, C, H, W] → [N, C·kH·kW, L] (PyTorch's `unfold`, im2col). */
export function unfold(input: Tensor, kernelSize: Pair, options: UnfoldOptions = {}): Tensor {
  expectDims('unfold', tensor('unfold', input), [3, 4], 'a 3-D or 4-D input');
  return new Tensor(op.im2col(input.handle, pair('unfold', 'kernelSize', kernelSize, 1), pair('unfold', 'dilation', options.dilation ?? 1, 1), pair('unfold', 'padding', options.padding ?? 0, 0), pair('unfold', 'stride', options.stride ?? 1, 1)));
}

/** Sums sliding blocks back into an image: the adjoint of `unfold` (col2im). */
export function fold(input: Tensor, outputSize: Pair, kernelSize: Pair, options: UnfoldOptions = {}): Tensor {
  expectDims('fold', tensor('fold', input), [2, 3], 'a 2-D or 3-D input');
  return new Tensor(op.col2im(input.handle, pair('fold', 'outputSize', outputSize, 1), pair('fold', 'kernelSize', kernelSize, 1), pair('fold', 'dilation', options.dilation ?? 1, 1), pair('fold', 'padding', options.padding ?? 0, 0), pair('fold', 'stride', options.stride ?? 1, 1)));
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, options: { dim?: number; eps?: number } = {}): Tensor {
  return new Tensor(op.cosineSimilarity(tensor('cosineSimilarity', x1).handle, tensor('cosineSimilarity', x2).handle, options.dim ?? 1, options.eps ?? 1e-8));
}

/** x / max(‖x‖_p, eps) along `dim`. */
export function normalize(input: Tensor, options: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  tensor('normalize', input);
  return scope(() => input.div(input.norm(options.p ?? 2, options.dim ?? 1, { keepdim: true }).clamp(options.eps ?? 1e-12, null)));
}

export function relu(input: Tensor): Tensor {
  return tensor('relu', input).relu();
}

export function gelu(input: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return tensor('gelu', input).gelu(options);
}

export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  return tensor('leakyRelu', input).leakyRelu(negativeSlope);
}

export function softplus(input: Tensor, options: { beta?: number; threshold?: number } = {}): Tensor {
  return tensor('softplus', input).softplus(options);
}

export function sigmoid(input: Tensor): Tensor {
  return tensor('sigmoid', input).sigmoid();
}

export function tanh(input: Tensor): Tensor {
  return tensor('tanh', input).tanh();
}

/**
 * Stochastic depth (Huang et al., 2016), torchvision's 'row' mode: when
 * training, each sample's residual branch is zeroed with probability p and
 * the survivors are scaled by 1/(1−p). input: [B, …] → [B, …].
 */
export function stochasticDepth(input: Tensor, p: number, training: boolean): Tensor {
  if (!(input instanceof Tensor)) throw new TypeError(`stochasticDepth: expected a Tensor, got ${describeValue(input)}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`stochasticDepth: drop probability has to be between 0 and 1, got ${p}`);
  if (!training || p === 0) return input.view(input.shape as number[]);
  const survival = 1 - p;
  return scope(() => {
    const noise = empty([input.shape[0], ...input.shape.slice(1).map(() => 1)], { dtype: input.dtype, device: input.device }).bernoulli_(survival);
    if (survival > 0) noise.div_(survival);
    return input.mul(noise);
  });
}
