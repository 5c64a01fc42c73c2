// The sequence-to-sequence model of Vaswani et al. (2017), "Attention Is All
// You Need": token embeddings scaled by √d_model plus the sinusoidal position
// encodings of §3.5, dropout on their sum, torch.nn.Transformer's post-norm
// encoder–decoder under `transformer.`, and a final linear layer to the
// target vocabulary (`generator`). The paper shares one matrix between the
// source embedding, the target embedding and the pre-softmax projection
// (§3.4); each tie is an option. Tied weights are stored under each of their
// names, as PyTorch's state_dict lists them, and loading checks that the
// copies agree.
import { noGrad } from '../tensor/autograd.js';
import { arange } from '../tensor/creation.js';
import { stack } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as init from '../nn/init.js';
import { Dropout, Embedding, Linear } from '../nn/layers.js';
import { Buffer, Module, type LoadResult, type StateDict } from '../nn/module.js';
import { DecoderLayerCache, generateSquareSubsequentMask, Transformer } from '../nn/transformer.js';
import type { SequenceToSequenceEntry } from './registry.js';

export interface TransformerModelConfig {
  srcVocab: number;
  tgtVocab: number;
  dModel: number;
  nhead: number;
  numEncoderLayers: number;
  numDecoderLayers: number;
  dimFeedforward: number;
  /** Residual, embedding and attention dropout (P_drop). */
  dropout: number;
  /** One embedding matrix for source and target (needs srcVocab = tgtVocab). */
  shareEmbeddings: boolean;
  /** The pre-softmax projection is the target embedding matrix (and has no bias). */
  tieGenerator: boolean;
  /** The padding token, ignored by attention and by the loss. */
  padIdx: number;
  /** Longest sequence the position encodings cover. */
  maxLen: number;
  /** The paper's fixed sine and cosine encodings (§3.5), or learned position embeddings (Table 3, row E). */
  positionEncoding: 'sinusoidal' | 'learned';
}

/**
 * The paper's base and big models (Table 3), with its shared 37,000-token
 * vocabulary and all three matrices tied: 63.1M and 214.2M parameters (the
 * paper rounds them to 65M and 213M); and the grapheme-to-phoneme model of
 * `netlab reproduce transformer` (CMUdict's 71-token G2P vocabulary, the
 * size of the published 3×256 G2P Transformer).
 */
export const TRANSFORMER_PRESETS = {
  transformer_base: { srcVocab: 37000, tgtVocab: 37000, dModel: 512, nhead: 8, numEncoderLayers: 6, numDecoderLayers: 6, dimFeedforward: 2048, dropout: 0.1, shareEmbeddings: true, tieGenerator: true, padIdx: 0, maxLen: 1024, positionEncoding: 'sinusoidal' },
  transformer_big: { srcVocab: 37000, tgtVocab: 37000, dModel: 1024, nhead: 16, numEncoderLayers: 6, numDecoderLayers: 6, dimFeedforward: 4096, dropout: 0.3, shareEmbeddings: true, tieGenerator: true, padIdx: 0, maxLen: 1024, positionEncoding: 'sinusoidal' },
  transformer_g2p: { srcVocab: 71, tgtVocab: 71, dModel: 256, nhead: 4, numEncoderLayers: 3, numDecoderLayers: 3, dimFeedforward: 1024, dropout: 0.1, shareEmbeddings: true, tieGenerator: true, padIdx: 0, maxLen: 256, positionEncoding: 'sinusoidal' },
} satisfies Record<string, TransformerModelConfig>;

export type TransformerPreset = keyof typeof TRANSFORMER_PRESETS;

const CONFIG_KEYS = Object.keys(TRANSFORMER_PRESETS.transformer_base) as (keyof TransformerModelConfig)[];

