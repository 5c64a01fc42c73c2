// Image transforms for training and evaluation, on whole batches [N, C, H, W]
// at once: each is a handful of libtorch ops, never a loop over pixels.
//
// Randomness: every random transform takes an optional `rng`. Given one (a
// DataLoader hands its `transform` a generator of its own for each batch),
// the draws come from it; otherwise they come from libtorch's default
// generator, so `manualSeed` makes them repeat and `getRngState` saves them.
// Only a few numbers per image are drawn (offsets, flips, sizes); the pixels
// are moved by libtorch.
import { arange, cat, pad, rand, scope, stack, tensor, where, Tensor } from '../tensor/index.js';
import { interpolate } from '../nn/functional.js';
import type { Random } from './random.js';

/** Where a random transform draws from; libtorch's default generator unless `rng` is given. */
export interface RandomOptions {
  rng?: Random;
}

type Size = number | readonly [number, number];

function size2(name: string, size: Size): [number, number] {
  const pair: [number, number] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  if (!pair.every((s) => Number.isInteger(s) && s >= 1)) throw new RangeError(`${name}: size must be a positive integer or a pair of them, got ${JSON.stringify(size)}`);
  return pair;
}

function checkBatch(name: string, x: Tensor): [number, number, number, number] {
  if (!(x instanceof Tensor)) throw new TypeError(`${name}: expected a Tensor of images [N, C, H, W]`);
  if (x.ndim !== 4) throw new RangeError(`${name}: expected a batch of images [N, C, H, W], got ${x.describe()}`);
  return x.shape as [number, number, number, number];
}

function checkFloat(name: string, x: Tensor): void {
  if (!x.dtype.startsWith('float') && x.dtype !== 'bfloat16') throw new TypeError(`${name}: expected floating-point images, got ${x.describe()}; convert with .float() (and scale to [0, 1]) first`);
}

/** `highs.length` integers, the i-th uniform on [0, highs[i]). */
function drawInts(highs: readonly number[], rng: Random | undefined): number[] {
  if (rng !== undefined) return highs.map((h) => rng.int(h));
  const u = drawUniform(highs.length, undefined);
  return highs.map((h, i) => Math.min(h - 1, Math.floor(u[i] * h)));
}

/** n numbers uniform on [0, 1). */
function drawUniform(n: number, rng: Random | undefined): Float64Array {
  if (rng !== undefined) return Float64Array.from({ length: n }, () => rng.float());
  return scope(() => rand([n], { dtype: 'float64' }).toTypedArray()) as Float64Array;
}

// ---- normalisation ---------------------------------------------------------------------

/** Per-channel mean and standard deviation (population, correction 0) over images [N, C, H, W]. */
export function channelStats(images: Tensor): { mean: number[]; std: number[] } {
  checkBatch('channelStats', images);
  checkFloat('channelStats', images);
  return scope(() => ({
    mean: Array.from(images.mean([0, 2, 3]).toTypedArray() as Float32Array),
    std: Array.from(images.std([0, 2, 3], { correction: 0 }).toTypedArray() as Float32Array),
  }));
}

/**
 * (x − mean[c]) / std[c] for every channel c of images [..., C, H, W], as
 * torchvision's `Normalize`: inputs with zero mean and unit variance, as
 * "Efficient BackProp" (LeCun, Bottou, Orr & Müller, 1998) recommends. E.g.
 * MNIST's mean 0.1307 and std 0.3081 (see `channelStats`), or the ImageNet
 * statistics of torchvision's pretrained models.
 */
export function normalize(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  if (!(x instanceof Tensor) || x.ndim < 3) throw new RangeError(`normalize: expected images [..., C, H, W], got ${x instanceof Tensor ? x.describe() : typeof x}`);
  checkFloat('normalize', x);
  const channels = x.shape[x.ndim - 3];
  if (mean.length !== channels || std.length !== channels)
    throw new RangeError(`normalize: images ${x.describe()} have ${channels} channels but mean has ${mean.length} values and std ${std.length}`);
  if (std.some((s) => !(s > 0))) throw new RangeError(`normalize: every std must be positive, got [${std.join(', ')}]`);
  return scope(() => {
    const m = tensor(mean as number[], { dtype: x.dtype, device: x.device }).view(channels, 1, 1);
    const s = tensor(std as number[], { dtype: x.dtype, device: x.device }).view(channels, 1, 1);
    return x.sub(m).div(s);
  });
}

