// The Transformer of Vaswani et al. (2017) as torch.nn 1.13 builds it:
// TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
// TransformerDecoder and Transformer, with torch.nn's options, masks and
// state-dict keys (encoder.layers.N.self_attn.in_proj_weight, …linear1,
// …norm1, decoder.layers.N.multihead_attn…, encoder.norm, decoder.norm), so
// the same weights give the same outputs in both.
import { isGradEnabled } from '../tensor/autograd.js';
import { full } from '../tensor/creation.js';
import { aten } from '../tensor/native.js';
import { cat } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import * as F from './functional.js';
import * as init from './init.js';
import { MultiheadAttention } from './attention.js';
import { ModuleList } from './container.js';
import { Dropout, LayerNorm, Linear } from './layers.js';
import { Module } from './module.js';

export interface TransformerLayerOptions {
  /** Width of the position-wise feed-forward layer (torch.nn: 2048). */
  dimFeedforward?: number;
  /** Residual, attention and feed-forward dropout (torch.nn: 0.1). */
  dropout?: number;
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  /** Inputs and outputs as (N, L, E) instead of (L, N, E). */
  batchFirst?: boolean;
  /** LayerNorm before each sublayer (pre-norm) instead of after the residual sum (the paper's post-norm). */
  normFirst?: boolean;
}

type Resolved = Required<TransformerLayerOptions>;

const LAYER_DEFAULTS: Resolved = { dimFeedforward: 2048, dropout: 0.1, activation: 'relu', layerNormEps: 1e-5, batchFirst: false, normFirst: false };

function resolve(where: string, dModel: number, nhead: number, options: TransformerLayerOptions): Resolved {
  const o = { ...LAYER_DEFAULTS, ...options };
  if (!Number.isInteger(dModel) || dModel <= 0) throw new RangeError(`${where}: dModel must be a positive integer, got ${describeValue(dModel)}`);
  if (!Number.isInteger(nhead) || nhead <= 0 || dModel % nhead !== 0) throw new RangeError(`${where}: nhead (${String(nhead)}) must be a positive integer dividing dModel (${dModel})`);
  if (!Number.isInteger(o.dimFeedforward) || o.dimFeedforward <= 0) throw new RangeError(`${where}: dimFeedforward must be a positive integer, got ${describeValue(o.dimFeedforward)}`);
  if (!(o.dropout >= 0 && o.dropout <= 1)) throw new RangeError(`${where}: dropout must be in [0, 1], got ${describeValue(o.dropout)}`);
  if (o.activation !== 'relu' && o.activation !== 'gelu') throw new TypeError(`${where}: activation must be 'relu' or 'gelu', got ${describeValue(o.activation)}`);
  if (!(o.layerNormEps > 0)) throw new RangeError(`${where}: layerNormEps must be positive, got ${describeValue(o.layerNormEps)}`);
  return o;
}

function activate(x: Tensor, activation: 'relu' | 'gelu'): Tensor {
  return activation === 'relu' ? F.relu(x) : F.gelu(x);
}

/** What an encoder layer or stack takes besides its input. */
export interface EncoderMasks {
  /** (S, S) or (N·nhead, S, S): bool true = blocked, or float added to the scores. */
  mask?: Tensor | null;
  /** (N, S): bool true (or float −∞) for padding positions. */
  srcKeyPaddingMask?: Tensor | null;
}

/** What a decoder layer or stack takes besides its inputs. */
export interface DecoderMasks {
  /** (T, T) or (N·nhead, T, T), e.g. generateSquareSubsequentMask(T). */
  tgtMask?: Tensor | null;
  /** (T, S) or (N·nhead, T, S). */
  memoryMask?: Tensor | null;
  /** (N, T) */
  tgtKeyPaddingMask?: Tensor | null;
  /** (N, S) */
  memoryKeyPaddingMask?: Tensor | null;
}

// PyTorch's fused encoder layer (its "fast path"): attention, feed-forward and norms in one kernel.
const transformerEncoderLayerFwd = aten('_transformer_encoder_layer_fwd');

/** Self-attention and a position-wise feed-forward layer, each with dropout, a residual connection and LayerNorm. */
export class TransformerEncoderLayer extends Module {
  readonly options: Resolved;
  self_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;

