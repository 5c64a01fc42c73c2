// BERT: Devlin, Chang, Lee & Toutanova, "BERT: Pre-training of Deep
// Bidirectional Transformers for Language Understanding" (NAACL 2019), in the
// module layout of Hugging Face's transformers (modeling_bert.py), so that a
// checkpoint converted from it loads by the same state-dict keys and gives
// the same outputs: token + segment + position embeddings with LayerNorm and
// dropout, post-norm encoder layers with exact-erf GELU, the tanh pooler on
// [CLS], and the heads of pre-training (masked LM with its decoder tied to the
// word embeddings, next-sentence prediction) and of fine-tuning. LayerNorm
// ε = 1e-12 and N(0, 0.02) initialisation, as BERT's code. Attention masks are
// Hugging Face's: 1 attends, 0 is padding.
import { zeros } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import * as init from '../nn/init.js';
import { scaledDotProductAttention } from '../nn/attention.js';
import { ModuleList } from '../nn/container.js';
import { Dropout, Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Module, Parameter, type LoadResult, type StateDict } from '../nn/module.js';
import type { LanguageModelEntry } from './registry.js';

export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Width of each layer's feed-forward block (4 × hiddenSize in the paper's models). */
  intermediateSize: number;
  /** Dropout on the embeddings and after each sub-layer. */
  hiddenDropoutProb: number;
  /** Dropout on the attention weights. */
  attentionProbsDropoutProb: number;
  /** Longest sequence the position embeddings cover. */
  maxPositionEmbeddings: number;
  /** Segment types (2: sentence A and B). */
  typeVocabSize: number;
  layerNormEps: number;
  /** Standard deviation of the N(0, σ) initialisation. */
  initializerRange: number;
  /** The [PAD] token id: its word embedding starts at zero. */
  padTokenId: number;
}

/** BERT's released configuration apart from the sizes (bert_config.json). */
export const BERT_DEFAULTS: Omit<BertConfig, 'hiddenSize' | 'numHiddenLayers' | 'numAttentionHeads' | 'intermediateSize'> = {
  vocabSize: 30522,
  hiddenDropoutProb: 0.1,
  attentionProbsDropoutProb: 0.1,
  maxPositionEmbeddings: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  initializerRange: 0.02,
  padTokenId: 0,
};

type Sizes = Pick<BertConfig, 'hiddenSize' | 'numHiddenLayers' | 'numAttentionHeads' | 'intermediateSize'>;

/**
 * The paper's BERT-Base and BERT-Large (uncased, 30,522 WordPiece tokens) and
 * the small BERTs of Turc et al. (2019), "Well-Read Students Learn Better"
 * (L layers of width H, H/64 heads, 4H feed-forward).
 */
export const BERT_PRESETS = {
  bert_base_uncased: { hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, intermediateSize: 3072 },
  bert_large_uncased: { hiddenSize: 1024, numHiddenLayers: 24, numAttentionHeads: 16, intermediateSize: 4096 },
  bert_tiny: { hiddenSize: 128, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 512 },
  bert_mini: { hiddenSize: 256, numHiddenLayers: 4, numAttentionHeads: 4, intermediateSize: 1024 },
  bert_small: { hiddenSize: 512, numHiddenLayers: 4, numAttentionHeads: 8, intermediateSize: 2048 },
  bert_medium: { hiddenSize: 512, numHiddenLayers: 8, numAttentionHeads: 8, intermediateSize: 2048 },
} satisfies Record<string, Sizes>;

export type BertPreset = keyof typeof BERT_PRESETS;

const CONFIG_KEYS = Object.keys({ ...BERT_DEFAULTS, ...BERT_PRESETS.bert_tiny }) as (keyof BertConfig)[];