/** The mean image [C, H, W] of a training set [N, C, H, W], for `subtractPixelMean`. */
export function pixelMean(images: Tensor): Tensor {
  checkBatch('pixelMean', images);
  checkFloat('pixelMean', images);
  return images.mean(0);
}

/**
 * Subtracts the training set's mean image from every image: the per-pixel
 * mean subtraction of AlexNet (Krizhevsky, Sutskever & Hinton, 2012) that
 * ResNet (He et al., 2016, §4.2) uses on CIFAR-10.
 */
export function subtractPixelMean(x: Tensor, mean: Tensor): Tensor {
  const [, c, h, w] = checkBatch('subtractPixelMean', x);
  checkFloat('subtractPixelMean', x);
  if (!(mean instanceof Tensor) || mean.ndim !== 3 || mean.shape[0] !== c || mean.shape[1] !== h || mean.shape[2] !== w)
    throw new RangeError(`subtractPixelMean: the mean image must be [${c}, ${h}, ${w}] for images ${x.describe()}, got ${mean instanceof Tensor ? mean.describe() : typeof mean}`);
  return x.sub(mean);
}

// ---- flips and crops ---------------------------------------------------------------------

/** Mirrors images left to right. */
export function horizontalFlip(x: Tensor): Tensor {
  checkBatch('horizontalFlip', x);
  return x.flip(-1);
}

/**
 * Mirrors each image left to right with probability p (0.5 unless stated),
 * independently: the flip augmentation of AlexNet (Krizhevsky et al., 2012),
 * used by ResNet on CIFAR-10 and ImageNet.
 */
