// Scaled dot-product attention (Vaswani et al., 2017) as a pure function, and
// MultiheadAttention with PyTorch's parameter layout (`in_proj_weight`,
// `in_proj_bias`, `out_proj`) so its weights load both ways.
import { isGradEnabled } from '../tensor/autograd.js';
import { empty, zeros } from '../tensor/creation.js';
import type { DType } from '../tensor/dtype.js';
import { aten } from '../tensor/native.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import * as init from './init.js';
import { Linear } from './layers.js';
import { Module, Parameter } from './module.js';

export interface AttentionOptions {
  /**
   * Broadcastable to (…, L, S). A bool mask is true where attention is NOT
   * allowed (MultiheadAttention's convention); a float mask is added to the
   * scores (use −∞ to block).
   */
  mask?: Tensor | null;
  /** Dropout on the attention weights (applied only when training). */
  dropoutP?: number;
  training?: boolean;
}

/**
 * softmax(q kᵀ / √d + mask) v.
 * q: (…, L, d), k: (…, S, d), v: (…, S, dv) → output (…, L, dv) and the
 * attention weights (…, L, S), which ViT's attention maps are drawn from.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): { output: Tensor; weights: Tensor } {
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (!(t instanceof Tensor)) throw new TypeError(`scaledDotProductAttention: ${name} must be a Tensor, got ${describeValue(t)}`);
    if (t.ndim < 2) throw new RangeError(`scaledDotProductAttention: ${name} needs at least 2 dimensions (…, length, dim), got ${t.describe()}`);
  }
  const d = q.shape[q.ndim - 1];
  if (k.shape[k.ndim - 1] !== d) throw new RangeError(`scaledDotProductAttention: q ${q.describe()} and k ${k.describe()} differ in their last dimension`);
  if (k.shape[k.ndim - 2] !== v.shape[v.ndim - 2]) throw new RangeError(`scaledDotProductAttention: k ${k.describe()} and v ${v.describe()} differ in length`);
  return scope(() => {
    const batched = q.ndim === 3 && k.ndim === 3 && v.ndim === 3; // MultiheadAttention's (N·h, L, d): one bmm each way
    let scores = batched ? q.div(Math.sqrt(d)).bmm(k.transpose(1, 2)) : q.div(Math.sqrt(d)).matmul(k.transpose(-2, -1)); // (…, L, S)
    const mask = options.mask ?? null;
    if (mask !== null) scores = mask.dtype === 'bool' ? scores.maskedFill(mask, -Infinity) : scores.add(mask);
    let weights = F.softmax(scores, -1);
    const p = options.dropoutP ?? 0;
    // As PyTorch, the weights returned are the ones applied: after dropout.
    if (p > 0 && (options.training ?? true)) weights = F.dropout(weights, p, true);
    const output = batched ? weights.bmm(v) : weights.matmul(v); // (…, L, dv)
    return { output, weights };
  });
}

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights. */
  dropout?: number;
  bias?: boolean;
  /** Inputs and outputs as (N, L, E) instead of PyTorch's default (L, N, E). */
  batchFirst?: boolean;
  dtype?: DType;
}

export interface MultiheadAttentionCall {
  /** (N, S) bool, true for keys to ignore (padding). */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights (default true, as in PyTorch). */
  needWeights?: boolean;
  /** (L, S) or (N·heads, L, S); bool true = blocked, or float added to the scores. */
  attnMask?: Tensor | null;
  /** Average the returned weights over heads (N, L, S), else (N, heads, L, S). */
  averageAttnWeights?: boolean;
}

// PyTorch's fused multi-head attention kernel (its "fast path").
const nativeMultiHeadAttention = aten('_native_multi_head_attention');