/** A checked configuration: BERT's defaults, then `sizes`, then `overrides` (which may come untyped). */
export function bertConfig(sizes: Sizes, overrides: Partial<BertConfig> = {}): BertConfig {
  const unknown = Object.keys({ ...sizes, ...overrides }).find((k) => !(CONFIG_KEYS as string[]).includes(k));
  if (unknown !== undefined) throw new TypeError(`BERT: unknown configuration field '${unknown}'; known: ${CONFIG_KEYS.join(', ')}`);
  const c: BertConfig = { ...BERT_DEFAULTS, ...sizes, ...overrides };
  for (const key of ['vocabSize', 'hiddenSize', 'numHiddenLayers', 'numAttentionHeads', 'intermediateSize', 'maxPositionEmbeddings', 'typeVocabSize'] as const) {
    if (!Number.isInteger(c[key]) || c[key] <= 0) throw new RangeError(`BERT: ${key} must be a positive integer, got ${describeValue(c[key])}`);
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) throw new RangeError(`BERT: hiddenSize ${c.hiddenSize} is not divisible by the ${c.numAttentionHeads} attention heads`);
  for (const key of ['hiddenDropoutProb', 'attentionProbsDropoutProb'] as const) {
    if (!(c[key] >= 0 && c[key] <= 1)) throw new RangeError(`BERT: ${key} must be in [0, 1], got ${describeValue(c[key])}`);
  }
  if (!(c.layerNormEps > 0)) throw new RangeError(`BERT: layerNormEps must be positive, got ${describeValue(c.layerNormEps)}`);
  if (!(c.initializerRange > 0)) throw new RangeError(`BERT: initializerRange must be positive, got ${describeValue(c.initializerRange)}`);
  if (!Number.isInteger(c.padTokenId) || c.padTokenId < 0 || c.padTokenId >= c.vocabSize) throw new RangeError(`BERT: padTokenId must be a token id (0 … ${c.vocabSize - 1}), got ${describeValue(c.padTokenId)}`);
  return c;
}

/** Learnable parameters of `BertModel` (with its pooler), without building it: bert_base_uncased 109,482,240. */
export function bertParameterCount(c: BertConfig, options: { pooler?: boolean } = {}): number {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const embeddings = (c.vocabSize + c.maxPositionEmbeddings + c.typeVocabSize) * H + 2 * H;
  const layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H;
  return embeddings + c.numHiddenLayers * layer + ((options.pooler ?? true) ? H * H + H : 0);
}

/** The inputs of every BERT model: token ids [N, L] and, optionally, segment ids and the attention mask, both [N, L]. */
export interface BertInputs {
  inputIds: Tensor;
  /** Segment of each token, 0 (sentence A) or 1 (sentence B); all 0 when absent. */
  tokenTypeIds?: Tensor | null;
  /** 1 where a token is attended to, 0 for padding; all 1 when absent. */
  attentionMask?: Tensor | null;
}

// Checks integer ids [N, L] within [0, limit); `what` names them in errors.
function checkIds(what: string, ids: unknown, shape: number[] | null, limit: number, meaning: string): Tensor {
  if (!(ids instanceof Tensor)) throw new TypeError(`BERT: ${what} must be a Tensor [N, L] of integers, got ${describeValue(ids)}`);
  if (ids.dtype !== 'int64' && ids.dtype !== 'int32') throw new TypeError(`BERT: ${what} must hold integers (int64), got ${ids.describe()}`);
  if (shape === null ? ids.ndim !== 2 || ids.shape[1] === 0 : ids.ndim !== 2 || ids.shape[0] !== shape[0] || ids.shape[1] !== shape[1])
    throw new RangeError(`BERT: ${what} must be ${shape === null ? '[N, L] with L ≥ 1' : `[${shape.join(', ')}], the shape of input_ids`}, got ${ids.describe()}`);
  if (ids.numel() > 0) {
    const [low, high] = scope(() => [ids.min().item(), ids.max().item()]);
    if (low < 0 || high >= limit) throw new RangeError(`BERT: ${what} holds values in [${low}, ${high}]; ${meaning}`);
  }
  return ids;
}

