// Masked autoencoders (He et al., 2022), "Masked Autoencoders Are Scalable
// Vision Learners", mirroring the official models_mae.py: the same stages
// (patchify, randomMasking, forwardEncoder, forwardDecoder, forwardLoss), the
// same state-dict keys (timm's ViT layout: patch_embed.proj, cls_token,
// pos_embed, blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2},
// norm, then decoder_embed, mask_token, decoder_pos_embed, decoder_blocks.N…,
// decoder_norm, decoder_pred) and the same initialisation, so the official
// checkpoints load. The encoder sees only the visible patches; the decoder
// rebuilds every patch from the encoded ones and mask tokens.
//
// The official code hard-codes 3 channels in patchify; here the channel count
// is the configuration's (1 for MNIST), which for 3 gives the same layout.
import { cat } from '../tensor/ops.js';
import { ones, rand, tensor, zeros } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as init from '../nn/init.js';
import { scaledDotProductAttention } from '../nn/attention.js';
import { ModuleList } from '../nn/container.js';
import { Conv2d, GELU, LayerNorm, Linear } from '../nn/layers.js';
import { Buffer, Module, Parameter } from '../nn/module.js';
import type { MaskedImageModelingEntry } from './registry.js';
import type { ViTPreset } from './vit.js';

// ---- configuration ------------------------------------------------------------

export interface MaeConfig {
  /** Side of the square input images, in pixels. */
  imageSize: number;
  /** Side of the square patches; must divide imageSize. */
  patchSize: number;
  inChannels: number;
  /** Encoder width D. */
  embedDim: number;
  /** Encoder blocks. */
  depth: number;
  numHeads: number;
  /** Decoder width (512 in the paper's models). */
  decoderEmbedDim: number;
  decoderDepth: number;
  decoderNumHeads: number;
  /** MLP width of every block as a multiple of its width. */
  mlpRatio: number;
  /** Epsilon of every LayerNorm (the official models: 1e-6). */
  layerNormEps: number;
  /** Normalise each target patch by its mean and (unbiased) variance + 1e-6 (Table 1d). */
  normPixLoss: boolean;
}

const MAE_DEFAULTS: Pick<MaeConfig, 'imageSize' | 'inChannels' | 'decoderEmbedDim' | 'decoderDepth' | 'decoderNumHeads' | 'mlpRatio' | 'layerNormEps' | 'normPixLoss'> = {
  imageSize: 224,
  inChannels: 3,
  decoderEmbedDim: 512,
  decoderDepth: 8,
  decoderNumHeads: 16,
  mlpRatio: 4,
  layerNormEps: 1e-6,
  normPixLoss: false,
};

/**
 * The official builders (ViT-B/16, L/16, H/14 encoders with the 512-d,
 * 8-block decoder) and a small one for MNIST whose encoder is NetLab's
 * vit_tiny_mnist (28×28×1, 7×7 patches → 16 patches, 4 blocks of width 64),
 * with a 2-block decoder of the same width.
 */
export const MAE_PRESETS = {
  mae_vit_base_patch16: { ...MAE_DEFAULTS, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12 },
  mae_vit_large_patch16: { ...MAE_DEFAULTS, patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16 },
  mae_vit_huge_patch14: { ...MAE_DEFAULTS, patchSize: 14, embedDim: 1280, depth: 32, numHeads: 16 },
  mae_vit_tiny_mnist: { ...MAE_DEFAULTS, imageSize: 28, inChannels: 1, patchSize: 7, embedDim: 64, depth: 4, numHeads: 4, decoderEmbedDim: 64, decoderDepth: 2, decoderNumHeads: 4, mlpRatio: 2 },
} satisfies Record<string, MaeConfig>;

export type MaePreset = keyof typeof MAE_PRESETS;