  constructor(dModel: number, nhead: number, options: TransformerLayerOptions = {}) {
    super();
    const o = (this.options = resolve('TransformerEncoderLayer', dModel, nhead, options));
    this.self_attn = new MultiheadAttention(dModel, nhead, { dropout: o.dropout, batchFirst: o.batchFirst });
    this.linear1 = new Linear(dModel, o.dimFeedforward);
    this.dropout = new Dropout(o.dropout);
    this.linear2 = new Linear(o.dimFeedforward, dModel);
    this.norm1 = new LayerNorm(dModel, { eps: o.layerNormEps });
    this.norm2 = new LayerNorm(dModel, { eps: o.layerNormEps });
    this.dropout1 = new Dropout(o.dropout);
    this.dropout2 = new Dropout(o.dropout);
  }

  /** src (S, N, E), or (N, S, E) with batchFirst → the same shape. */
  forward(src: Tensor, masks: EncoderMasks = {}): Tensor {
    if (this.fastPathApplies(src, masks)) {
      const [a, padding] = [this.self_attn, masks.srcKeyPaddingMask ?? null];
      const weights = [
        a.in_proj_weight, a.in_proj_bias!, a.out_proj.weight, a.out_proj.bias!, this.options.activation === 'gelu', this.options.normFirst, this.norm1.eps,
        this.norm1.weight!, this.norm1.bias!, this.norm2.weight!, this.norm2.bias!, this.linear1.weight, this.linear1.bias!, this.linear2.weight, this.linear2.bias!,
      ].map((w) => (w instanceof Tensor ? w.handle : w));
      // The padding mask as torch.nn passes it: mask type 1 (key padding, N × S).
      return new Tensor(transformerEncoderLayerFwd(src.handle, a.embedDim, a.numHeads, ...weights, padding?.handle ?? null, padding === null ? null : 1));
    }
    return scope(() => {
      const sa = (x: Tensor) =>
        this.dropout1.forward(this.self_attn.forward(x, x, x, { attnMask: masks.mask ?? null, keyPaddingMask: masks.srcKeyPaddingMask ?? null, needWeights: false })[0]);
      const ff = (x: Tensor) => this.dropout2.forward(this.linear2.forward(this.dropout.forward(activate(this.linear1.forward(x), this.options.activation))));
      if (this.options.normFirst) {
        const x = src.add(sa(this.norm1.forward(src)));
        return x.add(ff(this.norm2.forward(x)));
      }
      const x = this.norm1.forward(src.add(sa(src)));
      return this.norm2.forward(x.add(ff(x)));
    });
  }

  /**
   * Where torch.nn.TransformerEncoderLayer (1.13) takes its fused kernel, so
   * does this: evaluation mode, batch first, a batched input, no attention
   * mask (a boolean key-padding mask is fine), an even number of heads, and
   * no gradient to record.
   */
  private fastPathApplies(src: Tensor, masks: EncoderMasks): boolean {
    if (this.training || !this.options.batchFirst || !(src instanceof Tensor) || src.ndim !== 3 || src.shape[2] !== this.self_attn.embedDim) return false;
    if ((masks.mask ?? null) !== null || this.self_attn.numHeads % 2 === 1 || this.norm1.eps !== this.norm2.eps) return false;
    const padding = masks.srcKeyPaddingMask ?? null;
    if (padding !== null && (!(padding instanceof Tensor) || padding.dtype !== 'bool' || padding.ndim !== 2 || padding.shape[0] !== src.shape[0] || padding.shape[1] !== src.shape[1])) return false;
    if (src.dtype !== this.self_attn.in_proj_weight.dtype || src.device !== 'cpu') return false;
    return !(isGradEnabled() && (src.requiresGrad || this.parameters().some((p) => p.requiresGrad)));
  }
}

/** Masked self-attention, attention over the encoder's output, and a feed-forward layer, each with dropout, a residual connection and LayerNorm. */
export class TransformerDecoderLayer extends Module {
  readonly options: Resolved;
  self_attn: MultiheadAttention;
  multihead_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;

  constructor(dModel: number, nhead: number, options: TransformerLayerOptions = {}) {
    super();
    const o = (this.options = resolve('TransformerDecoderLayer', dModel, nhead, options));
    this.self_attn = new MultiheadAttention(dModel, nhead, { dropout: o.dropout, batchFirst: o.batchFirst });
    this.multihead_attn = new MultiheadAttention(dModel, nhead, { dropout: o.dropout, batchFirst: o.batchFirst });
    this.linear1 = new Linear(dModel, o.dimFeedforward);
    this.dropout = new Dropout(o.dropout);
    this.linear2 = new Linear(o.dimFeedforward, dModel);
    this.norm1 = new LayerNorm(dModel, { eps: o.layerNormEps });
    this.norm2 = new LayerNorm(dModel, { eps: o.layerNormEps });
    this.norm3 = new LayerNorm(dModel, { eps: o.layerNormEps });
    this.dropout1 = new Dropout(o.dropout);
    this.dropout2 = new Dropout(o.dropout);
    this.dropout3 = new Dropout(o.dropout);
  }