// An attention mask [N, L] of 1 (attend) and 0 (padding): integers, floats or booleans (true attends).
function checkMask(mask: unknown, n: number, l: number): void {
  if (!(mask instanceof Tensor)) throw new TypeError(`BERT: attention_mask must be a Tensor [N, L] of 1 (attend) and 0 (padding), got ${describeValue(mask)}`);
  if (mask.ndim !== 2 || mask.shape[0] !== n || mask.shape[1] !== l) throw new RangeError(`BERT: attention_mask must be [${n}, ${l}], the shape of input_ids, got ${mask.describe()}`);
  if (mask.dtype === 'bool') return;
  const binary = scope(() => mask.eq(0).logicalOr(mask.eq(1)).all().item());
  if (!binary) throw new RangeError(`BERT: attention_mask must hold only 1 (attend) and 0 (padding), got other values in ${mask.describe()}`);
}

function initLinear(linear: Linear, std: number): void {
  init.normal_(linear.weight, 0, std);
  if (linear.bias !== null) init.zeros_(linear.bias);
}

function initEmbedding(embedding: Embedding, std: number): void {
  init.normal_(embedding.weight, 0, std);
  embedding.resetPaddingRow();
}

export class BertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(readonly config: BertConfig) {
    super();
    const c = config;
    this.word_embeddings = new Embedding(c.vocabSize, c.hiddenSize, { paddingIdx: c.padTokenId });
    this.position_embeddings = new Embedding(c.maxPositionEmbeddings, c.hiddenSize);
    this.token_type_embeddings = new Embedding(c.typeVocabSize, c.hiddenSize);
    for (const e of [this.word_embeddings, this.position_embeddings, this.token_type_embeddings]) initEmbedding(e, c.initializerRange);
    this.LayerNorm = new LayerNorm(c.hiddenSize, { eps: c.layerNormEps });
    this.dropout = new Dropout(c.hiddenDropoutProb);
  }

  /** inputIds and tokenTypeIds [N, L] (checked by BertModel) → [N, L, H]. */
  forward(inputIds: Tensor, tokenTypeIds: Tensor): Tensor {
    return scope(() => {
      const positions = this.position_embeddings.weight.narrow(0, 0, inputIds.shape[1]);
      const x = this.word_embeddings.forward(inputIds).add(this.token_type_embeddings.forward(tokenTypeIds)).add(positions);
      return this.dropout.forward(this.LayerNorm.forward(x));
    });
  }
}

export class BertSelfAttention extends Module {
  query: Linear;
  key: Linear;
  value: Linear;
  dropout: Dropout;

  constructor(readonly config: BertConfig) {
    super();
    const H = config.hiddenSize;
    this.query = new Linear(H, H);
    this.key = new Linear(H, H);
    this.value = new Linear(H, H);
    for (const l of [this.query, this.key, this.value]) initLinear(l, config.initializerRange);
    this.dropout = new Dropout(config.attentionProbsDropoutProb);
  }

  /** x [N, L, H], mask [N, 1, 1, L] (true where a key is padding) → context [N, L, H]. */
  forward(x: Tensor, padding: Tensor | null): Tensor {
    return scope(() => {
      const [n, l, h] = x.shape;
      const heads = this.config.numAttentionHeads;
      const split = (t: Tensor) => t.view(n, l, heads, h / heads).transpose(1, 2); // [N, heads, L, d]
      const { output } = scaledDotProductAttention(split(this.query.forward(x)), split(this.key.forward(x)), split(this.value.forward(x)), {
        mask: padding,
        dropoutP: this.dropout.p,
        training: this.training,
      });
      return output.transpose(1, 2).reshape(n, l, h);
    });
  }
}