/** The ViT preset (torchvision layout) each MAE encoder converts to for fine-tuning and probing. */
export const MAE_ENCODERS: Record<MaePreset, ViTPreset> = {
  mae_vit_base_patch16: 'vit_b_16',
  mae_vit_large_patch16: 'vit_l_16',
  mae_vit_huge_patch14: 'vit_h_14',
  mae_vit_tiny_mnist: 'vit_tiny_mnist',
};

const CONFIG_KEYS = Object.keys(MAE_PRESETS.mae_vit_base_patch16) as (keyof MaeConfig)[];

/** A checked configuration: `base` with `overrides`. */
export function maeConfig(base: MaeConfig, overrides: Partial<MaeConfig> = {}): MaeConfig {
  const unknown = Object.keys(overrides).find((k) => !(CONFIG_KEYS as string[]).includes(k));
  if (unknown !== undefined) throw new TypeError(`MAE: unknown configuration field '${unknown}'; known: ${CONFIG_KEYS.join(', ')}`);
  const c: MaeConfig = { ...base, ...overrides };
  for (const key of ['imageSize', 'patchSize', 'inChannels', 'embedDim', 'depth', 'numHeads', 'decoderEmbedDim', 'decoderDepth', 'decoderNumHeads'] as const) {
    if (!Number.isInteger(c[key]) || c[key] <= 0) throw new RangeError(`MAE: ${key} must be a positive integer, got ${describeValue(c[key])}`);
  }
  if (c.imageSize % c.patchSize !== 0) throw new RangeError(`MAE: patchSize ${c.patchSize} must divide imageSize ${c.imageSize}`);
  if (c.embedDim % c.numHeads !== 0) throw new RangeError(`MAE: numHeads ${c.numHeads} must divide embedDim ${c.embedDim}`);
  if (c.decoderEmbedDim % c.decoderNumHeads !== 0) throw new RangeError(`MAE: decoderNumHeads ${c.decoderNumHeads} must divide decoderEmbedDim ${c.decoderEmbedDim}`);
  // The 2-D sine-cosine embedding splits the width in four (sin and cos of rows and of columns).
  for (const key of ['embedDim', 'decoderEmbedDim'] as const) {
    if (c[key] % 4 !== 0) throw new RangeError(`MAE: ${key} must be a multiple of 4 for the 2-D sine-cosine position embedding, got ${c[key]}`);
  }
  if (!(c.mlpRatio > 0) || !Number.isInteger(c.mlpRatio * c.embedDim) || !Number.isInteger(c.mlpRatio * c.decoderEmbedDim))
    throw new RangeError(`MAE: mlpRatio must be positive and give whole MLP widths, got ${describeValue(c.mlpRatio)}`);
  if (!(c.layerNormEps > 0)) throw new RangeError(`MAE: layerNormEps must be positive, got ${describeValue(c.layerNormEps)}`);
  if (typeof c.normPixLoss !== 'boolean') throw new TypeError(`MAE: normPixLoss must be a boolean, got ${describeValue(c.normPixLoss)}`);
  return c;
}

/** Patches per image: (imageSize / patchSize)². */
export function numPatches(config: Pick<MaeConfig, 'imageSize' | 'patchSize'>): number {
  return (config.imageSize / config.patchSize) ** 2;
}

/** Learnable parameters of a configuration, without building it (the fixed position embeddings are not learnable). */
export function maeParameterCount(config: MaeConfig): number {
  const { inChannels: C, patchSize: p, embedDim: D, depth, decoderEmbedDim: E, decoderDepth, mlpRatio } = config;
  const block = (d: number) => {
    const m = mlpRatio * d;
    return 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d);
  };
  const encoder = C * p * p * D + D + D + depth * block(D) + 2 * D;
  const decoder = D * E + E + E + decoderDepth * block(E) + 2 * E + E * p * p * C + p * p * C;
  return encoder + decoder;
}

// ---- position embeddings -----------------------------------------------------------

