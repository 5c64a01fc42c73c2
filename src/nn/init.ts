// Weight initialisation, as `torch.nn.init`: each function fills a tensor in
// place without recording autograd, and returns it.
import { noGrad } from '../tensor/autograd.js';
import { aten } from '../tensor/native.js';
import { Tensor } from '../tensor/tensor.js';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

const erfinv_ = aten('erfinv_');

/** The recommended gain for a nonlinearity (PyTorch's `calculate_gain`). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new TypeError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/** Fan-in and fan-out of a weight: [out, in, ...kernel] as Linear and Conv2d store it. */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new RangeError(`fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (${t.describe()})`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive };
}

function fan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new TypeError(`mode must be 'fan_in' or 'fan_out', got '${String(mode)}'`);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return mode === 'fan_in' ? fanIn : fanOut;
}

export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  return noGrad(() => t.uniform_(a, b));
}

export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => t.normal_(mean, std));
}

export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}

export function zeros_(t: Tensor): Tensor {
  return noGrad(() => t.zero_());
}

export function ones_(t: Tensor): Tensor {
  return noGrad(() => t.fill_(1));
}

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

/** He et al. (2015): uniform on ±gain·√(3/fan). PyTorch's Linear/Conv2d default uses a = √5. */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  const bound = gain * Math.sqrt(3 / fan(t, options.mode ?? 'fan_in'));
  return uniform_(t, -bound, bound);
}

/** He et al. (2015): normal with std gain/√fan. */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return normal_(t, 0, gain / Math.sqrt(fan(t, options.mode ?? 'fan_in')));
}

/** Glorot & Bengio (2010): uniform on ±gain·√(6/(fanIn+fanOut)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
}

/** Glorot & Bengio (2010): normal with std gain·√(2/(fanIn+fanOut)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

/**
 * Normal(mean, std) truncated to [a, b], by inverting the normal CDF of a
 * uniform draw between the CDF values of the bounds (as PyTorch and timm do;
 * ViT and MAE initialise with std 0.02 this way).
 */
export function truncNormal_(t: Tensor, options: { mean?: number; std?: number; a?: number; b?: number } = {}): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const a = options.a ?? -2;
  const b = options.b ?? 2;
  if (!(a < b)) throw new RangeError(`truncNormal_: expects a < b, got a=${a} b=${b}`);
  if (!(std > 0)) throw new RangeError(`truncNormal_: expects std > 0, got ${std}`);
  const cdf = (x: number) => (1 + erf(x / Math.SQRT2)) / 2;
  const lo = cdf((a - mean) / std);
  const hi = cdf((b - mean) / std);
  return noGrad(() => {
    t.uniform_(2 * lo - 1, 2 * hi - 1);
    // uniform_ can return its lower end exactly (2⁻²⁴ of float32 draws); at −1
    // erfinv is −∞ and the value would land on the bound a, far out in the
    // tail (PyTorch has this flaw). Keep the draw strictly inside (−1, 1).
    t.clamp_(-1 + 2 ** -24, 1 - 2 ** -24);
    erfinv_(t.handle);
    t.mul_(std * Math.SQRT2).add_(mean);
    return t.clamp_(a, b);
  });
}

// Abramowitz–Stegun 7.1.26 is too coarse near the tails; this series/continued
// form is exact to double precision for the bounds used here.
function erf(x: number): number {
  const sign = Math.sign(x);
  const z = Math.abs(x);
  if (z < 3) {
    // Maclaurin series: erf z = 2/√π Σ (−1)ⁿ z^(2n+1) / (n! (2n+1)).
    let term = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      term *= (-z * z) / n;
      const next = term / (2 * n + 1);
      sum += next;
      if (Math.abs(next) < 1e-17 * Math.abs(sum)) break;
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  // Continued fraction for erfc at large z.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (z + f);
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
  return sign * (1 - erfc);
}