export function randomHorizontalFlip(x: Tensor, options: RandomOptions & { p?: number } = {}): Tensor {
  const [n] = checkBatch('randomHorizontalFlip', x);
  const p = options.p ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`);
  const u = drawUniform(n, options.rng);
  return scope(() => {
    const mask = tensor(Array.from(u, (v) => v < p), { device: x.device }).view(n, 1, 1, 1);
    return where(mask, x.flip(-1), x);
  });
}

/**
 * Pads every side with `padding` zeros and cuts a size×size crop at a random
 * place, a different one per image: with size 32 and padding 4 this is the
 * CIFAR-10 augmentation of Deeply-Supervised Nets (Lee et al., 2015) that
 * ResNet (He et al., 2016, §4.2) follows.
 */
export function randomCrop(x: Tensor, size: Size, options: RandomOptions & { padding?: number } = {}): Tensor {
  const [n, c, h, w] = checkBatch('randomCrop', x);
  const [ch, cw] = size2('randomCrop', size);
  const p = options.padding ?? 0;
  if (!Number.isInteger(p) || p < 0) throw new RangeError(`randomCrop: padding must be a non-negative integer, got ${p}`);
  const [ph, pw] = [h + 2 * p, w + 2 * p];
  if (ch > ph || cw > pw) throw new RangeError(`randomCrop: a ${ch}×${cw} crop does not fit images of ${h}×${w} padded by ${p}`);
  const tops = drawInts(new Array<number>(n).fill(ph - ch + 1), options.rng);
  const lefts = drawInts(new Array<number>(n).fill(pw - cw + 1), options.rng);
  return scope(() => {
    const device = x.device;
    const padded = p > 0 ? pad(x, [p, p, p, p]) : x;
    // Two gathers: first the crop's rows of each image, then its columns.
    const rows = tensor(tops, { dtype: 'int64', device }).view(n, 1, 1, 1).add(arange(ch, { device }).view(1, 1, ch, 1));
    const strip = padded.gather(2, rows.expand(n, c, ch, pw)); // [N, C, ch, pw]
    const cols = tensor(lefts, { dtype: 'int64', device }).view(n, 1, 1, 1).add(arange(cw, { device }).view(1, 1, 1, cw));
    return strip.gather(3, cols.expand(n, c, ch, cw)); // [N, C, ch, cw]
  });
}

// The crop of [.., H, W] images at (top, left).
function cropAt(x: Tensor, top: number, left: number, height: number, width: number): Tensor {
  return scope(() => x.narrow(-2, top, height).narrow(-1, left, width));
}

/** The central size×size crop; the offset is ⌊(H − size)/2⌋ (torchvision rounds half to even, which can differ by a pixel). */
export function centerCrop(x: Tensor, size: Size): Tensor {
  const [, , h, w] = checkBatch('centerCrop', x);
  const [ch, cw] = size2('centerCrop', size);
  if (ch > h || cw > w) throw new RangeError(`centerCrop: a ${ch}×${cw} crop does not fit images of ${h}×${w}`);
  return scope(() => cropAt(x, Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw).contiguous());
}

/**
 * The ten crops of evaluation: the four corners and the centre, then the
 * same five of the mirrored image, as [N, 10, C, size, size] (average the
 * model's outputs over dimension 1). This is AlexNet's test-time
 * augmentation (Krizhevsky et al., 2012), the "standard 10-crop testing" of
 * ResNet (He et al., 2016, §3.4); the order follows torchvision's TenCrop.
 */
export function tenCrop(x: Tensor, size: Size): Tensor {
  const [, , h, w] = checkBatch('tenCrop', x);
  const [ch, cw] = size2('tenCrop', size);
  if (ch > h || cw > w) throw new RangeError(`tenCrop: a ${ch}×${cw} crop does not fit images of ${h}×${w}`);
  const five = (img: Tensor) => [
    cropAt(img, 0, 0, ch, cw),
    cropAt(img, 0, w - cw, ch, cw),
    cropAt(img, h - ch, 0, ch, cw),
    cropAt(img, h - ch, w - cw, ch, cw),
    cropAt(img, Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw),
  ];
  return scope(() => stack([...five(x), ...five(x.flip(-1))], 1));
}

export interface ScaleAugmentationOptions extends RandomOptions {
  /** The shorter side is resized to an integer drawn uniformly from [minSize, maxSize]; 256 unless stated. */
  minSize?: number;
  /** 480 unless stated. */
  maxSize?: number;
  /** The side of the square crop cut at random from the resized image; 224 unless stated. */
  cropSize?: number;
}

/**
 * Scale augmentation: each image's shorter side is resized (bilinear,
 * `interpolate`) to a random length in [256, 480], keeping the aspect ratio,
 * and a random 224×224 crop is cut from it — VGG's multi-scale training
 * (Simonyan & Zisserman, 2015) as ResNet uses it on ImageNet (He et al.,
 * 2016, §3.4). Images are a float batch [N, C, H, W] or a list of [C, H, W]
 * of different sizes. Each image has its own scale, so the resize runs once
 * per image (a libtorch op each); the crops are then joined into [N, C, crop, crop].
 */
export function scaleAugmentation(images: Tensor | readonly Tensor[], options: ScaleAugmentationOptions = {}): Tensor {
  const minSize = options.minSize ?? 256;
  const maxSize = options.maxSize ?? 480;
  const crop = options.cropSize ?? 224;
  for (const [name, v] of [['minSize', minSize], ['maxSize', maxSize], ['cropSize', crop]] as const)
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`scaleAugmentation: ${name} must be a positive integer, got ${v}`);
  if (minSize > maxSize) throw new RangeError(`scaleAugmentation: minSize ${minSize} is larger than maxSize ${maxSize}`);
  if (crop > minSize) throw new RangeError(`scaleAugmentation: a ${crop}×${crop} crop does not fit a shorter side of ${minSize}`);
  const list = images instanceof Tensor ? null : images;
  if (images instanceof Tensor) checkBatch('scaleAugmentation', images);
  else if (!Array.isArray(list) || list.length === 0) throw new TypeError('scaleAugmentation: expected a batch [N, C, H, W] or a non-empty array of [C, H, W] images');
  return scope(() => {
    const items = list ?? (images as Tensor).unbind(0);
    items.forEach((img, i) => {
      if (!(img instanceof Tensor) || img.ndim !== 3) throw new RangeError(`scaleAugmentation: image ${i} must be [C, H, W], got ${img instanceof Tensor ? img.describe() : typeof img}`);
      checkFloat('scaleAugmentation', img);
    });
    const sides = drawInts(new Array<number>(items.length).fill(maxSize - minSize + 1), options.rng).map((s) => s + minSize);
    const resized = items.map((img, i) => {
      const [, h, w] = img.shape;
      const s = sides[i];
      const size: [number, number] = h <= w ? [s, Math.round((w * s) / h)] : [Math.round((h * s) / w), s];
      return interpolate(img.unsqueeze(0), { size, mode: 'bilinear', alignCorners: false });
    });
    const tops = drawInts(resized.map((r) => r.shape[2] - crop + 1), options.rng);
    const lefts = drawInts(resized.map((r) => r.shape[3] - crop + 1), options.rng);
    return cat(resized.map((r, i) => cropAt(r, tops[i], lefts[i], crop, crop)), 0);
  });
}

// ---- random resized crops --------------------------------------------------------------

export interface RandomResizedCropOptions extends RandomOptions {
  /** Range of the crop's area as a fraction of the image's (torchvision: [0.08, 1]; MAE pre-training: [0.2, 1]). */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio, width/height, drawn log-uniformly (default [3/4, 4/3]). */
  ratio?: readonly [number, number];
}

/**
 * torchvision's RandomResizedCrop on a batch, a different crop per image: a
 * box of random area and aspect ratio (up to 10 draws, as torchvision's
 * get_params, then the central crop of the closest allowed ratio), resized
 * bilinearly (align_corners false, no antialiasing) to size. The resize is
 * separable, so each image is two small matrix products, Rows·X·Colsᵀ, done
 * for the whole batch by two batched matmuls.
 */
export function randomResizedCrop(x: Tensor, size: Size, options: RandomResizedCropOptions = {}): Tensor {
  const [n, , h, w] = checkBatch('randomResizedCrop', x);
  checkFloat('randomResizedCrop', x);
  const [oh, ow] = size2('randomResizedCrop', size);
  const scale = options.scale ?? [0.08, 1];
  const ratio = options.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new RangeError(`randomResizedCrop: scale must be [lo, hi] with 0 < lo <= hi <= 1, got ${JSON.stringify(scale)}`);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new RangeError(`randomResizedCrop: ratio must be [lo, hi] with 0 < lo <= hi, got ${JSON.stringify(ratio)}`);
  const rows = new Float32Array(n * oh * h);
  const cols = new Float32Array(n * ow * w);
  for (let i = 0; i < n; i++) {
    const [top, left, ch, cw] = cropBox(h, w, scale, ratio, options.rng);
    resizeWeights(rows, i * oh * h, top, ch, h, oh);
    resizeWeights(cols, i * ow * w, left, cw, w, ow);
  }
  return scope(() => {
    const R = tensor(rows, { shape: [n, 1, oh, h], device: x.device }).to(x.dtype);
    const Cm = tensor(cols, { shape: [n, 1, ow, w], device: x.device }).to(x.dtype);
    return R.matmul(x).matmul(Cm.transpose(-2, -1)); // [N, 1, oh, H]·[N, C, H, W]·[N, 1, W, ow] → [N, C, oh, ow]
  });
}

// torchvision's RandomResizedCrop.get_params: (top, left, height, width) of one crop.
function cropBox(h: number, w: number, scale: readonly [number, number], ratio: readonly [number, number], rng: Random | undefined): [number, number, number, number] {
  const area = h * w;
  const [logLo, logHi] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const [u1, u2] = drawUniform(2, rng);
    const target = area * (scale[0] + (scale[1] - scale[0]) * u1);
    const aspect = Math.exp(logLo + (logHi - logLo) * u2);
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      const [top, left] = drawInts([h - ch + 1, w - cw + 1], rng);
      return [top, left, ch, cw];
    }
  }
  const inRatio = w / h;
  const [ch, cw] = inRatio < ratio[0] ? [Math.round(w / ratio[0]), w] : inRatio > ratio[1] ? [h, Math.round(h * ratio[1])] : [h, w];
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

// Bilinear weights (align_corners false) from `length` source pixels starting at `start` of `full` to `out` pixels, as rows of an out×full matrix at `offset`.
function resizeWeights(into: Float32Array, offset: number, start: number, length: number, full: number, out: number): void {
  const step = length / out;
  for (let o = 0; o < out; o++) {
    const src = Math.max(0, (o + 0.5) * step - 0.5);
    const i0 = Math.min(Math.floor(src), length - 1);
    const i1 = Math.min(i0 + 1, length - 1);
    const lambda = src - i0;
    into[offset + o * full + start + i0] += 1 - lambda;
    into[offset + o * full + start + i1] += lambda;
  }
}