/**
 * The official get_2d_sincos_pos_embed: fixed position embeddings of a g×g
 * grid, (g², dim) or with `clsToken` (1 + g², dim) whose first row is zeros.
 * Patch m = r·g + c (row-major). The first dim/2 columns encode the column
 * index c and the last dim/2 the row index r (the official grid puts w first);
 * each half is [sin(pos·ω), cos(pos·ω)] with ω_k = 10000^(−k/(dim/4)),
 * k = 0 … dim/4 − 1. Computed in float64, as numpy does; returns float64.
 */
export function get2dSincosPosEmbed(dim: number, gridSize: number, clsToken = false): Tensor {
  if (!Number.isInteger(dim) || dim <= 0 || dim % 4 !== 0) throw new RangeError(`get2dSincosPosEmbed: dim must be a positive multiple of 4, got ${describeValue(dim)}`);
  if (!Number.isInteger(gridSize) || gridSize <= 0) throw new RangeError(`get2dSincosPosEmbed: gridSize must be a positive integer, got ${describeValue(gridSize)}`);
  const quarter = dim / 4;
  const rows = gridSize * gridSize + (clsToken ? 1 : 0);
  const data = new Float64Array(rows * dim);
  const omega = Array.from({ length: quarter }, (_, k) => 1 / 10000 ** (k / quarter));
  for (let m = 0; m < gridSize * gridSize; m++) {
    const offset = (m + (clsToken ? 1 : 0)) * dim;
    const positions = [m % gridSize, Math.floor(m / gridSize)]; // column, then row
    positions.forEach((pos, half) => {
      for (let k = 0; k < quarter; k++) {
        data[offset + half * 2 * quarter + k] = Math.sin(pos * omega[k]);
        data[offset + half * 2 * quarter + quarter + k] = Math.cos(pos * omega[k]);
      }
    });
  }
  return tensor(data, { shape: [rows, dim], dtype: 'float64' });
}

// ---- timm's ViT blocks ---------------------------------------------------------------

/** Images → patch tokens by a stride-p convolution (`patch_embed.proj`), as timm's PatchEmbed. */
export class PatchEmbed extends Module {
  proj: Conv2d;

  constructor(patchSize: number, inChannels: number, embedDim: number) {
    super();
    this.proj = new Conv2d(inChannels, embedDim, patchSize, { stride: patchSize });
  }

  /** (N, C, H, W) → (N, L, D) */
  forward(x: Tensor): Tensor {
    return scope(() => this.proj.forward(x).flatten(2).transpose(1, 2));
  }
}

/** Multi-head self-attention with one fused `qkv` projection and `proj`, as timm's Attention. */
export class Attention extends Module {
  readonly numHeads: number;
  qkv: Linear;
  proj: Linear;

  constructor(dim: number, numHeads: number) {
    super();
    this.numHeads = numHeads;
    this.qkv = new Linear(dim, 3 * dim);
    this.proj = new Linear(dim, dim);
  }

  /** (N, T, D) → (N, T, D) */
  forward(x: Tensor): Tensor {
    return scope(() => {
      const [n, t, d] = x.shape;
      const h = this.numHeads;
      const qkv = this.qkv.forward(x).reshape(n, t, 3, h, d / h).permute(2, 0, 3, 1, 4); // (3, N, h, T, d/h)
      const { output } = scaledDotProductAttention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)); // (N, h, T, d/h)
      return this.proj.forward(output.transpose(1, 2).reshape(n, t, d));
    });
  }
}

/** fc1 → GELU → fc2, as timm's Mlp. */
export class Mlp extends Module {
  fc1: Linear;
  act: GELU;
  fc2: Linear;

  constructor(dim: number, hidden: number) {
    super();
    this.fc1 = new Linear(dim, hidden);
    this.act = new GELU();
    this.fc2 = new Linear(hidden, dim);
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.fc2.forward(this.act.forward(this.fc1.forward(x))));
  }
}