/** A sub-layer's output: dense, dropout, then LayerNorm of the residual sum (post-norm). */
class BertResidualOutput extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(config: BertConfig, inFeatures: number) {
    super();
    this.dense = new Linear(inFeatures, config.hiddenSize);
    initLinear(this.dense, config.initializerRange);
    this.LayerNorm = new LayerNorm(config.hiddenSize, { eps: config.layerNormEps });
    this.dropout = new Dropout(config.hiddenDropoutProb);
  }

  forward(x: Tensor, residual: Tensor): Tensor {
    return scope(() => this.LayerNorm.forward(this.dropout.forward(this.dense.forward(x)).add(residual)));
  }
}

/** Hugging Face's BertSelfOutput (after attention) and BertOutput (after the feed-forward block): the same computation. */
export class BertSelfOutput extends BertResidualOutput {
  constructor(config: BertConfig) {
    super(config, config.hiddenSize);
  }
}

export class BertOutput extends BertResidualOutput {
  constructor(config: BertConfig) {
    super(config, config.intermediateSize);
  }
}

export class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertSelfOutput;

  constructor(config: BertConfig) {
    super();
    this.self = new BertSelfAttention(config);
    this.output = new BertSelfOutput(config);
  }

  forward(x: Tensor, padding: Tensor | null): Tensor {
    return scope(() => this.output.forward(this.self.forward(x, padding), x));
  }
}

export class BertIntermediate extends Module {
  dense: Linear;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.intermediateSize);
    initLinear(this.dense, config.initializerRange);
  }

  forward(x: Tensor): Tensor {
    return scope(() => F.gelu(this.dense.forward(x)));
  }
}

export class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertOutput;

  constructor(config: BertConfig) {
    super();
    this.attention = new BertAttention(config);
    this.intermediate = new BertIntermediate(config);
    this.output = new BertOutput(config);
  }

  forward(x: Tensor, padding: Tensor | null): Tensor {
    return scope(() => {
      const attended = this.attention.forward(x, padding);
      return this.output.forward(this.intermediate.forward(attended), attended);
    });
  }
}

export class BertEncoder extends Module {
  layer: ModuleList;

  constructor(config: BertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config)));
  }

  forward(x: Tensor, padding: Tensor | null): Tensor {
    return scope(() => {
      let h = x;
      for (const layer of this.layer) h = (layer as BertLayer).forward(h, padding);
      return h;
    });
  }
}

export class BertPooler extends Module {
  dense: Linear;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize);
    initLinear(this.dense, config.initializerRange);
  }

  /** The [CLS] token's final state through dense and tanh: [N, L, H] → [N, H]. */
  forward(hidden: Tensor): Tensor {
    return scope(() => this.dense.forward(hidden.select(1, 0)).tanh());
  }
}

export interface BertModelOutput {
  /** The encoder's output for every token, [N, L, H]. */
  lastHiddenState: Tensor;
  /** The pooled [CLS] representation [N, H]; null without a pooler. */
  poolerOutput: Tensor | null;
}

/** The encoder: token ids → hidden states [N, L, H] and the pooled [CLS] state [N, H]. */
export class BertModel extends Module {
  readonly config: BertConfig;
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;

  constructor(config: BertConfig, options: { pooler?: boolean } = {}) {
    super();
    this.config = bertConfig(config);
    this.embeddings = new BertEmbeddings(this.config);
    this.encoder = new BertEncoder(this.config);
    this.pooler = (options.pooler ?? true) ? new BertPooler(this.config) : null;
  }

  /**
   * Loads a bare BertModel's state dict, or the encoder of any BERT class's
   * (keys under `bert.`: the heads' keys are then unexpected); the
   * position-id buffer of Hugging Face's files is skipped.
   */
  override loadStateDict(stateDict: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const entries = (stateDict instanceof Map ? [...stateDict] : Object.entries(stateDict)).filter(([k]) => !IGNORED_KEY.test(k));
    const prefixed = entries.some(([k]) => k.startsWith('bert.'));
    return super.loadStateDict(new Map(entries.map(([k, v]) => [prefixed && k.startsWith('bert.') ? k.slice(5) : k, v] as [string, Tensor])), options);
  }

