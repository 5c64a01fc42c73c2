// The Gaussian Parzen-window log-likelihood with which Goodfellow et al.
// (2014, Table 1) scored generators, computed as the paper's released
// parzen_ll.py computes it: fit an isotropic Gaussian of width σ on each of
// the model's samples, choose σ by the mean log-likelihood of validation
// images, and report the mean log-likelihood of the test images with its
// standard error. Everything is done in float64.
//
// Theis et al. (2016, "A note on the evaluation of generative models") show
// that this estimate is biased and can rank a poor model above the data
// itself; it is kept here because it is the paper's protocol.
import { noGrad } from '../tensor/autograd.js';
import { matmul } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** The paper's σ grid: 10 values log-spaced over [0.1, 1] (numpy.logspace(−1, 0, 10)). */
export const PARZEN_SIGMAS: readonly number[] = Array.from({ length: 10 }, (_, i) => 10 ** (-1 + i / 9));

export interface ParzenOptions {
  /** Rows of x handled at once; bounds memory at batchSize × samples doubles. */
  batchSize?: number;
}

function checkMatrix(what: string, t: Tensor, width?: number): void {
  if (t.ndim !== 2 || t.shape[0] < 1 || (width !== undefined && t.shape[1] !== width))
    throw new RangeError(`parzen: ${what} must be a non-empty matrix [N, ${width ?? 'D'}], got ${t.describe()}`);
  if (!t.dtype.startsWith('float')) throw new TypeError(`parzen: ${what} must be floating point, got ${t.describe()}`);
}

function checkSigma(sigma: number): void {
  if (!(sigma > 0 && Number.isFinite(sigma))) throw new RangeError(`parzen: σ must be a finite number > 0, got ${sigma}`);
}

/**
 * log p(xᵢ) for every row of `x` under the Parzen window on `samples`, for
 * each σ in `sigmas`:
 *   log p(x) = log mean_j exp(−‖x − μⱼ‖² / 2σ²) − D·log(σ√(2π)),
 * the log-mean-exp taken stably (its maximum subtracted first). The squared
 * distances come from one matrix product per batch, ‖x‖² + ‖μ‖² − 2x·μ, and
 * serve every σ. Returns one Float64Array per σ.
 */
export function parzenLogLikelihoods(x: Tensor, samples: Tensor, sigmas: readonly number[], options: ParzenOptions = {}): Float64Array[] {
  checkMatrix('samples', samples);
  checkMatrix('x', x, samples.shape[1]);
  sigmas.forEach(checkSigma);
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`parzen: batchSize must be a positive integer, got ${batchSize}`);
  const [n, dim] = x.shape;
  const m = samples.shape[0];
  const out = sigmas.map(() => new Float64Array(n));
  noGrad(() =>
    scope(() => {
      const mu = samples.double();
      const muT = mu.t().contiguous(); // (D, M)
      const muNorms = mu.square().sum(1); // (M,)
      for (let start = 0; start < n; start += batchSize) {
        scope(() => {
          const rows = x.narrow(0, start, Math.min(batchSize, n - start)).double(); // (B, D)
          const d2 = rows.square().sum(1, { keepdim: true }).add(muNorms).sub(matmul(rows, muT).mul(2)).clamp(0); // (B, M)
          sigmas.forEach((sigma, s) => {
            const logMeanExp = d2.mul(-0.5 / (sigma * sigma)).logsumexp(1).sub(Math.log(m)); // (B,)
            const values = logMeanExp.sub(dim * Math.log(sigma * Math.sqrt(2 * Math.PI))).toTypedArray() as Float64Array;
            out[s].set(values, start);
          });
        });
      }
    }),
  );
  return out;
}

/** Mean and standard error (population standard deviation / √n, as numpy's std) of per-example log-likelihoods. */
export function meanAndStandardError(values: Float64Array): { mean: number; standardError: number } {
  const n = values.length;
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { mean, standardError: Math.sqrt(squares / n) / Math.sqrt(n) };
}

export interface ParzenEstimate {
  /** Mean log-likelihood of the test images, in nats. */
  logLikelihood: number;
  standardError: number;
  sigma: number;
  /** Mean validation log-likelihood for every σ tried (empty when σ was given). */
  validation: { sigma: number; logLikelihood: number }[];
  samples: number;
  testImages: number;
  seconds: number;
}

/**
 * The paper's protocol: σ = the grid value with the highest mean
 * log-likelihood of `validation` (unless `sigma` is given), then the mean
 * log-likelihood of `test` and its standard error.
 */
export function parzenEstimate(samples: Tensor, test: Tensor, options: ParzenOptions & { validation?: Tensor; sigma?: number; sigmas?: readonly number[] } = {}): ParzenEstimate {
  const started = performance.now();
  let sigma = options.sigma;
  const validation: ParzenEstimate['validation'] = [];
  if (sigma === undefined) {
    if (options.validation === undefined) throw new TypeError('parzenEstimate: give validation images to choose σ, or σ itself');
    const sigmas = options.sigmas ?? PARZEN_SIGMAS;
    if (sigmas.length === 0) throw new RangeError('parzenEstimate: the σ grid is empty');
    const scores = parzenLogLikelihoods(options.validation, samples, sigmas, options).map((ll) => meanAndStandardError(ll).mean);
    sigmas.forEach((s, i) => validation.push({ sigma: s, logLikelihood: scores[i] }));
    sigma = sigmas[scores.indexOf(Math.max(...scores))];
  }
  checkSigma(sigma);
  const [ll] = parzenLogLikelihoods(test, samples, [sigma], options);
  const { mean, standardError } = meanAndStandardError(ll);
  return { logLikelihood: mean, standardError, sigma, validation, samples: samples.shape[0], testImages: test.shape[0], seconds: (performance.now() - started) / 1000 };
}