/** A pre-norm block x + attn(norm1(x)), then x + mlp(norm2(x)), as timm's Block. */
export class Block extends Module {
  norm1: LayerNorm;
  attn: Attention;
  norm2: LayerNorm;
  mlp: Mlp;

  constructor(dim: number, numHeads: number, mlpRatio: number, eps: number) {
    super();
    this.norm1 = new LayerNorm(dim, { eps });
    this.attn = new Attention(dim, numHeads);
    this.norm2 = new LayerNorm(dim, { eps });
    this.mlp = new Mlp(dim, mlpRatio * dim);
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const y = x.add(this.attn.forward(this.norm1.forward(x)));
      return y.add(this.mlp.forward(this.norm2.forward(y)));
    });
  }
}

// ---- the model -------------------------------------------------------------------------

/** What `forward` returns. */
export interface MaeOutput {
  /** Mean squared error over the removed patches (a scalar). */
  loss: Tensor;
  /** The decoder's prediction of every patch, (N, L, p²·C). */
  pred: Tensor;
  /** (N, L): 0 for a kept patch, 1 for a removed one. */
  mask: Tensor;
}

export interface MaskingOptions {
  /** Fraction of patches removed, in [0, 1) (default 0.75, the paper's). */
  maskRatio?: number;
  /** Uniform noise (N, L) that decides the masking; drawn from the global generator when absent. */
  noise?: Tensor;
}

/** The masked autoencoder: images (N, C, S, S) → loss, prediction and mask. */
export class MaskedAutoencoderViT extends Module {
  readonly config: MaeConfig;
  /** The loss's target: normalised patches when true (the official attribute norm_pix_loss; starts as the configuration's). */
  normPixLoss: boolean;
  patch_embed: PatchEmbed;
  cls_token: Parameter; // (1, 1, D)
  pos_embed: Buffer; // (1, 1 + L, D), fixed
  blocks: ModuleList;
  norm: LayerNorm;
  decoder_embed: Linear;
  mask_token: Parameter; // (1, 1, E)
  decoder_pos_embed: Buffer; // (1, 1 + L, E), fixed
  decoder_blocks: ModuleList;
  decoder_norm: LayerNorm;
  decoder_pred: Linear;

  constructor(config: MaeConfig) {
    super();
    const c = (this.config = maeConfig(config));
    this.normPixLoss = c.normPixLoss;
    const grid = c.imageSize / c.patchSize;
    this.patch_embed = new PatchEmbed(c.patchSize, c.inChannels, c.embedDim);
    this.cls_token = Parameter.adopt(zeros([1, 1, c.embedDim]));
    // The official code keeps them as frozen parameters; buffers give the same state-dict keys and keep them out of optimizers.
    this.pos_embed = Buffer.adopt(scope(() => get2dSincosPosEmbed(c.embedDim, grid, true).float().unsqueeze(0)));
    this.blocks = new ModuleList(Array.from({ length: c.depth }, () => new Block(c.embedDim, c.numHeads, c.mlpRatio, c.layerNormEps)));
    this.norm = new LayerNorm(c.embedDim, { eps: c.layerNormEps });
    this.decoder_embed = new Linear(c.embedDim, c.decoderEmbedDim);
    this.mask_token = Parameter.adopt(zeros([1, 1, c.decoderEmbedDim]));
    this.decoder_pos_embed = Buffer.adopt(scope(() => get2dSincosPosEmbed(c.decoderEmbedDim, grid, true).float().unsqueeze(0)));
    this.decoder_blocks = new ModuleList(Array.from({ length: c.decoderDepth }, () => new Block(c.decoderEmbedDim, c.decoderNumHeads, c.mlpRatio, c.layerNormEps)));
    this.decoder_norm = new LayerNorm(c.decoderEmbedDim, { eps: c.layerNormEps });
    this.decoder_pred = new Linear(c.decoderEmbedDim, c.patchSize * c.patchSize * c.inChannels);
    this.initializeWeights();
  }