  forward(inputs: BertInputs): BertModelOutput {
    if (inputs === null || typeof inputs !== 'object' || inputs instanceof Tensor) throw new TypeError(`BertModel: expected { inputIds, tokenTypeIds?, attentionMask? }, got ${describeValue(inputs)}`);
    const c = this.config;
    const ids = checkIds('input_ids', inputs.inputIds, null, c.vocabSize, `token ids must lie in the vocabulary of ${c.vocabSize} (0 … ${c.vocabSize - 1})`);
    const [n, l] = ids.shape;
    if (l > c.maxPositionEmbeddings) throw new RangeError(`BERT: input_ids has ${l} tokens per sequence; the position embeddings cover ${c.maxPositionEmbeddings} (maxPositionEmbeddings)`);
    const types = inputs.tokenTypeIds ?? null;
    const mask = inputs.attentionMask ?? null;
    if (types !== null) checkIds('token_type_ids', types, [n, l], c.typeVocabSize, `segment ids must be 0 … ${c.typeVocabSize - 1} for a model with ${c.typeVocabSize} token types`);
    if (mask !== null) checkMask(mask, n, l);
    return scope(() => {
      const segments = types === null ? zeros([n, l], { dtype: 'int64' }) : types.long();
      // [N, 1, 1, L]: true where a key is padding, broadcast over heads and queries.
      const padding = mask === null ? null : (mask.dtype === 'bool' ? mask.logicalNot() : mask.eq(0)).view(n, 1, 1, l);
      const hidden = this.encoder.forward(this.embeddings.forward(ids.long(), segments), padding);
      return { lastHiddenState: hidden, poolerOutput: this.pooler === null ? null : this.pooler.forward(hidden) };
    });
  }
}

export class BertPredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize);
    initLinear(this.dense, config.initializerRange);
    this.LayerNorm = new LayerNorm(config.hiddenSize, { eps: config.layerNormEps });
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.LayerNorm.forward(F.gelu(this.dense.forward(x))));
  }
}

/** The masked-LM head: transform, then the decoder, whose weight is the word embedding matrix and whose bias is `bias`. */
export class BertLMPredictionHead extends Module {
  transform: BertPredictionHeadTransform;
  decoder: Linear;
  bias: Parameter;

  constructor(config: BertConfig, wordEmbeddings: Parameter) {
    super();
    this.transform = new BertPredictionHeadTransform(config);
    this.decoder = new Linear(config.hiddenSize, config.vocabSize);
    this.decoder.weight.dispose();
    this.decoder.weight = wordEmbeddings;
    this.bias = this.decoder.bias!;
    init.zeros_(this.bias);
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.decoder.forward(this.transform.forward(x)));
  }
}

export class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;

  constructor(config: BertConfig, wordEmbeddings: Parameter) {
    super();
    this.predictions = new BertLMPredictionHead(config, wordEmbeddings);
  }

  forward(x: Tensor): Tensor {
    return this.predictions.forward(x);
  }
}

export class BertPreTrainingHeads extends Module {
  predictions: BertLMPredictionHead;
  seq_relationship: Linear;

  constructor(config: BertConfig, wordEmbeddings: Parameter) {
    super();
    this.predictions = new BertLMPredictionHead(config, wordEmbeddings);
    this.seq_relationship = new Linear(config.hiddenSize, 2);
    initLinear(this.seq_relationship, config.initializerRange);
  }

  forward(hidden: Tensor, pooled: Tensor): { predictionLogits: Tensor; seqRelationshipLogits: Tensor } {
    return scope(() => ({ predictionLogits: this.predictions.forward(hidden), seqRelationshipLogits: this.seq_relationship.forward(pooled) }));
  }
}