/** A checked configuration: `base` with `overrides`. */
export function transformerConfig(base: TransformerModelConfig, overrides: Partial<TransformerModelConfig> = {}): TransformerModelConfig {
  const unknown = Object.keys(overrides).find((k) => !(CONFIG_KEYS as string[]).includes(k));
  if (unknown !== undefined) throw new TypeError(`Transformer: unknown configuration field '${unknown}'; known: ${CONFIG_KEYS.join(', ')}`);
  const c: TransformerModelConfig = { ...base, ...overrides };
  for (const key of ['srcVocab', 'tgtVocab', 'dModel', 'nhead', 'numEncoderLayers', 'numDecoderLayers', 'dimFeedforward', 'maxLen'] as const) {
    if (!Number.isInteger(c[key]) || c[key] <= 0) throw new RangeError(`Transformer: ${key} must be a positive integer, got ${describeValue(c[key])}`);
  }
  if (c.dModel % c.nhead !== 0) throw new RangeError(`Transformer: d_model ${c.dModel} is not divisible by the ${c.nhead} heads`);
  if (c.dModel % 2 !== 0) throw new RangeError(`Transformer: d_model must be even for the sine and cosine position encodings, got ${c.dModel}`);
  if (c.shareEmbeddings && c.srcVocab !== c.tgtVocab) throw new RangeError(`Transformer: shared embeddings need one vocabulary, got ${c.srcVocab} source and ${c.tgtVocab} target tokens`);
  if (!Number.isInteger(c.padIdx) || c.padIdx < 0 || c.padIdx >= Math.min(c.srcVocab, c.tgtVocab)) throw new RangeError(`Transformer: padIdx must be a token id of both vocabularies, got ${describeValue(c.padIdx)}`);
  if (c.positionEncoding !== 'sinusoidal' && c.positionEncoding !== 'learned') throw new RangeError(`Transformer: positionEncoding must be 'sinusoidal' or 'learned', got ${describeValue(c.positionEncoding)}`);
  if (!(c.dropout >= 0 && c.dropout <= 1)) throw new RangeError(`Transformer: dropout must be in [0, 1], got ${describeValue(c.dropout)}`);
  return c;
}

/** Learnable parameters of a configuration, tied matrices counted once, without building it. */
export function transformerParameterCount(c: TransformerModelConfig): number {
  const D = c.dModel;
  const F = c.dimFeedforward;
  const attention = 4 * D * D + 4 * D;
  const feedForward = 2 * D * F + F + D;
  const encoderLayer = attention + feedForward + 4 * D;
  const decoderLayer = 2 * attention + feedForward + 6 * D;
  const embeddings = c.srcVocab * D + (c.shareEmbeddings ? 0 : c.tgtVocab * D) + (c.tieGenerator ? 0 : c.tgtVocab * D + c.tgtVocab) + (c.positionEncoding === 'learned' ? c.maxLen * D : 0);
  return embeddings + c.numEncoderLayers * encoderLayer + c.numDecoderLayers * decoderLayer + 4 * D;
}

/**
 * The sinusoidal position encodings of §3.5, (maxLen, dModel): PE(pos, 2i) =
 * sin(pos / 10000^(2i/dModel)) and PE(pos, 2i + 1) = cos(pos / 10000^(2i/dModel)).
 */
export function sinusoidalPositionEncoding(maxLen: number, dModel: number): Tensor {
  if (!Number.isInteger(maxLen) || maxLen <= 0) throw new RangeError(`sinusoidalPositionEncoding: maxLen must be a positive integer, got ${describeValue(maxLen)}`);
  if (!Number.isInteger(dModel) || dModel <= 0 || dModel % 2 !== 0) throw new RangeError(`sinusoidalPositionEncoding: dModel must be a positive even integer, got ${describeValue(dModel)}`);
  return scope(() => {
    const position = arange(maxLen, { dtype: 'float64' }).unsqueeze(1); // (maxLen, 1)
    const frequency = arange(0, dModel, 2, { dtype: 'float64' }).div(dModel).mul(-Math.log(10000)).exp(); // 10000^(−2i/dModel), (dModel/2,)
    const angle = position.mul(frequency); // (maxLen, dModel/2)
    // Interleaved: sin at even, cos at odd dimensions.
    return stack([angle.sin(), angle.cos()], -1).reshape(maxLen, dModel).float();
  });
}

/** The paper's model: (src [N, S], tgt [N, T]) token ids → logits [N, T, tgtVocab]. */
export class TransformerModel extends Module {
  readonly config: TransformerModelConfig;
  src_embed: Embedding;
  tgt_embed: Embedding;
  transformer: Transformer;
  generator: Linear;
  dropout: Dropout;
  /** Sinusoidal: (maxLen, dModel), not in the state dict (PyTorch's persistent=False). */
  position_encoding?: Buffer;
  /** Learned: one row per position, shared by source and target as the fixed encodings are. */
  position_embedding?: Embedding;

  constructor(config: TransformerModelConfig) {
    super();
    const c = (this.config = transformerConfig(config));
    const { dModel: D } = c;
    this.src_embed = new Embedding(c.srcVocab, D, { paddingIdx: c.padIdx });
    this.tgt_embed = new Embedding(c.tgtVocab, D, { paddingIdx: c.padIdx });
    this.transformer = new Transformer({
      dModel: D, nhead: c.nhead, numEncoderLayers: c.numEncoderLayers, numDecoderLayers: c.numDecoderLayers, dimFeedforward: c.dimFeedforward, dropout: c.dropout, batchFirst: true,
    });
    this.generator = new Linear(D, c.tgtVocab, { bias: !c.tieGenerator });
    this.dropout = new Dropout(c.dropout);
    if (c.positionEncoding === 'sinusoidal') this.position_encoding = Buffer.adopt(sinusoidalPositionEncoding(c.maxLen, D), { persistent: false });
    else this.position_embedding = new Embedding(c.maxLen, D);
    // Embeddings N(0, d^−½) (fairseq's, for matrices the output projection shares), the padding row zero.
    for (const embedding of [this.src_embed, this.tgt_embed]) {
      init.normal_(embedding.weight, 0, D ** -0.5);
      embedding.resetPaddingRow();
    }
    if (this.position_embedding !== undefined) init.normal_(this.position_embedding.weight, 0, D ** -0.5);
    if (c.shareEmbeddings) this.tie(this.tgt_embed, this.src_embed.weight);
    if (c.tieGenerator) this.tie(this.generator, this.tgt_embed.weight);
  }