  // The official initialize_weights: the patch projection as a Linear (xavier-uniform over (D, C·p·p)),
  // the tokens N(0, 0.02²), every Linear xavier-uniform with zero bias; LayerNorms start at 1 and 0.
  private initializeWeights(): void {
    const w = this.patch_embed.proj.weight;
    const fanIn = w.shape[1] * w.shape[2] * w.shape[3];
    const bound = Math.sqrt(6 / (fanIn + w.shape[0]));
    init.uniform_(w, -bound, bound);
    init.normal_(this.cls_token, 0, 0.02);
    init.normal_(this.mask_token, 0, 0.02);
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        init.xavierUniform_(m.weight);
        if (m.bias !== null) init.zeros_(m.bias);
      }
    }
  }

  /** Patches per image, L. */
  get numPatches(): number {
    return numPatches(this.config);
  }

  /** imgs (N, C, H, W) → patches (N, L, p²·C), each patch's values in (row, column, channel) order. */
  patchify(imgs: Tensor): Tensor {
    this.checkImages('patchify', imgs);
    const { patchSize: p, inChannels: C } = this.config;
    const [n, , s] = imgs.shape;
    const g = s / p;
    return scope(() => imgs.reshape(n, C, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(n, g * g, p * p * C));
  }

  /** patches (N, L, p²·C) → imgs (N, C, H, W); the inverse of patchify. */
  unpatchify(x: Tensor): Tensor {
    const { patchSize: p, inChannels: C } = this.config;
    if (!(x instanceof Tensor)) throw new TypeError(`unpatchify: expected a Tensor, got ${describeValue(x)}`);
    const g = Math.round(Math.sqrt(x.shape[1] ?? 0));
    if (x.ndim !== 3 || g * g !== x.shape[1] || x.shape[2] !== p * p * C)
      throw new RangeError(`unpatchify: expected patches [N, L, ${p * p * C}] with L a square, got ${x.describe()}`);
    const n = x.shape[0];
    return scope(() => x.reshape(n, g, g, p, p, C).permute(0, 5, 1, 3, 2, 4).reshape(n, C, g * p, g * p));
  }

  /**
   * Per-sample random masking by shuffling: the patches are sorted by their
   * noise (small is kept) and the first ⌊L·(1 − maskRatio)⌋ kept.
   * x (N, L, D) → xMasked (N, keep, D), mask (N, L) with 0 = keep and
   * 1 = remove, idsRestore (N, L) that undoes the shuffle.
   */
  randomMasking(x: Tensor, maskRatio: number, noise?: Tensor): { xMasked: Tensor; mask: Tensor; idsRestore: Tensor } {
    checkMaskRatio(maskRatio);
    const [n, L, d] = x.shape;
    const keep = lenKeep(L, maskRatio);
    if (noise !== undefined) checkNoise(noise, n, L);
    return scope(() => {
      const u = noise ?? rand([n, L], { device: x.device });
      const idsShuffle = u.argsort({ dim: 1 }); // ascending: small is kept, large removed
      const idsRestore = idsShuffle.argsort({ dim: 1 });
      const idsKeep = idsShuffle.narrow(1, 0, keep);
      const xMasked = x.gather(1, idsKeep.unsqueeze(-1).expand(n, keep, d));
      const shuffledMask = cat([zeros([n, keep], { dtype: x.dtype, device: x.device }), ones([n, L - keep], { dtype: x.dtype, device: x.device })], 1);
      return { xMasked, mask: shuffledMask.gather(1, idsRestore), idsRestore };
    });
  }

  /**
   * imgs (N, C, S, S) → latent (N, 1 + keep, D): patch embedding and position
   * embedding, masking, the class token (with its position embedding) in
   * front, the blocks and the final norm; with the mask and idsRestore.
   */
  forwardEncoder(imgs: Tensor, maskRatio: number, noise?: Tensor): { latent: Tensor; mask: Tensor; idsRestore: Tensor } {
    this.checkImages('forwardEncoder', imgs);
    return scope(() => {
      const L = this.numPatches;
      const x = this.patch_embed.forward(imgs).add(this.pos_embed.narrow(1, 1, L)); // (N, L, D)
      const { xMasked, mask, idsRestore } = this.randomMasking(x, maskRatio, noise);
      const n = imgs.shape[0];
      const cls = this.cls_token.add(this.pos_embed.narrow(1, 0, 1)).expand(n, -1, -1); // (N, 1, D)
      let h = cat([cls, xMasked], 1);
      for (const block of this.blocks.children() as Block[]) h = block.forward(h);
      return { latent: this.norm.forward(h), mask, idsRestore };
    });
  }

  /**
   * latent (N, 1 + keep, D) → pred (N, L, p²·C): to the decoder width, mask
   * tokens appended, un-shuffled by idsRestore, the decoder position embedding
   * added, the blocks, the norm and the per-patch prediction; the class token's
   * output is dropped.
   */
  forwardDecoder(latent: Tensor, idsRestore: Tensor): Tensor {
    return scope(() => {
      const x = this.decoder_embed.forward(latent); // (N, 1 + keep, E)
      const [n, t, e] = x.shape;
      const L = idsRestore.shape[1];
      const maskTokens = this.mask_token.expand(n, L + 1 - t, e);
      const shuffled = cat([x.narrow(1, 1, t - 1), maskTokens], 1); // (N, L, E), no class token
      const restored = shuffled.gather(1, idsRestore.unsqueeze(-1).expand(n, L, e));
      let h = cat([x.narrow(1, 0, 1), restored], 1).add(this.decoder_pos_embed);
      for (const block of this.decoder_blocks.children() as Block[]) h = block.forward(h);
      return this.decoder_pred.forward(this.decoder_norm.forward(h)).narrow(1, 1, L);
    });
  }

  /**
   * The mean over removed patches of each patch's mean squared error:
   * imgs (N, C, S, S), pred (N, L, p²·C), mask (N, L) → a scalar. With
   * normPixLoss the target patch is (x − mean)/√(var + 1e-6), var unbiased.
   * Visible patches do not count; with no patch removed the loss is NaN (0/0,
   * as in the official code).
   */
  forwardLoss(imgs: Tensor, pred: Tensor, mask: Tensor): Tensor {
    return scope(() => {
      let target = this.patchify(imgs);
      if (this.normPixLoss) {
        const mean = target.mean(-1, { keepdim: true });
        const variance = target.var(-1, { keepdim: true });
        target = target.sub(mean).div(variance.add(1e-6).sqrt());
      }
      const perPatch = pred.sub(target).square().mean(-1); // (N, L)
      return perPatch.mul(mask).sum().div(mask.sum());
    });
  }

  /** imgs (N, C, S, S) → { loss, pred, mask }. */
  forward(imgs: Tensor, options: MaskingOptions = {}): MaeOutput {
    const maskRatio = options.maskRatio ?? 0.75;
    return scope(() => {
      const { latent, mask, idsRestore } = this.forwardEncoder(imgs, maskRatio, options.noise);
      const pred = this.forwardDecoder(latent, idsRestore);
      return { loss: this.forwardLoss(imgs, pred, mask), pred, mask };
    });
  }

  private checkImages(where: string, imgs: Tensor): void {
    const { inChannels: C, imageSize: S, patchSize: p } = this.config;
    if (!(imgs instanceof Tensor)) throw new TypeError(`${where}: expected images as a Tensor [N, ${C}, ${S}, ${S}], got ${describeValue(imgs)}`);
    if (!imgs.dtype.startsWith('float')) throw new TypeError(`${where}: images must be floating point (float32 in [0, 1] or normalised), got ${imgs.describe()}`);
    if (imgs.ndim !== 4 || imgs.shape[1] !== C) throw new RangeError(`${where}: expected images [N, ${C}, ${S}, ${S}], got ${imgs.describe()}`);
    const [, , h, w] = imgs.shape;
    if (h !== w || h % p !== 0) throw new RangeError(`${where}: images must be square with a side the patch size ${p} divides, got ${h}×${w} in ${imgs.describe()}`);
    if (h !== S) throw new RangeError(`${where}: this model's position embeddings are for ${S}×${S} images, got ${h}×${w} in ${imgs.describe()}`);
  }

  protected override extraRepr(): string {
    const c = this.config;
    return `img_size=${c.imageSize}, patch_size=${c.patchSize}, embed_dim=${c.embedDim}, depth=${c.depth}, decoder_embed_dim=${c.decoderEmbedDim}, decoder_depth=${c.decoderDepth}, norm_pix_loss=${c.normPixLoss}`;
  }
}