/** Multi-head attention, equal to torch.nn.MultiheadAttention with kdim = vdim = embedDim. */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  in_proj_weight: Parameter; // (3E, E): query, key and value projections stacked
  in_proj_bias: Parameter | null;
  out_proj: Linear;

  constructor(embedDim: number, numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || embedDim <= 0) throw new RangeError(`MultiheadAttention: embedDim must be a positive integer, got ${embedDim}`);
    if (!Number.isInteger(numHeads) || numHeads <= 0 || embedDim % numHeads !== 0)
      throw new RangeError(`MultiheadAttention: numHeads (${numHeads}) must be a positive integer dividing embedDim (${embedDim})`);
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new RangeError(`MultiheadAttention: dropout must be in [0, 1], got ${this.dropout}`);
    this.batchFirst = options.batchFirst ?? false;
    const bias = options.bias ?? true;
    this.in_proj_weight = Parameter.adopt(empty([3 * embedDim, embedDim], { dtype: options.dtype }));
    this.in_proj_bias = bias ? Parameter.adopt(zeros([3 * embedDim], { dtype: options.dtype })) : null;
    this.out_proj = new Linear(embedDim, embedDim, { bias, dtype: options.dtype });
    init.xavierUniform_(this.in_proj_weight);
    if (this.out_proj.bias !== null) init.zeros_(this.out_proj.bias);
  }

  /** Returns [output, weights]: output like the query; weights null unless needWeights. */
  forward(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionCall = {}): [Tensor, Tensor | null] {
    const E = this.embedDim;
    for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
      if (!(t instanceof Tensor)) throw new TypeError(`MultiheadAttention: ${name} must be a Tensor, got ${describeValue(t)}`);
      if (t.ndim !== 3 && t.ndim !== 2) throw new RangeError(`MultiheadAttention: ${name} must be 3-D (or 2-D unbatched), got ${t.describe()}`);
      if (t.shape[t.ndim - 1] !== E) throw new RangeError(`MultiheadAttention: ${name} ${t.describe()} must end in embedDim ${E}`);
    }
    const unbatched = query.ndim === 2;
    const needWeights = options.needWeights ?? true;
    const average = options.averageAttnWeights ?? true;
    if (!needWeights && this.fastPathApplies(query, key, value, options)) {
      const [out, weights] = nativeMultiHeadAttention(
        query.handle, key.handle, value.handle, E, this.numHeads,
        this.in_proj_weight.handle, this.in_proj_bias!.handle, this.out_proj.weight.handle, this.out_proj.bias!.handle,
        // A key-padding mask as torch.nn passes it: mask type 1 (N × S).
        options.keyPaddingMask?.handle ?? null, false, average, (options.keyPaddingMask ?? null) === null ? null : 1,
      ) as number[];
      if (weights !== undefined && weights !== null) new Tensor(weights).dispose();
      return [new Tensor(out), null];
    }
    return scope(() => {
      // Work in PyTorch's (length, batch, E) layout.
      const toSeqFirst = (t: Tensor) => (unbatched ? t.unsqueeze(1) : this.batchFirst ? t.transpose(0, 1) : t);
      const q0 = toSeqFirst(query);
      const k0 = toSeqFirst(key);
      const v0 = toSeqFirst(value);
      const [L, N] = q0.shape;
      const S = k0.shape[0];
      if (k0.shape[1] !== N || v0.shape[1] !== N || v0.shape[0] !== S)
        throw new RangeError(`MultiheadAttention: query ${query.describe()}, key ${key.describe()} and value ${value.describe()} do not agree in batch or length`);
      const h = this.numHeads;
      const hd = this.headDim;
      const heads = (t: Tensor, length: number) => t.reshape(length, N * h, hd).transpose(0, 1); // (N·h, length, hd)
      let projected: Tensor[];
      if (query === key && key === value) {
        // Self-attention: one (3E × E) projection, as PyTorch packs it.
        projected = F.linear(q0, this.in_proj_weight, this.in_proj_bias).chunk(3, -1);
      } else {
        const [wq, wk, wv] = this.in_proj_weight.chunk(3, 0);
        const [bq, bk, bv] = this.in_proj_bias === null ? [null, null, null] : this.in_proj_bias.chunk(3, 0);
        projected = [F.linear(q0, wq, bq), F.linear(k0, wk, bk), F.linear(v0, wv, bv)];
      }
      const q = heads(projected[0], L);
      const k = heads(projected[1], S);
      const v = heads(projected[2], S);
      const mask = this.combineMasks(options, N, L, S, q.dtype);
      const { output, weights } = scaledDotProductAttention(q, k, v, { mask, dropoutP: this.dropout, training: this.training });
      const merged = output.transpose(0, 1).contiguous().view(L * N, E); // (L·N, E)
      let out = this.out_proj.forward(merged).view(L, N, E);
      out = unbatched ? out.squeeze(1) : this.batchFirst ? out.transpose(0, 1) : out;
      if (!needWeights) return [out, null];
      let w = weights.view(N, h, L, S);
      if (average) w = w.mean(1);
      if (unbatched) w = w.squeeze(0);
      return [out, w];
    });
  }

  /**
   * The key and value projections of x (N, S, E), batch first, split into
   * heads: k and v (N, heads, S, E/heads). What incremental decoding caches.
   */
  projectKeyValue(x: Tensor): { k: Tensor; v: Tensor } {
    return scope(() => {
      const [n, length] = x.shape;
      const [, wk, wv] = this.in_proj_weight.chunk(3, 0);
      const [, bk, bv] = this.in_proj_bias === null ? [null, null, null] : this.in_proj_bias.chunk(3, 0);
      const split = (t: Tensor) => t.view(n, length, this.numHeads, this.headDim).transpose(1, 2);
      return { k: split(F.linear(x, wk, bk)), v: split(F.linear(x, wv, bv)) };
    });
  }

  /**
   * Attention of query (N, L, E), batch first, over keys and values already
   * projected by projectKeyValue (N, heads, S, E/heads) → (N, L, E); the
   * same function as forward with those keys and values. keyPaddingMask
   * (N, S): bool true (or float −∞) for keys to ignore.
   */
  attendProjected(query: Tensor, k: Tensor, v: Tensor, keyPaddingMask: Tensor | null = null): Tensor {
    return scope(() => {
      const [n, length] = query.shape;
      const [wq] = this.in_proj_weight.chunk(3, 0);
      const bq = this.in_proj_bias === null ? null : this.in_proj_bias.chunk(3, 0)[0];
      const q = F.linear(query, wq, bq).view(n, length, this.numHeads, this.headDim).transpose(1, 2); // (N, h, L, d)
      let mask: Tensor | null = null;
      if (keyPaddingMask !== null) {
        const additive = keyPaddingMask.dtype === 'bool' ? zeros(keyPaddingMask.shape, { dtype: q.dtype }).maskedFill(keyPaddingMask, -Infinity) : keyPaddingMask;
        mask = additive.view(n, 1, 1, k.shape[2]);
      }
      const { output } = scaledDotProductAttention(q, k, v, { mask, dropoutP: this.dropout, training: this.training }); // (N, h, L, d)
      return this.out_proj.forward(output.transpose(1, 2).reshape(n, length, this.embedDim));
    });
  }

  /**
   * Where torch.nn.MultiheadAttention (1.13) takes its fused kernel, so does
   * this: batched self-attention in evaluation mode, batch first, with biases,
   * no attention dropout, no attention mask (a boolean key-padding mask is
   * fine), an even number of heads, and no gradient to record.
   */
  private fastPathApplies(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionCall): boolean {
    if (this.training || !this.batchFirst || query.ndim !== 3 || query !== key || key !== value) return false;
    if (this.in_proj_bias === null || this.out_proj.bias === null || this.dropout !== 0 || this.numHeads % 2 === 1) return false;
    if ((options.attnMask ?? null) !== null) return false;
    const padding = options.keyPaddingMask ?? null;
    if (padding !== null && (!(padding instanceof Tensor) || padding.dtype !== 'bool' || padding.ndim !== 2 || padding.shape[0] !== query.shape[0] || padding.shape[1] !== key.shape[1])) return false;
    if (query.dtype !== this.in_proj_weight.dtype || query.device !== 'cpu') return false;
    const tensors = [query, this.in_proj_weight, this.in_proj_bias, this.out_proj.weight, this.out_proj.bias];
    return !(isGradEnabled() && tensors.some((t) => t.requiresGrad));
  }

  // One additive float mask of shape (N·h, L, S) or (L, S), or null.
  private combineMasks(options: MultiheadAttentionCall, N: number, L: number, S: number, dtype: DType): Tensor | null {
    const h = this.numHeads;
    let mask: Tensor | null = null;
    const attnMask = options.attnMask ?? null;
    for (const [name, m] of [['attnMask', attnMask], ['keyPaddingMask', options.keyPaddingMask ?? null]] as const) {
      if (m !== null && !(m instanceof Tensor)) throw new TypeError(`MultiheadAttention: ${name} must be a Tensor, got ${describeValue(m)}`);
      if (m !== null && m.dtype !== 'bool' && !m.dtype.startsWith('float'))
        throw new TypeError(`MultiheadAttention: ${name} must be bool (true = blocked) or floating point (added to the scores), got ${m.describe()}`);
    }
    if (attnMask !== null) {
      const ok2 = attnMask.ndim === 2 && attnMask.shape[0] === L && attnMask.shape[1] === S;
      const ok3 = attnMask.ndim === 3 && attnMask.shape[0] === N * h && attnMask.shape[1] === L && attnMask.shape[2] === S;
      if (!ok2 && !ok3) throw new RangeError(`MultiheadAttention: attnMask must be (${L}, ${S}) or (${N * h}, ${L}, ${S}), got ${attnMask.describe()}`);
      mask = attnMask.dtype === 'bool' ? zeros(attnMask.shape, { dtype }).maskedFill(attnMask, -Infinity) : attnMask;
    }
    const padding = options.keyPaddingMask ?? null;
    if (padding !== null) {
      const expected = N === 1 && padding.ndim === 1 ? [S] : [N, S];
      if (padding.ndim !== expected.length || padding.shape.some((d, i) => d !== expected[i]))
        throw new RangeError(`MultiheadAttention: keyPaddingMask must be (${N}, ${S}), got ${padding.describe()}`);
      const bool = padding.dtype === 'bool';
      const additive = bool ? zeros(padding.shape, { dtype }).maskedFill(padding, -Infinity) : padding;
      const perHead = additive.view(N, 1, 1, S).expand(N, h, 1, S).reshape(N * h, 1, S);
      mask = mask === null ? perHead : mask.add(perHead);
    }
    return mask;
  }

  protected override extraRepr(): string {
    return `embed_dim=${this.embedDim}, num_heads=${this.numHeads}, dropout=${this.dropout}, batch_first=${this.batchFirst}`;
  }
}