// Keys Hugging Face files may hold that no parameter here corresponds to: a buffer of position indices.
const IGNORED_KEY = /(^|\.)embeddings\.(position_ids|token_type_ids)$/;

/**
 * What the BERT models share: the encoder under `bert.` and Hugging Face's
 * loading rules. A state dict may come from any BERT class: keys of a bare
 * BertModel file (no `bert.` prefix) are placed under `bert.`, tied copies
 * (`cls.predictions.decoder.weight` and `.bias`) may be absent or must equal
 * what they are tied to, the position-id buffer is skipped, and with
 * `strict: false` the missing and unexpected keys are returned by name (a
 * BertModel file in a classifier leaves the new head as initialised).
 */
export abstract class BertPreTrainedModel extends Module {
  readonly config: BertConfig;
  bert: BertModel;

  constructor(config: BertConfig, options: { pooler: boolean }) {
    super();
    this.config = bertConfig(config);
    this.bert = new BertModel(this.config, options);
  }

  /** Tied names of the state dict: [copy, original]. */
  protected tiedKeys(): [string, string][] {
    return [];
  }

  override loadStateDict(stateDict: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const entries = stateDict instanceof Map ? [...stateDict] : Object.entries(stateDict);
    const bare = entries.length > 0 && entries.every(([k]) => !k.startsWith('bert.') && !k.startsWith('cls.'));
    const given = new Map(entries.filter(([k]) => !IGNORED_KEY.test(k)).map(([k, v]) => [bare ? `bert.${k}` : k, v] as [string, Tensor]));
    for (const [copy, original] of this.tiedKeys()) {
      const [x, y] = [given.get(copy), given.get(original)];
      if (x === undefined && y !== undefined) given.set(copy, y);
      else if (x instanceof Tensor && y instanceof Tensor && (x.ndim !== y.ndim || x.shape.some((d, i) => d !== y.shape[i]) || !scope(() => x.equal(y))))
        throw new Error(`loadStateDict: '${copy}' is tied to '${original}' in ${this.constructor.name}, but the state dict holds different tensors under the two names`);
    }
    return super.loadStateDict(given, options);
  }
}

const TIED_MLM = (prefix: string): [string, string][] => [
  [`${prefix}.decoder.weight`, 'bert.embeddings.word_embeddings.weight'],
  [`${prefix}.decoder.bias`, `${prefix}.bias`],
];

export interface BertPreTrainingOutput {
  /** Masked-LM logits over the vocabulary at every position, [N, L, V]. */
  predictionLogits: Tensor;
  /** Next-sentence logits [N, 2]: 0 is "B follows A", 1 "B is random". */
  seqRelationshipLogits: Tensor;
}

/** BERT with both pre-training heads: masked language modelling and next-sentence prediction. */
export class BertForPreTraining extends BertPreTrainedModel {
  cls: BertPreTrainingHeads;

  constructor(config: BertConfig) {
    super(config, { pooler: true });
    this.cls = new BertPreTrainingHeads(this.config, this.bert.embeddings.word_embeddings.weight);
  }

  protected override tiedKeys(): [string, string][] {
    return TIED_MLM('cls.predictions');
  }

  forward(inputs: BertInputs): BertPreTrainingOutput {
    return scope(() => {
      const { lastHiddenState, poolerOutput } = this.bert.forward(inputs);
      return this.cls.forward(lastHiddenState, poolerOutput!);
    });
  }
}

/** BERT with the masked-LM head alone (no pooler, as Hugging Face's). */
export class BertForMaskedLM extends BertPreTrainedModel {
  cls: BertOnlyMLMHead;

  constructor(config: BertConfig) {
    super(config, { pooler: false });
    this.cls = new BertOnlyMLMHead(this.config, this.bert.embeddings.word_embeddings.weight);
  }

  protected override tiedKeys(): [string, string][] {
    return TIED_MLM('cls.predictions');
  }

