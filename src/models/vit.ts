// The Vision Transformer of Dosovitskiy et al. (2021), "An Image is Worth
// 16x16 Words: Transformers for Image Recognition at Scale", mirroring
// torchvision 0.14's models/vision_transformer.py: the same modules, the same
// state-dict keys (conv_proj, class_token, encoder.pos_embedding,
// encoder.layers.encoder_layer_N.{ln_1, self_attention, ln_2, mlp.0, mlp.3},
// encoder.ln, heads.head) and the same initialisation. Besides torchvision's
// model it offers position-embedding interpolation for new image sizes, the
// attention weights of every layer, and the paper's attention analyses
// (mean attention distance, attention rollout) as pure functions.
import { arange, empty, eye, zeros } from '../tensor/creation.js';
import { noGrad } from '../tensor/autograd.js';
import { cat } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import * as init from '../nn/init.js';
import { MultiheadAttention } from '../nn/attention.js';
import { ModuleDict, Sequential } from '../nn/container.js';
import { Conv2d, Dropout, GELU, LayerNorm, Linear, StochasticDepth, Tanh } from '../nn/layers.js';
import { Module, Parameter } from '../nn/module.js';
import type { ClassifierEntry } from './registry.js';

// ---- configuration ------------------------------------------------------------

export interface ViTConfig {
  /** Height and width of the (square) input images, in pixels. */
  imageSize: number;
  /** Side of the square patches; must divide imageSize. */
  patchSize: number;
  /** Input channels: 3 in torchvision (RGB), 1 for MNIST. */
  inChannels: number;
  /** Number of encoder blocks (the paper's L). */
  numLayers: number;
  /** Attention heads per block; must divide hiddenDim. */
  numHeads: number;
  /** Token width D. */
  hiddenDim: number;
  /** Hidden width of each block's MLP (4·D in the paper's models). */
  mlpDim: number;
  /** Dropout after the position embedding, after attention and inside the MLP. */
  dropout: number;
  /** Dropout on the attention weights. */
  attentionDropout: number;
  numClasses: number;
  /** Width of the tanh pre-logits layer of the paper's pre-training head; null for a single linear head. */
  representationSize: number | null;
  /** Epsilon of every LayerNorm (torchvision: 1e-6). */
  layerNormEps: number;
  /**
   * What the head reads: 'token' (torchvision, the paper) the class token
   * after the final LayerNorm; 'avg' the mean of the patch tokens, then the
   * final LayerNorm (MAE's fine-tuning with global pooling, whose fc_norm is
   * this model's encoder.ln). The state dict is the same.
   */
  pool: 'token' | 'avg';
  /**
   * Stochastic depth (drop path) of the last block's residual branches; block
   * i of L drops with rate·i/(L−1), as timm's drop_path_rate (MAE's
   * fine-tuning). 0 in torchvision.
   */
  dropPath: number;
}

/** torchvision's defaults apart from the architecture sizes. */
export const VIT_DEFAULTS: Omit<ViTConfig, 'patchSize' | 'numLayers' | 'numHeads' | 'hiddenDim' | 'mlpDim'> = {
  imageSize: 224,
  inChannels: 3,
  dropout: 0,
  attentionDropout: 0,
  numClasses: 1000,
  representationSize: null,
  layerNormEps: 1e-6,
  pool: 'token',
  dropPath: 0,
};

type Architecture = Pick<ViTConfig, 'patchSize' | 'numLayers' | 'numHeads' | 'hiddenDim' | 'mlpDim'> & Partial<ViTConfig>;

const CONFIG_KEYS: readonly (keyof ViTConfig)[] = [
  'imageSize', 'patchSize', 'inChannels', 'numLayers', 'numHeads', 'hiddenDim', 'mlpDim',
  'dropout', 'attentionDropout', 'numClasses', 'representationSize', 'layerNormEps', 'pool', 'dropPath',
];

/**
 * The paper's models under torchvision's builder names (Table 1: Base, Large,
 * Huge), and small ones for experiments on MNIST (28×28, 7×7 patches → a 4×4
 * grid) and CIFAR-10 (32×32, 4×4 patches → an 8×8 grid).
 */