/** ⌊L·(1 − maskRatio)⌋, as the official int(L * (1 - mask_ratio)). */
export function lenKeep(L: number, maskRatio: number): number {
  return Math.floor(L * (1 - maskRatio));
}

function checkMaskRatio(ratio: number): void {
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio < 1)) throw new RangeError(`MAE: the mask ratio must be a number in [0, 1), got ${describeValue(ratio)}`);
}

function checkNoise(noise: Tensor, n: number, L: number): void {
  if (!(noise instanceof Tensor)) throw new TypeError(`MAE: noise must be a Tensor [${n}, ${L}], got ${describeValue(noise)}`);
  if (!noise.dtype.startsWith('float')) throw new TypeError(`MAE: noise must be floating point (uniform in [0, 1)), got ${noise.describe()}`);
  if (noise.ndim !== 2 || noise.shape[0] !== n || noise.shape[1] !== L) throw new RangeError(`MAE: noise must be [N, L] = [${n}, ${L}] (one value per patch), got ${noise.describe()}`);
}

// ---- builders and the registry -------------------------------------------------------------

/** An MAE from a preset, with any field overridden. */
export function maskedAutoencoder(preset: MaePreset, overrides: Partial<MaeConfig> = {}): MaskedAutoencoderViT {
  const base: MaeConfig | undefined = MAE_PRESETS[preset];
  if (base === undefined) throw new RangeError(`maskedAutoencoder: unknown preset '${String(preset)}'; known: ${Object.keys(MAE_PRESETS).join(', ')}`);
  return new MaskedAutoencoderViT(maeConfig(base, overrides));
}