  /** Logits over the vocabulary at every position, [N, L, V]. */
  forward(inputs: BertInputs): Tensor {
    return scope(() => this.cls.forward(this.bert.forward(inputs).lastHiddenState));
  }
}

/** What the two fine-tuning heads share: dropout and a linear layer to numLabels on the encoder's features. */
abstract class BertClassifier extends BertPreTrainedModel {
  readonly numLabels: number;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig, numLabels: number, pooler: boolean) {
    super(config, { pooler });
    if (!Number.isInteger(numLabels) || numLabels < 1) throw new RangeError(`${this.constructor.name}: numLabels must be a positive integer, got ${describeValue(numLabels)}`);
    this.numLabels = numLabels;
    this.dropout = new Dropout(this.config.hiddenDropoutProb);
    this.classifier = new Linear(this.config.hiddenSize, numLabels);
    initLinear(this.classifier, this.config.initializerRange);
  }

  protected classify(features: Tensor): Tensor {
    return scope(() => this.classifier.forward(this.dropout.forward(features)));
  }
}

/** BERT fine-tuned to classify sequences: dropout and a linear layer on the pooled [CLS] state. */
export class BertForSequenceClassification extends BertClassifier {
  constructor(config: BertConfig, numLabels = 2) {
    super(config, numLabels, true);
  }

  /** Logits [N, numLabels]. */
  forward(inputs: BertInputs): Tensor {
    return scope(() => this.classify(this.bert.forward(inputs).poolerOutput!));
  }
}

/** BERT fine-tuned to label each token: dropout and a linear layer on every hidden state (no pooler). */
export class BertForTokenClassification extends BertClassifier {
  constructor(config: BertConfig, numLabels = 2) {
    super(config, numLabels, false);
  }

  /** Logits [N, L, numLabels]. */
  forward(inputs: BertInputs): Tensor {
    return scope(() => this.classify(this.bert.forward(inputs).lastHiddenState));
  }
}

/** The heads a BERT entry builds: what `netlab predict` writes depends on it. */
export const BERT_HEADS = ['pretraining', 'masked-lm', 'sequence-classification', 'token-classification', 'encoder'] as const;
export type BertHead = (typeof BERT_HEADS)[number];

export interface BertBuildOptions {
  /** Which model: BertForPreTraining (the default), BertForMaskedLM, the two classifiers, or the bare BertModel. */
  head?: BertHead;
  /** Classes of a classifier head (default 2). */
  numLabels?: number;
  /** Configuration fields over the preset's. */
  config?: Partial<BertConfig>;
}

/** Builds a preset with one of the heads. */
export function bertModel(preset: BertPreset, options: BertBuildOptions = {}): BertForPreTraining | BertForMaskedLM | BertForSequenceClassification | BertForTokenClassification | BertModel {
  const unknown = Object.keys(options).find((k) => !['head', 'numLabels', 'config'].includes(k));
  if (unknown !== undefined) throw new TypeError(`BERT: unknown build option '${unknown}'; known: head, numLabels, config`);
  const config = bertConfig(BERT_PRESETS[preset], options.config ?? {});
  const head = options.head ?? 'pretraining';
  switch (head) {
    case 'pretraining':
      return new BertForPreTraining(config);
    case 'masked-lm':
      return new BertForMaskedLM(config);
    case 'sequence-classification':
      return new BertForSequenceClassification(config, options.numLabels ?? 2);
    case 'token-classification':
      return new BertForTokenClassification(config, options.numLabels ?? 2);
    case 'encoder':
      return new BertModel(config);
    default:
      throw new TypeError(`BERT: head must be one of ${BERT_HEADS.join(', ')}, got ${describeValue(head)}`);
  }
}

/**
 * The head a state dict was saved from, read off its keys as Hugging Face's
 * classes name them: `cls.seq_relationship` (pre-training), `cls.predictions`
 * alone (masked LM), `classifier` with the pooler (sequence classification)
 * or without it (token classification), no `bert.` prefix (a bare BertModel).
 */