export const VIT_PRESETS = {
  vit_b_16: { patchSize: 16, numLayers: 12, numHeads: 12, hiddenDim: 768, mlpDim: 3072 },
  vit_b_32: { patchSize: 32, numLayers: 12, numHeads: 12, hiddenDim: 768, mlpDim: 3072 },
  vit_l_16: { patchSize: 16, numLayers: 24, numHeads: 16, hiddenDim: 1024, mlpDim: 4096 },
  vit_l_32: { patchSize: 32, numLayers: 24, numHeads: 16, hiddenDim: 1024, mlpDim: 4096 },
  vit_h_14: { patchSize: 14, numLayers: 32, numHeads: 16, hiddenDim: 1280, mlpDim: 5120 },
  vit_tiny_mnist: { imageSize: 28, inChannels: 1, numClasses: 10, patchSize: 7, numLayers: 4, numHeads: 4, hiddenDim: 64, mlpDim: 128 },
  vit_tiny_cifar: { imageSize: 32, inChannels: 3, numClasses: 10, patchSize: 4, numLayers: 6, numHeads: 3, hiddenDim: 192, mlpDim: 384 },
} satisfies Record<string, Architecture>;

export type ViTPreset = keyof typeof VIT_PRESETS;

/** A full configuration: torchvision's defaults, then `architecture`, then `overrides`. */
export function vitConfig(architecture: Architecture, overrides: Partial<ViTConfig> = {}): ViTConfig {
  // Options may come untyped (the registry, a command line): a misspelt field must not pass silently.
  const unknown = Object.keys({ ...architecture, ...overrides }).find((k) => !(CONFIG_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new TypeError(`ViT: unknown configuration field '${unknown}'; known: ${CONFIG_KEYS.join(', ')}`);
  const config: ViTConfig = { ...VIT_DEFAULTS, ...architecture, ...overrides };
  const positive = ['imageSize', 'patchSize', 'inChannels', 'numLayers', 'numHeads', 'hiddenDim', 'mlpDim', 'numClasses'] as const;
  for (const key of positive) {
    if (!Number.isInteger(config[key]) || config[key] <= 0) throw new RangeError(`ViT: ${key} must be a positive integer, got ${describeValue(config[key])}`);
  }
  if (config.imageSize % config.patchSize !== 0) throw new RangeError(`ViT: patchSize ${config.patchSize} must divide imageSize ${config.imageSize}`);
  if (config.hiddenDim % config.numHeads !== 0) throw new RangeError(`ViT: numHeads ${config.numHeads} must divide hiddenDim ${config.hiddenDim}`);
  if (config.pool !== 'token' && config.pool !== 'avg') throw new TypeError(`ViT: pool must be 'token' or 'avg', got ${describeValue(config.pool)}`);
  for (const key of ['dropout', 'attentionDropout', 'dropPath'] as const) {
    if (!(config[key] >= 0 && config[key] <= 1)) throw new RangeError(`ViT: ${key} must be in [0, 1], got ${describeValue(config[key])}`);
  }
  const r = config.representationSize;
  if (r !== null && (!Number.isInteger(r) || r <= 0)) throw new RangeError(`ViT: representationSize must be a positive integer or null, got ${describeValue(r)}`);
  if (!(config.layerNormEps > 0)) throw new RangeError(`ViT: layerNormEps must be positive, got ${describeValue(config.layerNormEps)}`);
  return config;
}

/** Patches per side of the grid: imageSize / patchSize. */
export function gridSize(config: Pick<ViTConfig, 'imageSize' | 'patchSize'>): number {
  return config.imageSize / config.patchSize;
}

/**
 * The number of learnable parameters of a configuration, without building it
 * (vit_b_16: 86,567,656, as torchvision counts).
 */
export function vitParameterCount(config: ViTConfig): number {
  const { inChannels, patchSize: p, numLayers, hiddenDim: D, mlpDim: M, numClasses: C, representationSize: R } = config;
  const g = gridSize(config);
  const patchEmbedding = D * inChannels * p * p + D;
  const tokens = D + (g * g + 1) * D; // class token and position embeddings
  const block = 2 * D + (3 * D * D + 3 * D) + (D * D + D) + 2 * D + (D * M + M) + (M * D + D);
  const head = R === null ? D * C + C : D * R + R + R * C + C;
  return patchEmbedding + tokens + numLayers * block + 2 * D + head;
}

// ---- blocks ----------------------------------------------------------------------

/** Linear → GELU → Dropout → Linear → Dropout, keys mlp.0 and mlp.3 as torchvision's MLPBlock. */
export class MLPBlock extends Sequential {
  constructor(inDim: number, mlpDim: number, dropout: number) {
    super(new Linear(inDim, mlpDim), new GELU(), new Dropout(dropout), new Linear(mlpDim, inDim), new Dropout(dropout));
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        init.xavierUniform_(m.weight);
        if (m.bias !== null) init.normal_(m.bias, 0, 1e-6);
      }
    }
  }
}

