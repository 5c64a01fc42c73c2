// The mathematics of the Swin Transformer's windowed attention (Liu et al.,
// 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted
// Windows") as pure functions over channels-last feature maps [B, H, W, C]:
// window partition and reverse, the cyclic shift, the attention mask of the
// shifted configuration, the relative position bias, and shifted-window
// attention itself, computed exactly as torchvision 0.14's
// `shifted_window_attention`. Modules (src/models/swin.ts) only own weights.
import { tensor } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';

/** Window height and width, or shift along height and width. */
export type Pair = readonly [number, number];

// The value torchvision writes into the mask for pairs that may not attend to
// each other: large enough that softmax gives them no weight in float32
// (e^-100 ≈ 4e-44), finite so a row is never all −∞.
const MASKED = -100;

function checkFeatureMap(name: string, x: Tensor): void {
  if (!(x instanceof Tensor)) throw new TypeError(`${name}: expected a Tensor, got ${describeValue(x)}`);
  if (x.ndim !== 4) throw new RangeError(`${name}: expected a channels-last feature map [B, H, W, C], got ${x.describe()}`);
}

function checkWindow(name: string, window: Pair): void {
  if (!Array.isArray(window) || window.length !== 2 || window.some((m) => !Number.isInteger(m) || m < 1))
    throw new RangeError(`${name}: window size must be two positive integers, got ${JSON.stringify(window)}`);
}

/**
 * Cuts a feature map into non-overlapping windows, row-major over windows.
 * x: [B, H, W, C] with H, W multiples of the window → [B·nW, Mh·Mw, C],
 * nW = (H/Mh)·(W/Mw).
 */
export function windowPartition(x: Tensor, window: Pair): Tensor {
  checkFeatureMap('windowPartition', x);
  checkWindow('windowPartition', window);
  const [B, H, W, C] = x.shape;
  const [Mh, Mw] = window;
  if (H % Mh !== 0 || W % Mw !== 0)
    throw new RangeError(`windowPartition: feature map ${x.describe()} is not a whole number of ${Mh}×${Mw} windows; pad it first`);
  return scope(() =>
    x
      .view(B, H / Mh, Mh, W / Mw, Mw, C) // (B, H/Mh, Mh, W/Mw, Mw, C)
      .permute(0, 1, 3, 2, 4, 5) // (B, H/Mh, W/Mw, Mh, Mw, C)
      .reshape(B * (H / Mh) * (W / Mw), Mh * Mw, C),
  );
}

/**
 * The inverse of `windowPartition`: [B·nW, Mh·Mw, C] → [B, H, W, C].
 */
export function windowReverse(windows: Tensor, window: Pair, height: number, width: number): Tensor {
  if (!(windows instanceof Tensor)) throw new TypeError(`windowReverse: expected a Tensor, got ${describeValue(windows)}`);
  checkWindow('windowReverse', window);
  const [Mh, Mw] = window;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height % Mh !== 0 || width % Mw !== 0 || height < 1 || width < 1)
    throw new RangeError(`windowReverse: height ${height} and width ${width} must be positive multiples of the window ${Mh}×${Mw}`);
  const nW = (height / Mh) * (width / Mw);
  if (windows.ndim !== 3 || windows.shape[1] !== Mh * Mw || windows.shape[0] % nW !== 0)
    throw new RangeError(`windowReverse: expected windows [B·${nW}, ${Mh * Mw}, C] for a ${height}×${width} map, got ${windows.describe()}`);
  const B = windows.shape[0] / nW;
  const C = windows.shape[2];
  return scope(() =>
    windows
      .view(B, height / Mh, width / Mw, Mh, Mw, C) // (B, H/Mh, W/Mw, Mh, Mw, C)
      .permute(0, 1, 3, 2, 4, 5) // (B, H/Mh, Mh, W/Mw, Mw, C)
      .reshape(B, height, width, C),
  );
}

/**
 * Rolls a feature map [B, H, W, C] up by shift[0] rows and left by shift[1]
 * columns, wrapping around: the top-left strips move to the bottom and right.
 * `cyclicShift(x, [-sh, -sw])` undoes `cyclicShift(x, [sh, sw])`.
 */