  /** tgt (T, N, E) and memory (S, N, E), or batch first → like tgt. */
  forward(tgt: Tensor, memory: Tensor, masks: DecoderMasks = {}): Tensor {
    return scope(() =>
      this.sublayers(
        tgt,
        (x) => this.self_attn.forward(x, x, x, { attnMask: masks.tgtMask ?? null, keyPaddingMask: masks.tgtKeyPaddingMask ?? null, needWeights: false })[0],
        (x) => this.multihead_attn.forward(x, memory, memory, { attnMask: masks.memoryMask ?? null, keyPaddingMask: masks.memoryKeyPaddingMask ?? null, needWeights: false })[0],
      ),
    );
  }

  /**
   * The encoder–decoder attention weights of this layer for the input tgt,
   * averaged over the heads: (N, T, S) (batch first; (N, T, S) too
   * otherwise, as torch.nn.MultiheadAttention returns them). For attention maps.
   */
  crossAttentionWeights(tgt: Tensor, memory: Tensor, masks: DecoderMasks = {}): Tensor {
    let weights: Tensor | null = null;
    return scope(() => {
      this.sublayers(
        tgt,
        (x) => this.self_attn.forward(x, x, x, { attnMask: masks.tgtMask ?? null, keyPaddingMask: masks.tgtKeyPaddingMask ?? null, needWeights: false })[0],
        (x) => {
          const [out, w] = this.multihead_attn.forward(x, memory, memory, { attnMask: masks.memoryMask ?? null, keyPaddingMask: masks.memoryKeyPaddingMask ?? null, needWeights: true });
          weights = w;
          return out;
        },
      );
      return weights!;
    });
  }

  /**
   * One decoding step, batch first: the newest target position x (N, 1, E)
   * attends to the cached keys and values of the earlier positions (and its
   * own, which it appends to `cache`) and to memory (N, S, E), whose keys and
   * values are projected once and cached. Gives the full forward pass's
   * output at that position under the causal mask.
   */
  forwardStep(x: Tensor, memory: Tensor, cache: DecoderLayerCache, memoryKeyPaddingMask: Tensor | null = null): Tensor {
    if (!this.options.batchFirst) throw new TypeError('TransformerDecoderLayer.forwardStep: incremental decoding works batch first; build the layer with batchFirst: true');
    return scope(() =>
      this.sublayers(
        x,
        (h) => {
          const { k, v } = this.self_attn.projectKeyValue(h);
          cache.append(k, v);
          return this.self_attn.attendProjected(h, cache.keys!, cache.values!);
        },
        (h) => {
          if (cache.memoryKeys === null) cache.setMemory(this.multihead_attn.projectKeyValue(memory));
          return this.multihead_attn.attendProjected(h, cache.memoryKeys!, cache.memoryValues!, memoryKeyPaddingMask);
        },
      ),
    );
  }

  // The three sublayers with their dropout, residual connections and norms (before or after), around the two attentions given.
  private sublayers(tgt: Tensor, selfAttention: (x: Tensor) => Tensor, memoryAttention: (x: Tensor) => Tensor): Tensor {
    const sa = (x: Tensor) => this.dropout1.forward(selfAttention(x));
    const mha = (x: Tensor) => this.dropout2.forward(memoryAttention(x));
    const ff = (x: Tensor) => this.dropout3.forward(this.linear2.forward(this.dropout.forward(activate(this.linear1.forward(x), this.options.activation))));
    if (this.options.normFirst) {
      let x = tgt.add(sa(this.norm1.forward(tgt)));
      x = x.add(mha(this.norm2.forward(x)));
      return x.add(ff(this.norm3.forward(x)));
    }
    let x = this.norm1.forward(tgt.add(sa(tgt)));
    x = this.norm2.forward(x.add(mha(x)));
    return this.norm3.forward(x.add(ff(x)));
  }
}

/**
 * What one decoder layer keeps between decoding steps: the self-attention's
 * projected keys and values of every position so far (N, heads, t, d), and
 * the memory's (N, heads, S, d), projected once. Its tensors live until
 * dispose().
 */