/** A pre-norm Transformer block: x + Attn(LN(x)), then x + MLP(LN(x)). */
export class EncoderBlock extends Module {
  readonly numHeads: number;
  ln_1: LayerNorm;
  self_attention: MultiheadAttention;
  dropout: Dropout;
  ln_2: LayerNorm;
  mlp: MLPBlock;
  drop_path: StochasticDepth;

  /** `dropPath`: this block's stochastic-depth rate. */
  constructor(config: ViTConfig, dropPath = 0) {
    super();
    const { numHeads, hiddenDim, mlpDim, dropout, attentionDropout, layerNormEps } = config;
    this.numHeads = numHeads;
    this.ln_1 = new LayerNorm(hiddenDim, { eps: layerNormEps });
    this.self_attention = new MultiheadAttention(hiddenDim, numHeads, { dropout: attentionDropout, batchFirst: true });
    this.dropout = new Dropout(dropout);
    this.ln_2 = new LayerNorm(hiddenDim, { eps: layerNormEps });
    this.mlp = new MLPBlock(hiddenDim, mlpDim, dropout);
    this.drop_path = new StochasticDepth(dropPath);
  }

  /**
   * input (N, T, D) → (N, T, D); with `needWeights`, also the attention
   * weights per head (N, heads, T, T), else null.
   */
  forward(input: Tensor, needWeights = false): [Tensor, Tensor | null] {
    return scope(() => {
      const h = this.ln_1.forward(input);
      const [attended, weights] = this.self_attention.forward(h, h, h, { needWeights, averageAttnWeights: false });
      const x = this.drop_path.forward(this.dropout.forward(attended)).add(input);
      const y = this.drop_path.forward(this.mlp.forward(this.ln_2.forward(x)));
      return [x.add(y), weights];
    });
  }
}

/** Position embeddings, the stack of blocks and the final LayerNorm. */
export class Encoder extends Module {
  pos_embedding: Parameter; // (1, T, D): T = 1 + grid², the class token's first
  dropout: Dropout;
  layers: ModuleDict; // encoder_layer_0 … encoder_layer_{L−1}
  ln: LayerNorm;

  constructor(config: ViTConfig) {
    super();
    const seqLength = gridSize(config) ** 2 + 1;
    // From BERT, as torchvision: N(0, 0.02²), not truncated.
    this.pos_embedding = Parameter.adopt(init.normal_(empty([1, seqLength, config.hiddenDim]), 0, 0.02));
    this.dropout = new Dropout(config.dropout);
    this.layers = new ModuleDict();
    const L = config.numLayers;
    for (let i = 0; i < L; i++) this.layers.set(`encoder_layer_${i}`, new EncoderBlock(config, L > 1 ? (config.dropPath * i) / (L - 1) : 0));
    this.ln = new LayerNorm(config.hiddenDim, { eps: config.layerNormEps });
  }

  /** The blocks in order. */
  blocks(): EncoderBlock[] {
    return this.layers.children() as EncoderBlock[];
  }