export function cyclicShift(x: Tensor, shift: Pair): Tensor {
  checkFeatureMap('cyclicShift', x);
  if (!Array.isArray(shift) || shift.length !== 2 || shift.some((s) => !Number.isInteger(s)))
    throw new RangeError(`cyclicShift: shift must be two integers, got ${JSON.stringify(shift)}`);
  return x.roll([-shift[0], -shift[1]], [1, 2]);
}

// Which of the three strips of one axis a position of the shifted map lies
// in: [0, L−M) never wrapped, [L−M, L−s) the end of the map, [L−s, L) the
// start of the map rolled around. A zero shift leaves one strip.
function strip(position: number, length: number, window: number, shift: number): number {
  if (shift === 0) return 0;
  if (position < length - window) return 0;
  return position < length - shift ? 1 : 2;
}

/**
 * The additive attention mask of shifted windows: 0 where two tokens of a
 * window may attend to each other, −100 where they came from parts of the
 * map that were not adjacent before the cyclic shift.
 * For a (padded) map of height × width, window [Mh, Mw] and shift [sh, sw]
 * → float32 [nW, Mh·Mw, Mh·Mw], windows in `windowPartition`'s order.
 */
export function shiftedWindowAttentionMask(height: number, width: number, window: Pair, shift: Pair): Tensor {
  checkWindow('shiftedWindowAttentionMask', window);
  const [Mh, Mw] = window;
  const [sh, sw] = shift;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1 || height % Mh !== 0 || width % Mw !== 0)
    throw new RangeError(`shiftedWindowAttentionMask: height ${height} and width ${width} must be positive multiples of the window ${Mh}×${Mw}`);
  if (!Number.isInteger(sh) || !Number.isInteger(sw) || sh < 0 || sw < 0 || sh >= Mh || sw >= Mw)
    throw new RangeError(`shiftedWindowAttentionMask: shift ${JSON.stringify(shift)} must be integers in [0, window)`);
  const rowsOfWindows = height / Mh;
  const colsOfWindows = width / Mw;
  const N = Mh * Mw;
  const out = new Float32Array(rowsOfWindows * colsOfWindows * N * N);
  const labels = new Int32Array(N);
  let w = 0;
  for (let wr = 0; wr < rowsOfWindows; wr++) {
    for (let wc = 0; wc < colsOfWindows; wc++, w++) {
      for (let i = 0; i < Mh; i++)
        for (let j = 0; j < Mw; j++) labels[i * Mw + j] = strip(wr * Mh + i, height, Mh, sh) * 3 + strip(wc * Mw + j, width, Mw, sw);
      const base = w * N * N;
      for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) if (labels[a] !== labels[b]) out[base + a * N + b] = MASKED;
    }
  }
  return tensor(out, { shape: [rowsOfWindows * colsOfWindows, N, N] });
}

/**
 * For every pair of tokens (i, j) of a window, the row of the relative
 * position bias table that holds their offset: (Δrow + Mh − 1)·(2Mw − 1) +
 * (Δcol + Mw − 1), Δ = position of i − position of j.
 * → int64 [(Mh·Mw)²], torchvision's `relative_position_index` buffer.
 */
export function relativePositionIndex(window: Pair): Tensor {
  checkWindow('relativePositionIndex', window);
  const [Mh, Mw] = window;
  const N = Mh * Mw;
  const index = new BigInt64Array(N * N);
  for (let a = 0; a < N; a++) {
    for (let b = 0; b < N; b++) {
      const dRow = Math.floor(a / Mw) - Math.floor(b / Mw);
      const dCol = (a % Mw) - (b % Mw);
      index[a * N + b] = BigInt((dRow + Mh - 1) * (2 * Mw - 1) + dCol + Mw - 1);
    }
  }
  return tensor(index);
}

/**
 * Gathers the bias of every token pair from the table.
 * table: [(2Mh−1)(2Mw−1), heads], index: int64 [(Mh·Mw)²] → [1, heads, N, N].
 */
export function relativePositionBias(table: Tensor, index: Tensor, window: Pair): Tensor {
  checkWindow('relativePositionBias', window);
  const N = window[0] * window[1];
  return scope(() =>
    table
      .indexSelect(0, index) // (N·N, heads)
      .view(N, N, -1)
      .permute(2, 0, 1) // (heads, N, N)
      .contiguous()
      .unsqueeze(0),
  );
}