export class DecoderLayerCache {
  keys: Tensor | null = null;
  values: Tensor | null = null;
  memoryKeys: Tensor | null = null;
  memoryValues: Tensor | null = null;

  /** Appends one step's keys and values (N, heads, 1, d). */
  append(k: Tensor, v: Tensor): void {
    const [keys, values] = [this.keys, this.values];
    this.keys = (keys === null ? k.clone() : cat([keys, k], 2)).keep();
    this.values = (values === null ? v.clone() : cat([values, v], 2)).keep();
    keys?.dispose();
    values?.dispose();
  }

  setMemory({ k, v }: { k: Tensor; v: Tensor }): void {
    this.memoryKeys = k.clone().keep();
    this.memoryValues = v.clone().keep();
  }

  /** Keeps the rows `index` (int64 [N']) of every cached tensor, e.g. the surviving beams. */
  select(index: Tensor): void {
    for (const key of ['keys', 'values', 'memoryKeys', 'memoryValues'] as const) {
      const t = this[key];
      if (t !== null) {
        this[key] = t.indexSelect(0, index).keep();
        t.dispose();
      }
    }
  }

  dispose(): void {
    for (const t of [this.keys, this.values, this.memoryKeys, this.memoryValues]) t?.dispose();
    this.keys = this.values = this.memoryKeys = this.memoryValues = null;
  }
}

/** A stack of encoder layers (`layers.0` …) and an optional final LayerNorm (`norm`). */
export class TransformerEncoder extends Module {
  layers: ModuleList;
  norm: LayerNorm | null;

  /** `makeLayer(i)` builds layer i (torch.nn deep-copies one layer; a builder gives each its own initialisation). */
  constructor(makeLayer: (index: number) => TransformerEncoderLayer, numLayers: number, norm: LayerNorm | null = null) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new RangeError(`TransformerEncoder: numLayers must be a positive integer, got ${describeValue(numLayers)}`);
    this.layers = new ModuleList(Array.from({ length: numLayers }, (_, i) => makeLayer(i)));
    this.norm = norm;
  }

  forward(src: Tensor, masks: EncoderMasks = {}): Tensor {
    return scope(() => {
      let x = src;
      for (const layer of this.layers.children() as TransformerEncoderLayer[]) x = layer.forward(x, masks);
      return this.norm === null ? x : this.norm.forward(x);
    });
  }
}

/** A stack of decoder layers (`layers.0` …) and an optional final LayerNorm (`norm`). */
export class TransformerDecoder extends Module {
  layers: ModuleList;
  norm: LayerNorm | null;

  constructor(makeLayer: (index: number) => TransformerDecoderLayer, numLayers: number, norm: LayerNorm | null = null) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new RangeError(`TransformerDecoder: numLayers must be a positive integer, got ${describeValue(numLayers)}`);
    this.layers = new ModuleList(Array.from({ length: numLayers }, (_, i) => makeLayer(i)));
    this.norm = norm;
  }

  forward(tgt: Tensor, memory: Tensor, masks: DecoderMasks = {}): Tensor {
    return scope(() => {
      let x = tgt;
      for (const layer of this.layers.children() as TransformerDecoderLayer[]) x = layer.forward(x, memory, masks);
      return this.norm === null ? x : this.norm.forward(x);
    });
  }

  /** The encoder–decoder attention weights of layer `layer` (negative counts from the end), averaged over the heads: (N, T, S). */
  crossAttentionWeights(tgt: Tensor, memory: Tensor, masks: DecoderMasks = {}, layer = -1): Tensor {
    const layers = this.layers.children() as TransformerDecoderLayer[];
    const index = layer < 0 ? layers.length + layer : layer;
    if (!Number.isInteger(index) || index < 0 || index >= layers.length) throw new RangeError(`TransformerDecoder.crossAttentionWeights: layer ${String(layer)} is not one of the ${layers.length} layers`);
    return scope(() => {
      let x = tgt;
      for (const l of layers.slice(0, index)) x = l.forward(x, memory, masks);
      return layers[index].crossAttentionWeights(x, memory, masks);
    });
  }

  /** A cache per layer for forwardStep. */
  newCache(): DecoderLayerCache[] {
    return this.layers.children().map(() => new DecoderLayerCache());
  }

  /** One decoding step through every layer (see TransformerDecoderLayer.forwardStep): x (N, 1, E) → (N, 1, E). */
  forwardStep(x: Tensor, memory: Tensor, cache: readonly DecoderLayerCache[], memoryKeyPaddingMask: Tensor | null = null): Tensor {
    const layers = this.layers.children() as TransformerDecoderLayer[];
    if (cache.length !== layers.length) throw new RangeError(`TransformerDecoder.forwardStep: expected a cache of ${layers.length} layers (newCache()), got ${cache.length}`);
    return scope(() => {
      let h = x;
      layers.forEach((layer, i) => {
        h = layer.forwardStep(h, memory, cache[i], memoryKeyPaddingMask);
      });
      return this.norm === null ? h : this.norm.forward(h);
    });
  }
}