  // Makes `module.weight` the shared matrix, freeing its own.
  private tie(module: Embedding | Linear, weight: Embedding['weight']): void {
    module.weight.dispose();
    module.weight = weight;
  }

  /** The tied names of the state dict, pairwise: loading checks that each pair holds equal tensors. */
  private tiedKeys(): [string, string][] {
    const pairs: [string, string][] = [];
    if (this.config.shareEmbeddings) pairs.push(['src_embed.weight', 'tgt_embed.weight']);
    if (this.config.tieGenerator) pairs.push(['tgt_embed.weight', 'generator.weight']);
    return pairs;
  }

  override loadStateDict(stateDict: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const given = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
    for (const [a, b] of this.tiedKeys()) {
      const [x, y] = [given.get(a), given.get(b)];
      if (x instanceof Tensor && y instanceof Tensor && (x.ndim !== y.ndim || x.shape.some((d, i) => d !== y.shape[i]) || !scope(() => x.equal(y))))
        throw new Error(`loadStateDict: '${a}' and '${b}' are one tied matrix in this model, but the state dict holds different tensors under the two names`);
    }
    return super.loadStateDict(given, options);
  }

  // Token ids [N, L] of a vocabulary of `vocab`: checked, then embedded, scaled by √d, with position encodings and dropout.
  private embed(name: 'src' | 'tgt', ids: Tensor, embedding: Embedding, offset = 0): Tensor {
    const vocab = embedding.numEmbeddings;
    if (!(ids instanceof Tensor)) throw new TypeError(`TransformerModel: ${name} must be a Tensor of token ids [N, L], got ${describeValue(ids)}`);
    if (ids.dtype !== 'int64' && ids.dtype !== 'int32') throw new TypeError(`TransformerModel: ${name} must hold integer token ids (int64), got ${ids.describe()}`);
    if (ids.ndim !== 2 || ids.shape[1] === 0) throw new RangeError(`TransformerModel: ${name} must be [N, L] token ids with L ≥ 1, got ${ids.describe()}`);
    if (offset + ids.shape[1] > this.config.maxLen) throw new RangeError(`TransformerModel: ${name} reaches position ${offset + ids.shape[1]}; the position encodings cover ${this.config.maxLen} (maxLen)`);
    const [low, high] = scope(() => [ids.min().item(), ids.max().item()]);
    if (low < 0 || high >= vocab) throw new RangeError(`TransformerModel: ${name} holds token ids in [${low}, ${high}], outside the vocabulary of ${vocab} (0 … ${vocab - 1})`);
    return scope(() => {
      const length = ids.shape[1];
      const positions = this.position_embedding !== undefined ? this.position_embedding.weight.narrow(0, offset, length) : this.position_encoding!.narrow(0, offset, length);
      const x = embedding.forward(ids.long()).mul(Math.sqrt(this.config.dModel)).add(positions);
      return this.dropout.forward(x);
    });
  }

  /**
   * Teacher-forced logits: src [N, S] and tgt [N, T] (int64, padIdx for
   * padding) → [N, T, tgtVocab], the decoder under the causal mask, padding
   * ignored by every attention.
   */
  forward(src: Tensor, tgt: Tensor): Tensor {
    return scope(() => {
      const x = this.embed('src', src, this.src_embed);
      const y = this.embed('tgt', tgt, this.tgt_embed);
      if (src.shape[0] !== tgt.shape[0]) throw new RangeError(`TransformerModel: src ${src.describe()} and tgt ${tgt.describe()} must hold the same number of sequences`);
      const pad = this.config.padIdx;
      const srcPadding = src.eq(pad);
      const out = this.transformer.forward(x, y, {
        tgtMask: generateSquareSubsequentMask(tgt.shape[1]),
        srcKeyPaddingMask: srcPadding,
        tgtKeyPaddingMask: tgt.eq(pad),
        memoryKeyPaddingMask: srcPadding,
      });
      return this.generator.forward(out);
    });
  }