export interface WindowAttentionWeights {
  /** [3C, C]: query, key and value projections stacked, as torchvision's `qkv.weight`. */
  qkvWeight: Tensor;
  qkvBias: Tensor | null;
  /** [C, C] */
  projWeight: Tensor;
  projBias: Tensor | null;
  /** [1, heads, Mh·Mw, Mh·Mw], from `relativePositionBias`. */
  relativePositionBias: Tensor;
}

export interface WindowAttentionOptions {
  window: Pair;
  /** [0, 0] for W-MSA, ⌊M/2⌋ for SW-MSA; set to 0 along an axis the window already covers. */
  shift: Pair;
  numHeads: number;
  /** Dropout on the attention weights. */
  attentionDropout?: number;
  /** Dropout on the projected output. */
  dropout?: number;
  /** Dropout applies only when training (torchvision 0.14 applies it always; no preset uses it). */
  training?: boolean;
}

/**
 * Window multi-head self-attention with relative position bias (W-MSA, or
 * SW-MSA with a shift), equal to torchvision 0.14's `shifted_window_attention`:
 * pad to whole windows (zeros at the bottom and right), cyclic shift, attend
 * within each window with the mask for the shifted case, project, undo the
 * shift and crop.
 * input: [B, H, W, C] → [B, H, W, C].
 */
export function shiftedWindowAttention(input: Tensor, weights: WindowAttentionWeights, options: WindowAttentionOptions): Tensor {
  checkFeatureMap('shiftedWindowAttention', input);
  checkWindow('shiftedWindowAttention', options.window);
  const [B, H, W, C] = input.shape;
  const [Mh, Mw] = options.window;
  const heads = options.numHeads;
  if (!Number.isInteger(heads) || heads < 1 || C % heads !== 0)
    throw new RangeError(`shiftedWindowAttention: numHeads ${heads} must be a positive integer dividing the ${C} channels of ${input.describe()}`);
  if (weights.qkvWeight.ndim !== 2 || weights.qkvWeight.shape[0] !== 3 * C || weights.qkvWeight.shape[1] !== C)
    throw new RangeError(`shiftedWindowAttention: qkvWeight must be [${3 * C}, ${C}] for ${C} channels, got ${weights.qkvWeight.describe()}`);
  const training = options.training ?? false;
  return scope(() => {
    const padBottom = (Mh - (H % Mh)) % Mh;
    const padRight = (Mw - (W % Mw)) % Mw;
    let x = F.pad(input, [0, 0, 0, padRight, 0, padBottom]); // (B, Hp, Wp, C)
    const [, Hp, Wp] = x.shape;
    // A window that covers the whole map along an axis has nothing to shift.
    const shift: [number, number] = [Mh >= Hp ? 0 : options.shift[0], Mw >= Wp ? 0 : options.shift[1]];
    const shifted = shift[0] + shift[1] > 0;
    if (shifted) x = cyclicShift(x, shift);
    const nW = (Hp / Mh) * (Wp / Mw);
    const N = Mh * Mw;
    const windows = windowPartition(x, options.window); // (B·nW, N, C)
    const headDim = C / heads;
    const qkv = F.linear(windows, weights.qkvWeight, weights.qkvBias)
      .reshape(B * nW, N, 3, heads, headDim)
      .permute(2, 0, 3, 1, 4); // (3, B·nW, heads, N, headDim)
    const [q, k, v] = qkv.unbind(0);
    let attn = q.mul(headDim ** -0.5).matmul(k.transpose(-2, -1)); // (B·nW, heads, N, N)
    attn = attn.add(weights.relativePositionBias);
    if (shifted) {
      const mask = shiftedWindowAttentionMask(Hp, Wp, options.window, shift); // (nW, N, N)
      attn = attn
        .view(B, nW, heads, N, N)
        .add(mask.unsqueeze(1).unsqueeze(0))
        .view(B * nW, heads, N, N);
    }
    attn = F.softmax(attn, -1);
    attn = F.dropout(attn, options.attentionDropout ?? 0, training);
    let out = attn.matmul(v).transpose(1, 2).reshape(B * nW, N, C); // (B·nW, N, C)
    out = F.linear(out, weights.projWeight, weights.projBias);
    out = F.dropout(out, options.dropout ?? 0, training);
    out = windowReverse(out, options.window, Hp, Wp); // (B, Hp, Wp, C)
    if (shifted) out = cyclicShift(out, [-shift[0], -shift[1]]);
    return out.slice(1, 0, H).slice(2, 0, W).contiguous(); // (B, H, W, C)
  });
}
