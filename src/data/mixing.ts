// Mixup (Zhang et al., "mixup: Beyond empirical risk minimization", 2018) and
// CutMix (Yun et al., 2019) as a batch transform: the regularisers Swin
// Transformer's ImageNet recipe (Liu et al., 2021, §4.1, after DeiT) trains
// with. The batch is mixed with itself in reverse order — the loader has
// already shuffled it — and the class-index labels become the same mixture
// of one-hot rows, which crossEntropy takes as probability targets (label
// smoothing, if any, is the loss's job).
import { oneHot, scope, Tensor } from '../tensor/index.js';
import type { BatchTransform } from './dataset.js';
import type { Random } from './random.js';

export interface MixingOptions {
  numClasses: number;
  /** Beta(α, α) concentration for mixup; 0 turns mixup off (Swin/DeiT: 0.8). */
  mixupAlpha?: number;
  /** Beta(α, α) concentration for CutMix; 0 turns CutMix off (Swin/DeiT: 1.0). */
  cutmixAlpha?: number;
  /** With both on, the chance that a batch gets CutMix rather than mixup (DeiT: 0.5). */
  switchProb?: number;
}

/** The mixing weight λ of the first image and, for CutMix, the pasted box. */
export interface MixDraw {
  lambda: number;
  box: { top: number; left: number; height: number; width: number } | null;
}

/**
 * Draws one batch's mixing: λ ~ Beta(α, α); for CutMix a box of area
 * (1 − λ)·H·W centred uniformly in the image and clipped to it, with λ then
 * set to the share of the image left uncovered (so the labels match the pixels).
 */
export function drawMix(rng: Random, height: number, width: number, options: MixingOptions): MixDraw {
  const mixup = options.mixupAlpha ?? 0;
  const cutmix = options.cutmixAlpha ?? 0;
  const useCutmix = cutmix > 0 && (mixup === 0 || rng.float() < (options.switchProb ?? 0.5));
  if (!useCutmix) return { lambda: rng.beta(mixup, mixup), box: null };
  const lambda = rng.beta(cutmix, cutmix);
  const ratio = Math.sqrt(1 - lambda);
  const [cutH, cutW] = [Math.floor(height * ratio), Math.floor(width * ratio)];
  const [cy, cx] = [rng.int(height), rng.int(width)];
  const top = Math.max(0, cy - Math.floor(cutH / 2));
  const left = Math.max(0, cx - Math.floor(cutW / 2));
  const boxH = Math.min(height, cy + Math.ceil(cutH / 2)) - top;
  const boxW = Math.min(width, cx + Math.ceil(cutW / 2)) - left;
  return { lambda: 1 - (boxH * boxW) / (height * width), box: { top, left, height: boxH, width: boxW } };
}

/** A DataLoader transform mixing each batch [images [N, C, H, W], labels [N]] into [images, probabilities [N, classes]]. */
export function mixupCutmix(options: MixingOptions): BatchTransform {
  const { numClasses } = options;
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new RangeError(`mixupCutmix: numClasses must be an integer >= 2, got ${numClasses}`);
  for (const key of ['mixupAlpha', 'cutmixAlpha'] as const) {
    const v = options[key] ?? 0;
    if (!(v >= 0 && Number.isFinite(v))) throw new RangeError(`mixupCutmix: ${key} must be a finite number >= 0, got ${v}`);
  }
  const p = options.switchProb ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`mixupCutmix: switchProb must be in [0, 1], got ${p}`);
  if (!(options.mixupAlpha! > 0) && !(options.cutmixAlpha! > 0)) throw new RangeError('mixupCutmix: set mixupAlpha or cutmixAlpha above 0');
  return ([images, labels, ...rest], rng) => {
    if (!(images instanceof Tensor) || images.ndim !== 4) throw new RangeError(`mixupCutmix: expected images [N, C, H, W], got ${images?.describe?.() ?? String(images)}`);
    if (!(labels instanceof Tensor) || labels.dtype !== 'int64' || labels.ndim !== 1 || labels.shape[0] !== images.shape[0])
      throw new RangeError(`mixupCutmix: expected int64 labels [${images.shape[0]}], got ${labels?.describe?.() ?? String(labels)}`);
    const [, , h, w] = images.shape;
    const { lambda, box } = drawMix(rng, h, w, options);
    return scope(() => {
      const partner = images.flip(0);
      let mixed: Tensor;
      if (box === null) {
        mixed = images.mul(lambda).add(partner.mul(1 - lambda));
      } else {
        mixed = images.clone();
        mixed.narrow(2, box.top, box.height).narrow(3, box.left, box.width).copy_(partner.narrow(2, box.top, box.height).narrow(3, box.left, box.width));
      }
      const targets = oneHot(labels, numClasses).float();
      return [mixed, targets.mul(lambda).add(targets.flip(0).mul(1 - lambda)), ...rest];
    });
  };
}