  /**
   * The encoder–decoder attention of decoder layer `layer` (the last by
   * default) while reading the teacher-forced tgt, averaged over the heads:
   * (N, T, S), row t the attention of the prediction at position t + 1 over
   * the source positions. In evaluation mode, without gradients.
   */
  crossAttention(src: Tensor, tgt: Tensor, layer = -1): Tensor {
    const wasTraining = this.training;
    this.eval();
    try {
      return noGrad(() =>
        scope(() => {
          const { memory, padding } = this.encode(src);
          const y = this.embed('tgt', tgt, this.tgt_embed);
          return this.transformer.decoder.crossAttentionWeights(y, memory, { tgtMask: generateSquareSubsequentMask(tgt.shape[1]), tgtKeyPaddingMask: tgt.eq(this.config.padIdx), memoryKeyPaddingMask: padding }, layer);
        }),
      );
    } finally {
      this.train(wasTraining);
    }
  }

  /** src [N, S] → the encoder's output memory (N, S, d_model) and the source padding mask (N, S), for decodeStep. */
  encode(src: Tensor): { memory: Tensor; padding: Tensor } {
    return scope(() => {
      const x = this.embed('src', src, this.src_embed);
      const padding = src.eq(this.config.padIdx);
      return { memory: this.transformer.encoder.forward(x, { srcKeyPaddingMask: padding }), padding };
    });
  }

  /** Per-layer caches for decodeStep. */
  newCache(): DecoderLayerCache[] {
    return this.transformer.decoder.newCache();
  }

  /**
   * Incremental decoding: the tokens at target position `position` (N,
   * int64; position 0 is the start token) → logits (N, tgtVocab) for the next
   * position, attending to the cached earlier positions (the cache grows by
   * one). The same logits as forward's at that position, in O(1) layer calls.
   */
  decodeStep(tokens: Tensor, position: number, memory: Tensor, padding: Tensor, cache: DecoderLayerCache[]): Tensor {
    if (!(tokens instanceof Tensor) || tokens.ndim !== 1) throw new RangeError(`TransformerModel.decodeStep: tokens must be [N] token ids, got ${describeValue(tokens)}`);
    if (cache.length > 0 && (cache[0].keys?.shape[2] ?? 0) !== position)
      throw new RangeError(`TransformerModel.decodeStep: the cache holds ${cache[0].keys?.shape[2] ?? 0} positions, so the next is ${cache[0].keys?.shape[2] ?? 0}, not ${position}`);
    return scope(() => {
      const y = this.embed('tgt', tokens.unsqueeze(1), this.tgt_embed, position);
      return this.generator.forward(this.transformer.decoder.forwardStep(y, memory, cache, padding)).squeeze(1);
    });
  }

  protected override extraRepr(): string {
    const c = this.config;
    return `src_vocab=${c.srcVocab}, tgt_vocab=${c.tgtVocab}, d_model=${c.dModel}, share_embeddings=${c.shareEmbeddings}, tie_generator=${c.tieGenerator}, position_encoding=${c.positionEncoding}`;
  }
}

/** The paper's model from a preset, with any field overridden. */
export function transformerModel(preset: TransformerPreset, overrides: Partial<TransformerModelConfig> = {}): TransformerModel {
  const base: TransformerModelConfig | undefined = TRANSFORMER_PRESETS[preset];
  if (base === undefined) throw new RangeError(`transformerModel: unknown preset '${String(preset)}'; known: ${Object.keys(TRANSFORMER_PRESETS).join(', ')}`);
  return new TransformerModel(transformerConfig(base, overrides));
}

const DESCRIPTIONS: Record<TransformerPreset, string> = {
  transformer_base: 'Transformer (base) of Vaswani et al. (2017): N 6, d_model 512, d_ff 2048, h 8, dropout 0.1, a shared 37,000-token vocabulary, all three matrices tied',
  transformer_big: 'Transformer (big) of Vaswani et al. (2017): N 6, d_model 1024, d_ff 4096, h 16, dropout 0.3, a shared 37,000-token vocabulary, all three matrices tied',
  transformer_g2p: 'Grapheme-to-phoneme Transformer for CMUdict (netlab reproduce transformer, netlab g2p): N 3, d_model 256, d_ff 1024, h 4, dropout 0.1, the 71-token G2P vocabulary, all three matrices tied',
};

/** Registry entries for every preset; the registry adds them. */
export const TRANSFORMER_MODEL_ENTRIES: SequenceToSequenceEntry[] = (Object.keys(TRANSFORMER_PRESETS) as TransformerPreset[]).map((name) => {
  const config = transformerConfig(TRANSFORMER_PRESETS[name]);
  return {
    name,
    task: 'sequence-to-sequence',
    description: DESCRIPTIONS[name],
    build: (options?: Record<string, unknown>) => transformerModel(name, options as Partial<TransformerModelConfig>),
    config,
    parameterCount: transformerParameterCount(config),
    srcVocab: config.srcVocab,
    tgtVocab: config.tgtVocab,
    padIdx: config.padIdx,
  };
});