  /**
   * tokens (N, T, D) → (N, T, D) and, with `needWeights`, each layer's (N,
   * heads, T, T) weights; the final LayerNorm unless `normalize` is false.
   */
  forward(tokens: Tensor, needWeights = false, normalize = true): { tokens: Tensor; attention: Tensor[] } {
    return scope(() => {
      let x = this.dropout.forward(tokens.add(this.pos_embedding));
      const attention: Tensor[] = [];
      for (const block of this.blocks()) {
        const [out, weights] = block.forward(x, needWeights);
        x = out;
        if (weights !== null) attention.push(weights);
      }
      return { tokens: normalize ? this.ln.forward(x) : x, attention };
    });
  }
}

/** The classifier on the class token: `head`, or `pre_logits` → tanh → `head`. */
export class ViTHeads extends Module {
  pre_logits: Linear | null = null;
  act: Tanh | null = null;
  head: Linear;

  constructor(hiddenDim: number, numClasses: number, representationSize: number | null) {
    super();
    if (representationSize !== null) {
      this.pre_logits = new Linear(hiddenDim, representationSize);
      this.act = new Tanh();
      init.truncNormal_(this.pre_logits.weight, { std: Math.sqrt(1 / hiddenDim) });
      init.zeros_(this.pre_logits.bias!);
    }
    this.head = new Linear(representationSize ?? hiddenDim, numClasses);
    // Zero-initialised, so a fresh model predicts uniformly.
    init.zeros_(this.head.weight);
    init.zeros_(this.head.bias!);
  }

  /** (N, D) → (N, classes) */
  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.pre_logits === null ? x : this.act!.forward(this.pre_logits.forward(x));
      return this.head.forward(h);
    });
  }
}

// ---- the model -----------------------------------------------------------------------

/** What `forward(x, { returnAttention: true })` returns. */
export interface ViTOutput {
  /** (N, classes) */
  logits: Tensor;
  /** One (N, heads, T, T) tensor per layer, T = 1 + grid²; row/column 0 is the class token. */
  attention: Tensor[];
}

export interface ViTForwardOptions {
  /** Also return every layer's attention weights, per head. */
  returnAttention?: boolean;
}

/**
 * The Vision Transformer: images (N, C, S, S) with values as the training
 * pipeline gives them → logits (N, classes). `forward = forwardFeatures +
 * forwardHead`.
 */
export class VisionTransformer extends Module {
  /** The configuration; `imageSize` follows `resizeImageSize`. */
  config: ViTConfig;
  conv_proj: Conv2d;
  class_token: Parameter; // (1, 1, D)
  encoder: Encoder;
  heads: ViTHeads;

  constructor(config: ViTConfig) {
    super();
    this.config = vitConfig(config);
    const { inChannels, hiddenDim, patchSize, numClasses, representationSize } = this.config;
    this.conv_proj = new Conv2d(inChannels, hiddenDim, patchSize, { stride: patchSize });
    this.class_token = Parameter.adopt(zeros([1, 1, hiddenDim]));
    this.encoder = new Encoder(this.config);
    this.heads = new ViTHeads(hiddenDim, numClasses, representationSize);
    // The patchify stem: truncated normal with std √(1/fan_in), fan_in = C·p·p.
    init.truncNormal_(this.conv_proj.weight, { std: Math.sqrt(1 / (inChannels * patchSize * patchSize)) });
    init.zeros_(this.conv_proj.bias!);
  }

  /** Tokens per image: the class token and grid² patches. */
  get seqLength(): number {
    return gridSize(this.config) ** 2 + 1;
  }