export interface TransformerOptions extends TransformerLayerOptions {
  dModel?: number;
  nhead?: number;
  numEncoderLayers?: number;
  numDecoderLayers?: number;
}

/** What Transformer.forward takes besides src and tgt. */
export interface TransformerMasks {
  srcMask?: Tensor | null;
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
}

/**
 * torch.nn.Transformer: an encoder stack and a decoder stack, each ending in
 * LayerNorm (d_model 512, 8 heads, 6 + 6 layers, feed-forward 2048, dropout
 * 0.1 by default); every parameter with more than one dimension starts
 * xavier-uniform, as torch.nn's _reset_parameters.
 */
export class Transformer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;
  encoder: TransformerEncoder;
  decoder: TransformerDecoder;

  constructor(options: TransformerOptions = {}) {
    super();
    const { dModel = 512, nhead = 8, numEncoderLayers = 6, numDecoderLayers = 6, ...layer } = options;
    const o = resolve('Transformer', dModel, nhead, layer);
    this.dModel = dModel;
    this.nhead = nhead;
    this.batchFirst = o.batchFirst;
    this.encoder = new TransformerEncoder(() => new TransformerEncoderLayer(dModel, nhead, o), numEncoderLayers, new LayerNorm(dModel, { eps: o.layerNormEps }));
    this.decoder = new TransformerDecoder(() => new TransformerDecoderLayer(dModel, nhead, o), numDecoderLayers, new LayerNorm(dModel, { eps: o.layerNormEps }));
    for (const p of this.parameters()) if (p.ndim > 1) init.xavierUniform_(p);
  }

  /** src (S, N, E) and tgt (T, N, E), or batch first → (T, N, E) like tgt. */
  forward(src: Tensor, tgt: Tensor, masks: TransformerMasks = {}): Tensor {
    for (const [name, t] of [['src', src], ['tgt', tgt]] as const) {
      if (!(t instanceof Tensor)) throw new TypeError(`Transformer: ${name} must be a Tensor, got ${describeValue(t)}`);
      if (t.ndim !== 3 && t.ndim !== 2) throw new RangeError(`Transformer: ${name} must be ${this.batchFirst ? '(N, L, E)' : '(L, N, E)'} or unbatched (L, E), got ${t.describe()}`);
      if (t.shape[t.ndim - 1] !== this.dModel) throw new RangeError(`Transformer: the feature number of ${name} must be equal to dModel ${this.dModel}, got ${t.describe()}`);
    }
    const batchDim = this.batchFirst ? 0 : 1;
    if (src.ndim !== tgt.ndim || (src.ndim === 3 && src.shape[batchDim] !== tgt.shape[batchDim]))
      throw new RangeError(`Transformer: the batch number of src ${src.describe()} and tgt ${tgt.describe()} must be equal`);
    return scope(() => {
      const memory = this.encoder.forward(src, { mask: masks.srcMask, srcKeyPaddingMask: masks.srcKeyPaddingMask });
      return this.decoder.forward(tgt, memory, {
        tgtMask: masks.tgtMask,
        memoryMask: masks.memoryMask,
        tgtKeyPaddingMask: masks.tgtKeyPaddingMask,
        memoryKeyPaddingMask: masks.memoryKeyPaddingMask,
      });
    });
  }
}

/** The causal mask (size, size): 0 on and below the diagonal, −∞ above, as Transformer.generate_square_subsequent_mask. */
export function generateSquareSubsequentMask(size: number, options: { dtype?: DType } = {}): Tensor {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`generateSquareSubsequentMask: size must be a positive integer, got ${describeValue(size)}`);
  return scope(() => full([size, size], -Infinity, { dtype: options.dtype ?? 'float32' }).triu(1));
}