const DESCRIPTIONS: Record<MaePreset, string> = {
  mae_vit_base_patch16: 'MAE of He et al. (2022), official layout: ViT-B/16 encoder, 512-d 8-block decoder',
  mae_vit_large_patch16: 'MAE of He et al. (2022), official layout: ViT-L/16 encoder, 512-d 8-block decoder',
  mae_vit_huge_patch14: 'MAE of He et al. (2022), official layout: ViT-H/14 encoder, 512-d 8-block decoder',
  mae_vit_tiny_mnist: 'Small MAE for MNIST: the vit_tiny_mnist encoder (28×28×1, 7×7 patches, 4 blocks, D 64), 2-block 64-d decoder',
};

/** Registry entries for every preset; the registry adds them. */
export const MAE_MODEL_ENTRIES: MaskedImageModelingEntry[] = (Object.keys(MAE_PRESETS) as MaePreset[]).map((name) => {
  const config = maeConfig(MAE_PRESETS[name]);
  return {
    name,
    task: 'masked-image-modeling',
    description: DESCRIPTIONS[name],
    build: (options?: Record<string, unknown>) => maskedAutoencoder(name, options as Partial<MaeConfig>),
    config,
    parameterCount: maeParameterCount(config),
    inputSize: [config.inChannels, config.imageSize, config.imageSize],
    patchSize: config.patchSize,
    encoder: MAE_ENCODERS[name],
  };
});