  /** images (N, C, S, S) → patch tokens (N, grid², D) */
  processInput(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw new TypeError(`VisionTransformer: expected an image Tensor, got ${describeValue(x)}`);
    const { inChannels, imageSize, hiddenDim } = this.config;
    if (x.ndim !== 4) throw new RangeError(`VisionTransformer: expected images [N, ${inChannels}, ${imageSize}, ${imageSize}], got ${x.describe()}`);
    const [n, c, h, w] = x.shape;
    if (c !== inChannels) throw new RangeError(`VisionTransformer: expected ${inChannels} input channel(s), got ${c} in ${x.describe()}`);
    if (h !== imageSize || w !== imageSize)
      throw new RangeError(
        `VisionTransformer: wrong image size ${h}×${w} in ${x.describe()}; this model expects ${imageSize}×${imageSize} (call resizeImageSize(${h}) first to interpolate the position embeddings, for square images whose side the patch size ${this.config.patchSize} divides)`,
      );
    return scope(() => {
      const g = gridSize(this.config);
      const patches = this.conv_proj.forward(x); // (N, D, g, g)
      return patches.reshape(n, hiddenDim, g * g).permute(0, 2, 1); // (N, g², D)
    });
  }

  /**
   * images (N, C, S, S) → encoded tokens (N, T, D) after the final LayerNorm
   * (with average pooling, before it: the pooled vector is normalised), and
   * the attention weights if asked.
   */
  forwardFeatures(x: Tensor, options: ViTForwardOptions = {}): { tokens: Tensor; attention: Tensor[] } {
    return scope(() => {
      const patches = this.processInput(x); // (N, g², D)
      const n = patches.shape[0];
      const classToken = this.class_token.expand(n, -1, -1); // (N, 1, D)
      return this.encoder.forward(cat([classToken, patches], 1), options.returnAttention ?? false, this.config.pool === 'token'); // (N, T, D)
    });
  }

  /** tokens (N, T, D) from forwardFeatures → the head's input (N, D): the class token, or the normalised mean of the patch tokens. */
  pooled(tokens: Tensor): Tensor {
    return scope(() => (this.config.pool === 'token' ? tokens.select(1, 0) : this.encoder.ln.forward(tokens.narrow(1, 1, tokens.shape[1] - 1).mean(1))));
  }

  /** tokens (N, T, D) from forwardFeatures → logits (N, classes). */
  forwardHead(tokens: Tensor): Tensor {
    return scope(() => this.heads.forward(this.pooled(tokens))); // (N, D) → (N, classes)
  }

  /** images (N, C, S, S) → logits (N, classes); with `returnAttention`, also each layer's attention weights. */
  forward(x: Tensor): Tensor;
  forward(x: Tensor, options: ViTForwardOptions & { returnAttention: true }): ViTOutput;
  forward(x: Tensor, options?: ViTForwardOptions): Tensor | ViTOutput;
  forward(x: Tensor, options: ViTForwardOptions = {}): Tensor | ViTOutput {
    return scope(() => {
      const { tokens, attention } = this.forwardFeatures(x, options);
      const logits = this.forwardHead(tokens);
      return options.returnAttention ? { logits, attention } : logits;
    });
  }

  /**
   * Adapts the model to images of side `imageSize` by interpolating the
   * position embeddings of the patch grid (the paper's fine-tuning at higher
   * resolution, §3.2); the same size changes nothing. The position-embedding
   * parameter keeps its identity, but an optimizer's state for it no longer
   * fits, so build optimizers after resizing.
   */
  resizeImageSize(imageSize: number): void {
    const { patchSize } = this.config;
    if (!Number.isInteger(imageSize) || imageSize <= 0 || imageSize % patchSize !== 0)
      throw new RangeError(`resizeImageSize: the image size must be a positive multiple of the patch size ${patchSize}, got ${describeValue(imageSize)}`);
    if (imageSize === this.config.imageSize) return;
    const pos = this.encoder.pos_embedding;
    const requiresGrad = pos.requiresGrad;
    pos.takeOver(noGrad(() => interpolatePosEmbedding(pos, imageSize / patchSize)));
    if (requiresGrad) pos.requiresGrad_(true);
    this.config = { ...this.config, imageSize };
  }

  protected override extraRepr(): string {
    const { imageSize, patchSize, numLayers, numHeads, hiddenDim, mlpDim } = this.config;
    return `image_size=${imageSize}, patch_size=${patchSize}, num_layers=${numLayers}, num_heads=${numHeads}, hidden_dim=${hiddenDim}, mlp_dim=${mlpDim}`;
  }
}