export function bertHeadOf(stateDict: StateDict): { head: BertHead; numLabels?: number } {
  const keys = [...stateDict.keys()];
  const has = (prefix: string) => keys.some((k) => k.startsWith(prefix));
  const classifier = stateDict.get('classifier.weight');
  if (classifier !== undefined) return { head: has('bert.pooler.') ? 'sequence-classification' : 'token-classification', numLabels: classifier.shape[0] };
  if (has('cls.seq_relationship.')) return { head: 'pretraining' };
  if (has('cls.predictions.')) return { head: 'masked-lm' };
  if (!has('bert.')) return { head: 'encoder' };
  throw new Error(`BERT: cannot tell which BERT class these weights are from: they have 'bert.' keys but no head ('cls.' or 'classifier.'); keys start ${keys.slice(0, 3).join(', ')}`);
}

const BERT_DESCRIPTIONS: Record<BertPreset, string> = {
  bert_base_uncased: 'BERT-Base, uncased (Devlin et al. 2019): 12 layers of 768, 12 heads; Hugging Face layout',
  bert_large_uncased: 'BERT-Large, uncased (Devlin et al. 2019): 24 layers of 1024, 16 heads; Hugging Face layout',
  bert_tiny: 'BERT-Tiny (Turc et al. 2019): 2 layers of 128, 2 heads; uncased vocabulary',
  bert_mini: 'BERT-Mini (Turc et al. 2019): 4 layers of 256, 4 heads; uncased vocabulary',
  bert_small: 'BERT-Small (Turc et al. 2019): 4 layers of 512, 8 heads; uncased vocabulary',
  bert_medium: 'BERT-Medium (Turc et al. 2019): 8 layers of 512, 8 heads; uncased vocabulary',
};

/** Parameters of BertForPreTraining, what an entry builds by default: the encoder, the MLM transform and bias, the NSP layer (the decoder is the tied embedding). */
export function bertPreTrainingParameterCount(c: BertConfig): number {
  const H = c.hiddenSize;
  return bertParameterCount(c) + H * H + H + 2 * H + c.vocabSize + 2 * H + 2;
}

export const BERT_MODEL_ENTRIES: LanguageModelEntry[] = (Object.keys(BERT_PRESETS) as BertPreset[]).map((name) => {
  const config = bertConfig(BERT_PRESETS[name]);
  return {
    name,
    task: 'masked-language-modeling',
    description: BERT_DESCRIPTIONS[name],
    build: (options?: Record<string, unknown>) => bertModel(name, options as BertBuildOptions),
    config,
    parameterCount: bertPreTrainingParameterCount(config),
    encoderParameterCount: bertParameterCount(config),
    vocabSize: config.vocabSize,
    maxLength: config.maxPositionEmbeddings,
    typeVocabSize: config.typeVocabSize,
    buildOptionsFor: bertHeadOf,
    namedOutputs: bertNamedOutputs,
  };
});

/** A BERT model's outputs named as Hugging Face names them (what `netlab predict` writes). */
export function bertNamedOutputs(model: Module, inputs: BertInputs): Record<string, Tensor> {
  if (model instanceof BertForPreTraining) {
    const out = model.forward(inputs);
    return { prediction_logits: out.predictionLogits, seq_relationship_logits: out.seqRelationshipLogits };
  }
  if (model instanceof BertForMaskedLM || model instanceof BertForSequenceClassification || model instanceof BertForTokenClassification) return { logits: model.forward(inputs) };
  if (model instanceof BertModel) {
    const out = model.forward(inputs);
    return out.poolerOutput === null ? { last_hidden_state: out.lastHiddenState } : { last_hidden_state: out.lastHiddenState, pooler_output: out.poolerOutput };
  }
  throw new TypeError(`bertNamedOutputs: expected a BERT model, got ${describeValue(model)}`);
}