// ---- pure functions -------------------------------------------------------------------

function checkGrid(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name}: the grid size must be a positive integer, got ${describeValue(value)}`);
}

/**
 * Position embeddings (1, 1 + g², D) for a g×g patch grid → (1, 1 + newGrid², D)
 * for a newGrid×newGrid one: the class token's embedding is kept, the grid's
 * embeddings are reshaped to (1, D, g, g), resized bicubically (align_corners
 * true, as torchvision's interpolate_embeddings) and flattened back. A new
 * tensor even when the grid is unchanged.
 */
export function interpolatePosEmbedding(posEmbedding: Tensor, newGrid: number): Tensor {
  if (!(posEmbedding instanceof Tensor)) throw new TypeError(`interpolatePosEmbedding: expected a Tensor, got ${describeValue(posEmbedding)}`);
  checkGrid('interpolatePosEmbedding', newGrid);
  if (posEmbedding.ndim !== 3 || posEmbedding.shape[0] !== 1)
    throw new RangeError(`interpolatePosEmbedding: expected position embeddings (1, 1 + grid², D), got ${posEmbedding.describe()}`);
  const [, T, D] = posEmbedding.shape;
  const g = Math.round(Math.sqrt(T - 1));
  if (g * g !== T - 1) throw new RangeError(`interpolatePosEmbedding: ${T - 1} patch positions (after the class token) do not form a square grid`);
  if (g === newGrid) return posEmbedding.clone();
  return scope(() => {
    const classPos = posEmbedding.narrow(1, 0, 1); // (1, 1, D)
    const grid = posEmbedding.narrow(1, 1, T - 1).permute(0, 2, 1).reshape(1, D, g, g); // (1, D, g, g)
    const resized = F.interpolate(grid, { size: newGrid, mode: 'bicubic', alignCorners: true }); // (1, D, g', g')
    const flat = resized.reshape(1, D, newGrid * newGrid).permute(0, 2, 1); // (1, g'², D)
    return cat([classPos, flat], 1); // (1, 1 + g'², D)
  });
}

/**
 * The mean attention distance of each head (the paper's Figure 7): for every
 * query patch, the distance in pixels between its centre and each key patch's
 * centre, weighted by the attention weight, averaged over queries and images.
 * attn: (N, heads, T, T) with T = grid² or 1 + grid² (a class token first,
 * which has no position: its row and column are dropped and each query's
 * weights over the patches renormalised to sum to 1) → (heads,).
 */
export function attentionDistance(attn: Tensor, gridSize: number, patchSize: number): Tensor {
  if (!(attn instanceof Tensor)) throw new TypeError(`attentionDistance: expected a Tensor, got ${describeValue(attn)}`);
  checkGrid('attentionDistance', gridSize);
  if (!(patchSize > 0)) throw new RangeError(`attentionDistance: patchSize must be positive, got ${describeValue(patchSize)}`);
  const P = gridSize * gridSize;
  const T = attn.shape[attn.ndim - 1];
  if (attn.ndim !== 4 || attn.shape[2] !== T || (T !== P && T !== P + 1))
    throw new RangeError(`attentionDistance: expected attention weights (N, heads, T, T) with T = ${P} or ${P + 1} for a ${gridSize}×${gridSize} grid, got ${attn.describe()}`);
  return scope(() => {
    let w = T === P ? attn : attn.narrow(2, 1, P).narrow(3, 1, P); // (N, heads, P, P)
    if (T !== P) w = w.div(w.sum(-1, { keepdim: true }));
    const distance = patchDistances(gridSize, patchSize).to(w.dtype); // (P, P)
    return w.mul(distance).sum(-1).mean([0, 2]); // (N, heads, P) → (heads,)
  });
}

// Euclidean distances in pixels between the centres of the patches of a grid, row-major: (P, P).
function patchDistances(grid: number, patchSize: number): Tensor {
  return scope(() => {
    const index = arange(grid * grid, { dtype: 'float64' });
    const row = index.div(grid).floor(); // (P,)
    const col = index.remainder(grid);
    const dr = row.unsqueeze(1).sub(row.unsqueeze(0)); // (P, P)
    const dc = col.unsqueeze(1).sub(col.unsqueeze(0));
    return dr.square().add(dc.square()).sqrt().mul(patchSize);
  });
}

export interface RolloutOptions {
  /** How the heads of a layer are combined (Abnar & Zuidema average them). */
  headFusion?: 'mean' | 'max' | 'min';
  /** Model the residual connection as 0.5·A + 0.5·I, rows renormalised (default true, as the paper). */
  residual?: boolean;
}

/**
 * Attention rollout (Abnar & Zuidema, 2020), which the ViT paper uses for its
 * attention maps (Appendix D.8): per layer the heads are fused and the
 * residual stream added as identity, Â = normalise(0.5·A + 0.5·I), and the
 * layers multiplied, Â_L ⋯ Â_1. attentions: one (N, heads, T, T) per layer,
 * first layer first → (N, T, T), whose row i is how much token i at the
 * output draws on each input token. Row 0 over columns 1… is the class
 * token's map over the patches (see `classTokenMap`).
 */
export function attentionRollout(attentions: readonly Tensor[], options: RolloutOptions = {}): Tensor {
  if (!Array.isArray(attentions) || attentions.length === 0) throw new TypeError('attentionRollout: expected a non-empty array of (N, heads, T, T) attention tensors');
  const shape = attentions[0] instanceof Tensor ? attentions[0].shape : [];
  attentions.forEach((a, i) => {
    if (!(a instanceof Tensor) || a.ndim !== 4 || a.shape[2] !== a.shape[3] || a.shape.some((d, j) => d !== shape[j]))
      throw new RangeError(`attentionRollout: layer ${i} must be (N, heads, T, T) like layer 0 [${shape.join(', ')}], got ${describeValue(a)}`);
  });
  const fusion = options.headFusion ?? 'mean';
  if (!['mean', 'max', 'min'].includes(fusion)) throw new TypeError(`attentionRollout: headFusion must be 'mean', 'max' or 'min', got '${fusion}'`);
  const residual = options.residual ?? true;
  return scope(() => {
    let rollout: Tensor | null = null;
    for (const a of attentions) {
      let fused = fusion === 'mean' ? a.mean(1) : fusion === 'max' ? a.amax(1) : a.amin(1); // (N, T, T)
      if (residual) {
        const T = fused.shape[2];
        fused = fused.add(eye(T, T, { dtype: fused.dtype })).mul(0.5);
        fused = fused.div(fused.sum(-1, { keepdim: true }));
      }
      rollout = rollout === null ? fused : fused.matmul(rollout); // later layers on the left
    }
    return rollout!;
  });
}

/** The class token's row of a rollout (N, 1 + g², 1 + g²), over the patches, as an image (N, g, g). */
export function classTokenMap(rollout: Tensor, gridSize: number): Tensor {
  checkGrid('classTokenMap', gridSize);
  if (!(rollout instanceof Tensor) || rollout.ndim !== 3 || rollout.shape[1] !== gridSize * gridSize + 1 || rollout.shape[2] !== rollout.shape[1])
    throw new RangeError(`classTokenMap: expected (N, ${gridSize * gridSize + 1}, ${gridSize * gridSize + 1}) for a ${gridSize}×${gridSize} grid, got ${describeValue(rollout)}`);
  return scope(() => rollout.select(1, 0).narrow(1, 1, gridSize * gridSize).reshape(rollout.shape[0], gridSize, gridSize));
}

// ---- builders ---------------------------------------------------------------------------

/** A Vision Transformer from a preset, with any field overridden (image size, classes, dropout…). */
export function visionTransformer(preset: ViTPreset, overrides: Partial<ViTConfig> = {}): VisionTransformer {
  const architecture: Architecture | undefined = VIT_PRESETS[preset];
  if (architecture === undefined) throw new RangeError(`visionTransformer: unknown preset '${String(preset)}'; known: ${Object.keys(VIT_PRESETS).join(', ')}`);
  return new VisionTransformer(vitConfig(architecture, overrides));
}

/** ViT-B/16: 12 layers, 12 heads, D 768, MLP 3072, 16×16 patches (86,567,656 parameters at 1000 classes). */
export const vitB16 = (overrides: Partial<ViTConfig> = {}) => visionTransformer('vit_b_16', overrides);
/** ViT-B/32: as B/16 with 32×32 patches. */
export const vitB32 = (overrides: Partial<ViTConfig> = {}) => visionTransformer('vit_b_32', overrides);
/** ViT-L/16: 24 layers, 16 heads, D 1024, MLP 4096. */
export const vitL16 = (overrides: Partial<ViTConfig> = {}) => visionTransformer('vit_l_16', overrides);
/** ViT-L/32: as L/16 with 32×32 patches. */
export const vitL32 = (overrides: Partial<ViTConfig> = {}) => visionTransformer('vit_l_32', overrides);
/** ViT-H/14: 32 layers, 16 heads, D 1280, MLP 5120, 14×14 patches. */
export const vitH14 = (overrides: Partial<ViTConfig> = {}) => visionTransformer('vit_h_14', overrides);
/** A small ViT for MNIST: 28×28×1 in 7×7 patches (a 4×4 grid), 4 layers, 4 heads, D 64. */
export const vitTinyMnist = (overrides: Partial<ViTConfig> = {}) => visionTransformer('vit_tiny_mnist', overrides);
/** A small ViT for CIFAR-10: 32×32×3 in 4×4 patches (an 8×8 grid), 6 layers, 3 heads, D 192. */
export const vitTinyCifar = (overrides: Partial<ViTConfig> = {}) => visionTransformer('vit_tiny_cifar', overrides);

// ImageNet statistics, which torchvision's ViT weights expect after scaling to [0, 1].
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

const DESCRIPTIONS: Record<ViTPreset, string> = {
  vit_b_16: 'ViT-B/16 of Dosovitskiy et al. (2021), torchvision layout: 12 layers, 12 heads, D 768, 16×16 patches',
  vit_b_32: 'ViT-B/32 of Dosovitskiy et al. (2021), torchvision layout: 12 layers, 12 heads, D 768, 32×32 patches',
  vit_l_16: 'ViT-L/16 of Dosovitskiy et al. (2021), torchvision layout: 24 layers, 16 heads, D 1024, 16×16 patches',
  vit_l_32: 'ViT-L/32 of Dosovitskiy et al. (2021), torchvision layout: 24 layers, 16 heads, D 1024, 32×32 patches',
  vit_h_14: 'ViT-H/14 of Dosovitskiy et al. (2021), torchvision layout: 32 layers, 16 heads, D 1280, 14×14 patches',
  vit_tiny_mnist: 'Small ViT for MNIST: 28×28×1, 7×7 patches (4×4 grid), 4 layers, 4 heads, D 64, MLP 128',
  vit_tiny_cifar: 'Small ViT for CIFAR-10: 32×32×3, 4×4 patches (8×8 grid), 6 layers, 3 heads, D 192, MLP 384',
};

/** Registry entries for every preset; the registry adds them. */
export const VIT_MODEL_ENTRIES: ClassifierEntry[] = (Object.keys(VIT_PRESETS) as ViTPreset[]).map((name) => {
  const config = vitConfig(VIT_PRESETS[name]);
  return {
    name,
    description: DESCRIPTIONS[name],
    build: (options?: Record<string, unknown>) => visionTransformer(name, options as Partial<ViTConfig>),
    config,
    parameterCount: vitParameterCount(config),
    inputSize: [config.inChannels, config.imageSize, config.imageSize],
    numClasses: config.numClasses,
    normalization: config.numClasses === 1000 ? IMAGENET : null,
    task: 'image-classification',
    recipe: 'vit',
  };
});
