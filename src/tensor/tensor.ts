// The Tensor class: a handle on an at::Tensor held by the native addon, with
// PyTorch's methods under camelCase names. Arguments are checked here where a
// clear message helps; libtorch checks the rest and its errors name the op,
// the shapes and the dtypes.
import { inspect } from 'node:util';

import { aten, atenInPlace, native, type Handle } from './native.js';
import { DTYPES, dtypeCode, dtypeFromCode, viewBytes, type DType, type TypedArray } from './dtype.js';
import { checkDevice, type Device } from './device.js';
import { markOwned, track } from './scope.js';
import { formatTensor } from './format.js';

// Frees what was dropped without dispose(); an explicit dispose() makes the
// handle stale, which releaseIfLive recognises, so nothing is unregistered.
const finalizer = new FinalizationRegistry<Handle>((id) => native.releaseIfLive(id));

// New tensors join the registry in batches, not one by one. Registering costs
// about half a microsecond, as much as a small op, and V8 keeps a registered
// object alive until a full garbage collection, so a loop that disposes every
// tensor still grew the heap by about 130 bytes per tensor (measured: 267 MB
// of heap after 2 million disposed adds, 9 MB with batches). Most tensors are
// disposed, by a scope or by hand, before their batch is registered and are
// skipped. A tensor dropped without dispose() is freed by the first garbage
// collection after its registration (at the latest the next turn of the event
// loop, when finalizers run anyway) rather than the first after its creation.
const REGISTRATION_BATCH = 1024;
let unregistered: Tensor[] = [];
let registrationScheduled = false;

function registerBatch(): void {
  const batch = unregistered;
  unregistered = [];
  for (const t of batch) if (!t.isDisposed) finalizer.register(t, t.handle);
}

function queueRegistration(t: Tensor): void {
  if (unregistered.push(t) >= REGISTRATION_BATCH) {
    registerBatch();
  } else if (!registrationScheduled) {
    registrationScheduled = true;
    setImmediate(() => {
      registrationScheduled = false;
      registerBatch();
    }).unref();
  }
}

/** A number, or a tensor, where PyTorch accepts either. */
export type TensorOrScalar = Tensor | number;

/** A value and its position, from max/min/sort/topk along a dimension. */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

/** One index of `Tensor.index`: an integer, a slice ('1:3', ':', '::2'), '...', null (new axis) or an index tensor. */
export type IndexSpec = number | string | null | Tensor;

const op = {
  addAlpha: aten('add', 'Tensor'),
  subAlpha: aten('sub', 'Tensor'),
  divMode: aten('div', 'Tensor_mode'),
  // Scalar overloads keep PyTorch's promotion for numbers: int64 + 2.5 is float32.
  addScalarAlpha: aten('add', 'Scalar'),
  subScalarAlpha: aten('sub', 'Scalar'),
  divScalarMode: aten('div', 'Scalar_mode'),
  pow: aten('pow', 'Tensor_Tensor'),
  powScalar: aten('pow', 'Tensor_Scalar'),
  neg: aten('neg'),
  abs: aten('abs'),
  sign: aten('sign'),
  exp: aten('exp'),
  log: aten('log'),
  log1p: aten('log1p'),
  expm1: aten('expm1'),
  sqrt: aten('sqrt'),
  rsqrt: aten('rsqrt'),
  reciprocal: aten('reciprocal'),
  square: aten('square'),
  sin: aten('sin'),
  cos: aten('cos'),
  tanh: aten('tanh'),
  atanh: aten('atanh'),
  sigmoid: aten('sigmoid'),
  relu: aten('relu'),
  gelu: aten('gelu'),
  leakyRelu: aten('leaky_relu'),
  softplus: aten('softplus'),
  erf: aten('erf'),
  floor: aten('floor'),
  ceil: aten('ceil'),
  round: aten('round'),
  trunc: aten('trunc'),
  clamp: aten('clamp'),
  clampTensor: aten('clamp', 'Tensor'),
  minimum: aten('minimum'),
  maximum: aten('maximum'),
  remainder: aten('remainder', 'Tensor'),
  remainderScalar: aten('remainder', 'Scalar'),
  eq: aten('eq', 'Tensor'),
  eqScalar: aten('eq', 'Scalar'),
  ne: aten('ne', 'Tensor'),
  neScalar: aten('ne', 'Scalar'),
  lt: aten('lt', 'Tensor'),
  ltScalar: aten('lt', 'Scalar'),
  le: aten('le', 'Tensor'),
  leScalar: aten('le', 'Scalar'),
  gt: aten('gt', 'Tensor'),
  gtScalar: aten('gt', 'Scalar'),
  ge: aten('ge', 'Tensor'),
  geScalar: aten('ge', 'Scalar'),
  logicalAnd: aten('logical_and'),
  logicalOr: aten('logical_or'),
  logicalXor: aten('logical_xor'),
  logicalNot: aten('logical_not'),
  isnan: aten('isnan'),
  isinf: aten('isinf'),
  isfinite: aten('isfinite'),
  allclose: aten('allclose'),
  equal: aten('equal'),
  sum: aten('sum'),
  sumDim: aten('sum', 'dim_IntList'),
  mean: aten('mean'),
  meanDim: aten('mean', 'dim'),
  prod: aten('prod'),
  prodDim: aten('prod', 'dim_int'),
  var: aten('var', 'correction'),
  std: aten('std', 'correction'),
  max: aten('max'),
  maxDim: aten('max', 'dim'),
  min: aten('min'),
  minDim: aten('min', 'dim'),
  amax: aten('amax'),
  amin: aten('amin'),
  argmax: aten('argmax'),
  argmin: aten('argmin'),
  all: aten('all'),
  allDim: aten('all', 'dim'),
  any: aten('any'),
  anyDim: aten('any', 'dim'),
  logsumexp: aten('logsumexp'),
  vectorNorm: aten('linalg_vector_norm'),
  topk: aten('topk'),
  sort: aten('sort'),
  argsort: aten('argsort'),
  nonzero: aten('nonzero'),
  cumsum: aten('cumsum'),
  cumprod: aten('cumprod'),
  reshape: aten('reshape'),
  view: aten('view'),
  permute: aten('permute'),
  transpose: aten('transpose', 'int'),
  flatten: aten('flatten', 'using_ints'),
  unflatten: aten('unflatten', 'int'),
  squeeze: aten('squeeze'),
  squeezeDim: aten('squeeze', 'dim'),
  unsqueeze: aten('unsqueeze'),
  expand: aten('expand'),
  repeat: aten('repeat'),
  repeatInterleave: aten('repeat_interleave', 'self_int'),
  contiguous: aten('contiguous'),
  split: aten('split', 'Tensor'),
  splitSizes: aten('split_with_sizes'),
  chunk: aten('chunk'),
  unbind: aten('unbind', 'int'),
  narrow: aten('narrow'),
  slice: aten('slice', 'Tensor'),
  select: aten('select', 'int'),
  index: aten('index', 'Tensor'),
  indexSelect: aten('index_select'),
  gather: aten('gather'),
  scatter: aten('scatter', 'src'),
  scatterValue: aten('scatter', 'value'),
  scatterAdd: aten('scatter_add'),
  maskedFill: aten('masked_fill', 'Scalar'),
  maskedFillTensor: aten('masked_fill', 'Tensor'),
  maskedSelect: aten('masked_select'),
  roll: aten('roll'),
  flip: aten('flip'),
  tril: aten('tril'),
  triu: aten('triu'),
  matmul: aten('matmul'),
  mm: aten('mm'),
  bmm: aten('bmm'),
  toDtype: aten('to', 'dtype'),
  toCopy: aten('_to_copy'),
  detach: aten('detach'),
  clone: aten('clone'),
  add_: atenInPlace('add_', 'Tensor'),
  addScalar_: atenInPlace('add_', 'Scalar'),
  sub_: atenInPlace('sub_', 'Tensor'),
  subScalar_: atenInPlace('sub_', 'Scalar'),
  mul_: atenInPlace('mul_', 'Tensor'),
  mulScalar_: atenInPlace('mul_', 'Scalar'),
  div_: atenInPlace('div_', 'Tensor'),
  divScalar_: atenInPlace('div_', 'Scalar'),
  pow_: atenInPlace('pow_', 'Scalar'),
  sqrt_: atenInPlace('sqrt_'),
  neg_: atenInPlace('neg_'),
  relu_: atenInPlace('relu_'),
  clamp_: atenInPlace('clamp_'),
  clampTensor_: atenInPlace('clamp_', 'Tensor'),
  copy_: atenInPlace('copy_'),
  zero_: atenInPlace('zero_'),
  fill_: atenInPlace('fill_', 'Scalar'),
  uniform_: atenInPlace('uniform_'),
  normal_: atenInPlace('normal_'),
  bernoulli_: atenInPlace('bernoulli_', 'float'),
  maskedFill_: atenInPlace('masked_fill_', 'Scalar'),
  addcmul_: atenInPlace('addcmul_'),
  addcdiv_: atenInPlace('addcdiv_'),
  lerp_: atenInPlace('lerp_', 'Scalar'),
  indexPut_: atenInPlace('index_put_'),
  detach_: atenInPlace('detach_'),
};

function scalar(name: string, value: unknown): number | boolean {
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  throw new TypeError(`${name}: expected a Tensor or a number, got ${describeValue(value)}`);
}

function tensorArg(name: string, value: unknown): Tensor {
  if (value instanceof Tensor) return value;
  throw new TypeError(`${name}: expected a Tensor, got ${describeValue(value)}`);
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Tensor) return `Tensor ${value.describe()}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  if (value === undefined) return 'undefined';
  return `${typeof value} ${String(value)}`;
}

/**
 * @internal Refuses a gradient whose shape differs from its output's, as
 * PyTorch does; libtorch alone would silently sum a broadcastable one to fit.
 */
export function checkGradShape(name: string, output: Tensor, gradient: Tensor, index: number): void {
  tensorArg(`${name}: gradient ${index}`, gradient);
  if (output.ndim !== gradient.ndim || output.shape.some((d, i) => d !== gradient.shape[i]))
    throw new RangeError(`${name}: gradient ${index} ${gradient.describe()} does not match the shape of output ${index} ${output.describe()}`);
}

function intArg(name: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new TypeError(`${name} must be an integer, got ${describeValue(value)}`);
}

/** Dims as PyTorch accepts them: one integer or a list. */
function dimList(dim: number | readonly number[]): number[] {
  return typeof dim === 'number' ? [dim] : [...dim];
}

function wrapPair([values, indices]: [Handle, Handle]): ValuesIndices {
  return { values: new Tensor(values), indices: new Tensor(indices) };
}

const SLICE = /^\s*(-?\d+)?\s*(?::\s*(-?\d+)?\s*(?::\s*(-?\d+)?\s*)?)?$/;

export class Tensor {
  private id: Handle;
  private cachedShape: readonly number[] | undefined;
  private cachedDtype: DType | undefined;
  private kept = false;

  /** @internal Wraps a handle returned by the addon; use the creation functions instead. */
  constructor(handle: Handle) {
    this.id = handle;
    queueRegistration(this);
    track(this);
  }

  /** @internal The native handle; throws if the tensor was disposed. */
  get handle(): Handle {
    if (this.id < 0) throw new Error('this tensor has been disposed and can no longer be used');
    return this.id;
  }

  // ---- life cycle -------------------------------------------------------

  /** Frees the native memory now. Using the tensor afterwards throws; disposing twice does nothing. */
  dispose(): void {
    if (this.id < 0) return;
    native.release(this.id);
    this.id = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this.id < 0;
  }

  get isKept(): boolean {
    return this.kept;
  }

  /**
   * @internal Makes this object refer to `source`'s tensor and disposes this
   * one's old tensor; `source` is left disposed. What `module.to()` and
   * PyTorch's `param.data = …` need: every holder of this object sees the new data.
   */
  takeOver(source: Tensor): void {
    const handle = native.handle(source.handle);
    source.dispose();
    if (this.id >= 0) native.release(this.id);
    this.id = handle;
    this.cachedShape = undefined;
    this.cachedDtype = undefined;
    finalizer.register(this, handle);
  }

  /** Exempts the tensor from every enclosing and future `scope`; returns it. */
  keep(): this {
    this.kept = true;
    return this;
  }

  // ---- metadata -----------------------------------------------------------

  get shape(): readonly number[] {
    this.cachedShape ??= Object.freeze(native.shape(this.handle));
    return this.cachedShape;
  }

  /** The size of one dimension, or the whole shape (PyTorch's `size()`). */
  size(): readonly number[];
  size(dim: number): number;
  size(dim?: number): number | readonly number[] {
    const shape = this.shape;
    if (dim === undefined) return shape;
    const d = dim < 0 ? dim + shape.length : dim;
    if (!Number.isInteger(dim) || d < 0 || d >= shape.length)
      throw new RangeError(`size: dimension ${dim} is out of range for a tensor of shape [${shape.join(', ')}]`);
    return shape[d];
  }

  get ndim(): number {
    return this.shape.length;
  }

  dim(): number {
    return this.shape.length;
  }

  numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  stride(): number[] {
    return native.strides(this.handle);
  }

  get dtype(): DType {
    this.cachedDtype ??= dtypeFromCode(native.dtype(this.handle));
    return this.cachedDtype;
  }

  get device(): Device {
    return native.device(this.handle) as Device;
  }

  /** e.g. "float32[2, 3]": used in error messages. */
  describe(): string {
    if (this.id < 0) return '(disposed)';
    return `${this.dtype}[${this.shape.join(', ')}]`;
  }

  // ---- reading out ----------------------------------------------------------

  /** The single element as a number (or boolean). */
  item(): number {
    return native.item(this.handle) as number;
  }

  /** A copy of the elements, row-major, in the typed array of the dtype (float16/bfloat16 as float32). */
  toTypedArray(): TypedArray {
    const dtype = this.dtype;
    if (dtype === 'float16' || dtype === 'bfloat16') {
      using wide = this.to('float32');
      return viewBytes(native.toBuffer(wide.handle), 'float32');
    }
    return viewBytes(native.toBuffer(this.handle), dtype);
  }

  /** The raw bytes of the elements, row-major, for file formats. */
  toBytes(): Uint8Array {
    return new Uint8Array(native.toBuffer(this.handle));
  }

  /** The elements as nested arrays of numbers (booleans for bool tensors). */
  toArray(): any {
    const flat = this.toTypedArray();
    const dtype = this.dtype;
    const read: (i: number) => number | boolean =
      dtype === 'bool' ? (i) => flat[i] !== 0 : dtype === 'int64' ? (i) => Number(flat[i]) : (i) => flat[i] as number;
    const shape = this.shape;
    if (shape.length === 0) return read(0);
    let offset = 0;
    const build = (d: number): unknown[] => {
      const out = new Array<unknown>(shape[d]);
      for (let i = 0; i < shape[d]; i++) out[i] = d === shape.length - 1 ? read(offset++) : build(d + 1);
      return out;
    };
    return build(0);
  }

  toString(): string {
    return formatTensor(this);
  }

  [inspect.custom](): string {
    return this.isDisposed ? 'tensor(<disposed>)' : this.toString();
  }

  // ---- conversion ------------------------------------------------------------

  /** Converts dtype and/or device; returns a new handle on the same data if nothing changes. */
  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    const spec = typeof target === 'string' ? stringTarget(target) : target;
    if (spec.device !== undefined) {
      checkDevice(spec.device);
      if (spec.device !== this.device)
        return new Tensor(op.toCopy(this.handle, spec.dtype === undefined ? undefined : dtypeCode(spec.dtype), undefined, spec.device));
    }
    if (spec.dtype !== undefined) return new Tensor(op.toDtype(this.handle, dtypeCode(spec.dtype)));
    return new Tensor(native.handle(this.handle));
  }

  float(): Tensor {
    return this.to('float32');
  }

  double(): Tensor {
    return this.to('float64');
  }

  long(): Tensor {
    return this.to('int64');
  }

  int(): Tensor {
    return this.to('int32');
  }

  bool(): Tensor {
    return this.to('bool');
  }

  cpu(): Tensor {
    return this.to('cpu');
  }

  clone(): Tensor {
    return new Tensor(op.clone(this.handle));
  }

  contiguous(): Tensor {
    return new Tensor(op.contiguous(this.handle));
  }

  // ---- autograd ------------------------------------------------------------------

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }

  set requiresGrad(value: boolean) {
    this.requiresGrad_(value);
  }

  /** Sets requires_grad in place (leaf tensors only, as in PyTorch); returns this tensor. */
  requiresGrad_(value = true): this {
    if (typeof value !== 'boolean') throw new TypeError(`requiresGrad_: expected a boolean, got ${describeValue(value)}`);
    // libtorch ignores the flag on a computed tensor, which still requires grad through its grad_fn.
    if (!value && !this.isLeaf)
      throw new Error(`requiresGrad_: only leaf tensors can stop requiring grad; ${this.describe()} was computed by ${this.gradFn}, use detach() instead`);
    native.setRequiresGrad(this.handle, value);
    return this;
  }

  /** The accumulated gradient (a new handle on it), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }

  set grad(value: Tensor | null) {
    native.setGrad(this.handle, value === null ? null : tensorArg('grad', value).handle);
  }

  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }

  /** The name of the autograd node that made this tensor, e.g. 'AddBackward0', or null. */
  get gradFn(): string | null {
    return native.gradFn(this.handle);
  }

  retainGrad(): void {
    native.retainGrad(this.handle);
  }

  /** Accumulates d(this)/d(leaf) into every leaf's `.grad`. */
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const createGraph = options.createGraph ?? false;
    if (gradient !== undefined) checkGradShape('backward', this, tensorArg('backward: gradient', gradient), 0);
    native.backward(
      [this.handle],
      [gradient === undefined ? null : gradient.handle],
      options.retainGraph ?? createGraph,
      createGraph,
    );
  }

  detach(): Tensor {
    return new Tensor(this.detachedHandle());
  }

  /** @internal A new native handle on the detached tensor, for subclasses' constructors. */
  detachedHandle(): Handle {
    return op.detach(this.handle);
  }

  detach_(): this {
    op.detach_(this.handle);
    return this;
  }

  // ---- elementwise arithmetic -------------------------------------------------

  add(other: TensorOrScalar, options?: { alpha?: number }): Tensor {
    if (options?.alpha !== undefined) {
      return new Tensor(other instanceof Tensor ? op.addAlpha(this.handle, other.handle, options.alpha) : op.addScalarAlpha(this.handle, scalar('add', other), options.alpha));
    }
    return new Tensor(other instanceof Tensor ? native.add(this.handle, other.handle) : native.addScalar(this.handle, scalar('add', other)));
  }

  sub(other: TensorOrScalar, options?: { alpha?: number }): Tensor {
    if (options?.alpha !== undefined) {
      return new Tensor(other instanceof Tensor ? op.subAlpha(this.handle, other.handle, options.alpha) : op.subScalarAlpha(this.handle, scalar('sub', other), options.alpha));
    }
    return new Tensor(other instanceof Tensor ? native.sub(this.handle, other.handle) : native.subScalar(this.handle, scalar('sub', other)));
  }

  mul(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? native.mul(this.handle, other.handle) : native.mulScalar(this.handle, scalar('mul', other)));
  }

  /** Division; `roundingMode` 'trunc' or 'floor' as in PyTorch. */
  div(other: TensorOrScalar, options?: { roundingMode?: 'trunc' | 'floor' }): Tensor {
    if (options?.roundingMode !== undefined) {
      return new Tensor(other instanceof Tensor ? op.divMode(this.handle, other.handle, options.roundingMode) : op.divScalarMode(this.handle, scalar('div', other), options.roundingMode));
    }
    return new Tensor(other instanceof Tensor ? native.div(this.handle, other.handle) : native.divScalar(this.handle, scalar('div', other)));
  }

  pow(exponent: TensorOrScalar): Tensor {
    return new Tensor(exponent instanceof Tensor ? op.pow(this.handle, exponent.handle) : op.powScalar(this.handle, scalar('pow', exponent)));
  }

  remainder(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? op.remainder(this.handle, other.handle) : op.remainderScalar(this.handle, scalar('remainder', other)));
  }

  neg(): Tensor { return new Tensor(op.neg(this.handle)); }
  abs(): Tensor { return new Tensor(op.abs(this.handle)); }
  sign(): Tensor { return new Tensor(op.sign(this.handle)); }
  exp(): Tensor { return new Tensor(op.exp(this.handle)); }
  log(): Tensor { return new Tensor(op.log(this.handle)); }
  log1p(): Tensor { return new Tensor(op.log1p(this.handle)); }
  expm1(): Tensor { return new Tensor(op.expm1(this.handle)); }
  sqrt(): Tensor { return new Tensor(op.sqrt(this.handle)); }
  rsqrt(): Tensor { return new Tensor(op.rsqrt(this.handle)); }
  reciprocal(): Tensor { return new Tensor(op.reciprocal(this.handle)); }
  square(): Tensor { return new Tensor(op.square(this.handle)); }
  sin(): Tensor { return new Tensor(op.sin(this.handle)); }
  cos(): Tensor { return new Tensor(op.cos(this.handle)); }
  tanh(): Tensor { return new Tensor(op.tanh(this.handle)); }
  atanh(): Tensor { return new Tensor(op.atanh(this.handle)); }
  sigmoid(): Tensor { return new Tensor(op.sigmoid(this.handle)); }
  relu(): Tensor { return new Tensor(op.relu(this.handle)); }
  erf(): Tensor { return new Tensor(op.erf(this.handle)); }
  floor(): Tensor { return new Tensor(op.floor(this.handle)); }
  ceil(): Tensor { return new Tensor(op.ceil(this.handle)); }
  round(): Tensor { return new Tensor(op.round(this.handle)); }
  trunc(): Tensor { return new Tensor(op.trunc(this.handle)); }

  /** GELU; `approximate: 'tanh'` for the tanh approximation (BERT's original). */
  gelu(options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
    return new Tensor(op.gelu(this.handle, options.approximate ?? 'none'));
  }

  leakyRelu(negativeSlope = 0.01): Tensor {
    return new Tensor(op.leakyRelu(this.handle, scalar('leakyRelu', negativeSlope)));
  }

  softplus(options: { beta?: number; threshold?: number } = {}): Tensor {
    return new Tensor(op.softplus(this.handle, options.beta ?? 1, options.threshold ?? 20));
  }

  /** Clamps into [min, max]; either bound may be omitted (null) and may be a tensor. */
  clamp(min: TensorOrScalar | null = null, max: TensorOrScalar | null = null): Tensor {
    if (min === null && max === null) throw new TypeError('clamp: at least one of min and max must be given');
    if (min instanceof Tensor || max instanceof Tensor) {
      const lo = min === null ? null : min instanceof Tensor ? min : full([], scalar('clamp', min), this.dtype);
      const hi = max === null ? null : max instanceof Tensor ? max : full([], scalar('clamp', max), this.dtype);
      try {
        return new Tensor(op.clampTensor(this.handle, lo?.handle ?? null, hi?.handle ?? null));
      } finally {
        if (lo !== null && lo !== min) lo.dispose();
        if (hi !== null && hi !== max) hi.dispose();
      }
    }
    return new Tensor(op.clamp(this.handle, min === null ? null : scalar('clamp', min), max === null ? null : scalar('clamp', max)));
  }

  minimum(other: Tensor): Tensor {
    return new Tensor(op.minimum(this.handle, tensorArg('minimum', other).handle));
  }

  maximum(other: Tensor): Tensor {
    return new Tensor(op.maximum(this.handle, tensorArg('maximum', other).handle));
  }

  // ---- comparisons and logic ------------------------------------------------------

  eq(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? op.eq(this.handle, other.handle) : op.eqScalar(this.handle, scalar('eq', other)));
  }
  ne(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? op.ne(this.handle, other.handle) : op.neScalar(this.handle, scalar('ne', other)));
  }
  lt(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? op.lt(this.handle, other.handle) : op.ltScalar(this.handle, scalar('lt', other)));
  }
  le(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? op.le(this.handle, other.handle) : op.leScalar(this.handle, scalar('le', other)));
  }
  gt(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? op.gt(this.handle, other.handle) : op.gtScalar(this.handle, scalar('gt', other)));
  }
  ge(other: TensorOrScalar): Tensor {
    return new Tensor(other instanceof Tensor ? op.ge(this.handle, other.handle) : op.geScalar(this.handle, scalar('ge', other)));
  }
  logicalAnd(other: Tensor): Tensor {
    return new Tensor(op.logicalAnd(this.handle, tensorArg('logicalAnd', other).handle));
  }
  logicalOr(other: Tensor): Tensor {
    return new Tensor(op.logicalOr(this.handle, tensorArg('logicalOr', other).handle));
  }
  logicalXor(other: Tensor): Tensor {
    return new Tensor(op.logicalXor(this.handle, tensorArg('logicalXor', other).handle));
  }
  logicalNot(): Tensor { return new Tensor(op.logicalNot(this.handle)); }
  isnan(): Tensor { return new Tensor(op.isnan(this.handle)); }
  isinf(): Tensor { return new Tensor(op.isinf(this.handle)); }
  isfinite(): Tensor { return new Tensor(op.isfinite(this.handle)); }

  /** Whether every element is within atol + rtol·|other| of `other` (PyTorch's defaults). */
  allclose(other: Tensor, options: { rtol?: number; atol?: number; equalNan?: boolean } = {}): boolean {
    return op.allclose(this.handle, tensorArg('allclose', other).handle, options.rtol ?? 1e-5, options.atol ?? 1e-8, options.equalNan ?? false);
  }

  /** Same shape and the same elements. */
  equal(other: Tensor): boolean {
    return op.equal(this.handle, tensorArg('equal', other).handle);
  }

  // ---- reductions ------------------------------------------------------------------

  sum(dim?: number | readonly number[], options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    const dtype = options.dtype === undefined ? null : dtypeCode(options.dtype);
    if (dim === undefined) return new Tensor(op.sum(this.handle, dtype));
    return new Tensor(op.sumDim(this.handle, dimList(dim), options.keepdim ?? false, dtype));
  }

  mean(dim?: number | readonly number[], options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    const dtype = options.dtype === undefined ? null : dtypeCode(options.dtype);
    if (dim === undefined) return new Tensor(op.mean(this.handle, dtype));
    return new Tensor(op.meanDim(this.handle, dimList(dim), options.keepdim ?? false, dtype));
  }

  prod(dim?: number, options: { keepdim?: boolean } = {}): Tensor {
    if (dim === undefined) return new Tensor(op.prod(this.handle));
    return new Tensor(op.prodDim(this.handle, intArg('prod: dim', dim), options.keepdim ?? false));
  }

  /** Variance; `correction` 1 (Bessel's, the default) or 0 for the biased estimate. */
  var(dim?: number | readonly number[] | null, options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.var(this.handle, dim == null ? null : dimList(dim), options.correction ?? 1, options.keepdim ?? false));
  }

  std(dim?: number | readonly number[] | null, options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.std(this.handle, dim == null ? null : dimList(dim), options.correction ?? 1, options.keepdim ?? false));
  }

  /** The largest element, or along `dim` the largest values and their indices. */
  max(): Tensor;
  max(dim: number, options?: { keepdim?: boolean }): ValuesIndices;
  max(dim?: number, options: { keepdim?: boolean } = {}): Tensor | ValuesIndices {
    if (dim === undefined) return new Tensor(op.max(this.handle));
    return wrapPair(op.maxDim(this.handle, intArg('max: dim', dim), options.keepdim ?? false));
  }

  min(): Tensor;
  min(dim: number, options?: { keepdim?: boolean }): ValuesIndices;
  min(dim?: number, options: { keepdim?: boolean } = {}): Tensor | ValuesIndices {
    if (dim === undefined) return new Tensor(op.min(this.handle));
    return wrapPair(op.minDim(this.handle, intArg('min: dim', dim), options.keepdim ?? false));
  }

  amax(dim: number | readonly number[] = [], options: { keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.amax(this.handle, dimList(dim), options.keepdim ?? false));
  }

  amin(dim: number | readonly number[] = [], options: { keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.amin(this.handle, dimList(dim), options.keepdim ?? false));
  }

  argmax(dim?: number, options: { keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.argmax(this.handle, dim ?? null, options.keepdim ?? false));
  }

  argmin(dim?: number, options: { keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.argmin(this.handle, dim ?? null, options.keepdim ?? false));
  }

  all(dim?: number, options: { keepdim?: boolean } = {}): Tensor {
    if (dim === undefined) return new Tensor(op.all(this.handle));
    return new Tensor(op.allDim(this.handle, intArg('all: dim', dim), options.keepdim ?? false));
  }

  any(dim?: number, options: { keepdim?: boolean } = {}): Tensor {
    if (dim === undefined) return new Tensor(op.any(this.handle));
    return new Tensor(op.anyDim(this.handle, intArg('any: dim', dim), options.keepdim ?? false));
  }

  logsumexp(dim: number | readonly number[], options: { keepdim?: boolean } = {}): Tensor {
    return new Tensor(op.logsumexp(this.handle, dimList(dim), options.keepdim ?? false));
  }

  /**
   * The vector p-norm over all elements or over `dim`: p = 0 counts non-zeros,
   * 1, 2 or any p > 0, and Infinity takes the largest magnitude.
   */
  norm(p = 2, dim?: number | readonly number[] | null, options: { keepdim?: boolean } = {}): Tensor {
    if (typeof p !== 'number' || Number.isNaN(p)) throw new TypeError(`norm: p must be a number (0, 1, 2, Infinity, …), got ${describeValue(p)}`);
    const ord = p === Infinity ? Number.MAX_VALUE * 2 : p;
    return new Tensor(op.vectorNorm(this.handle, ord, dim == null ? null : dimList(dim), options.keepdim ?? false));
  }

  topk(k: number, options: { dim?: number; largest?: boolean; sorted?: boolean } = {}): ValuesIndices {
    return wrapPair(op.topk(this.handle, intArg('topk: k', k), options.dim ?? -1, options.largest ?? true, options.sorted ?? true));
  }

  sort(options: { dim?: number; descending?: boolean } = {}): ValuesIndices {
    return wrapPair(op.sort(this.handle, options.dim ?? -1, options.descending ?? false));
  }

  argsort(options: { dim?: number; descending?: boolean } = {}): Tensor {
    return new Tensor(op.argsort(this.handle, options.dim ?? -1, options.descending ?? false));
  }

  /** The indices of the non-zero elements, one row per element: int64 [count, ndim]. */
  nonzero(): Tensor {
    return new Tensor(op.nonzero(this.handle));
  }

  cumsum(dim: number, options: { dtype?: DType } = {}): Tensor {
    return new Tensor(op.cumsum(this.handle, intArg('cumsum: dim', dim), options.dtype === undefined ? null : dtypeCode(options.dtype)));
  }

  cumprod(dim: number): Tensor {
    return new Tensor(op.cumprod(this.handle, intArg('cumprod: dim', dim)));
  }

  // ---- shape ------------------------------------------------------------------------------

  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.reshape(this.handle, checkNewShape('reshape', this, shapeArgs('reshape', shape))));
  }

  view(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.view(this.handle, checkNewShape('view', this, shapeArgs('view', shape))));
  }

  permute(...dims: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.permute(this.handle, shapeArgs('permute', dims)));
  }

  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(op.transpose(this.handle, dim0, dim1));
  }

  /** The transpose of a matrix (2-D tensor); PyTorch's `.t()`. */
  t(): Tensor {
    if (this.ndim > 2) throw new RangeError(`t: expects a tensor with at most 2 dimensions, got ${this.describe()}; use transpose(dim0, dim1)`);
    return this.ndim < 2 ? this.view(this.shape as number[]) : this.transpose(0, 1);
  }

  /** Swaps the last two dimensions (PyTorch's `.mT`). */
  get mT(): Tensor {
    return this.transpose(-2, -1);
  }

  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(op.flatten(this.handle, startDim, endDim));
  }

  unflatten(dim: number, sizes: readonly number[]): Tensor {
    return new Tensor(op.unflatten(this.handle, dim, sizes));
  }

  squeeze(dim?: number): Tensor {
    return new Tensor(dim === undefined ? op.squeeze(this.handle) : op.squeezeDim(this.handle, dim));
  }

  unsqueeze(dim: number): Tensor {
    return new Tensor(op.unsqueeze(this.handle, dim));
  }

  expand(...shape: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.expand(this.handle, shapeArgs('expand', shape)));
  }

  expandAs(other: Tensor): Tensor {
    return this.expand(tensorArg('expandAs', other).shape as number[]);
  }

  repeat(...repeats: number[] | [readonly number[]]): Tensor {
    return new Tensor(op.repeat(this.handle, shapeArgs('repeat', repeats)));
  }

  repeatInterleave(repeats: number, dim?: number): Tensor {
    return new Tensor(op.repeatInterleave(this.handle, intArg('repeatInterleave: repeats', repeats), dim ?? null));
  }

  /** Splits into chunks of `size` along `dim`, or into the given sizes. */
  split(sizeOrSizes: number | readonly number[], dim = 0): Tensor[] {
    const handles: Handle[] = typeof sizeOrSizes === 'number' ? op.split(this.handle, sizeOrSizes, dim) : op.splitSizes(this.handle, sizeOrSizes, dim);
    return handles.map((h) => new Tensor(h));
  }

  chunk(chunks: number, dim = 0): Tensor[] {
    return (op.chunk(this.handle, intArg('chunk: chunks', chunks), dim) as Handle[]).map((h) => new Tensor(h));
  }

  unbind(dim = 0): Tensor[] {
    return (op.unbind(this.handle, dim) as Handle[]).map((h) => new Tensor(h));
  }

  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(op.narrow(this.handle, dim, start, length));
  }

  /** Elements start, start+step, … before end along dim (a view, like Python's a[start:end:step]). */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    if (!Number.isInteger(step) || step <= 0) throw new RangeError(`slice: step must be a positive integer, got ${step}`);
    return new Tensor(op.slice(this.handle, dim, start, end, step));
  }

  /** The slice at `index` along `dim`, with that dimension removed. */
  select(dim: number, index: number): Tensor {
    return new Tensor(op.select(this.handle, dim, index));
  }

  /**
   * PyTorch's `x[...]`: `x.index(0, ':', '1:3', null, idx)` is `x[0, :, 1:3, None, idx]`.
   * Integers select, strings slice ('a:b:c', ':' or '...'), null inserts an axis,
   * tensors index (long) or mask (bool).
   */
  index(...specs: IndexSpec[]): Tensor {
    return scopedIndex(this, specs);
  }

  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(op.indexSelect(this.handle, dim, tensorArg('indexSelect: index', index).handle));
  }

  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(op.gather(this.handle, dim, tensorArg('gather: index', index).handle, false));
  }

  scatter(dim: number, index: Tensor, src: TensorOrScalar): Tensor {
    const idx = tensorArg('scatter: index', index).handle;
    return new Tensor(src instanceof Tensor ? op.scatter(this.handle, dim, idx, src.handle) : op.scatterValue(this.handle, dim, idx, scalar('scatter', src)));
  }

  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return new Tensor(op.scatterAdd(this.handle, dim, tensorArg('scatterAdd: index', index).handle, tensorArg('scatterAdd: src', src).handle));
  }

  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    const m = tensorArg('maskedFill: mask', mask).handle;
    return new Tensor(value instanceof Tensor ? op.maskedFillTensor(this.handle, m, value.handle) : op.maskedFill(this.handle, m, scalar('maskedFill', value)));
  }

  maskedSelect(mask: Tensor): Tensor {
    return new Tensor(op.maskedSelect(this.handle, tensorArg('maskedSelect: mask', mask).handle));
  }

  roll(shifts: number | readonly number[], dims: number | readonly number[] = []): Tensor {
    return new Tensor(op.roll(this.handle, dimList(shifts), dimList(dims)));
  }

  flip(dims: number | readonly number[]): Tensor {
    return new Tensor(op.flip(this.handle, dimList(dims)));
  }

  tril(diagonal = 0): Tensor {
    return new Tensor(op.tril(this.handle, diagonal));
  }

  triu(diagonal = 0): Tensor {
    return new Tensor(op.triu(this.handle, diagonal));
  }

  // ---- linear algebra ---------------------------------------------------------------------

  matmul(other: Tensor): Tensor {
    return new Tensor(op.matmul(this.handle, tensorArg('matmul', other).handle));
  }

  mm(other: Tensor): Tensor {
    return new Tensor(op.mm(this.handle, tensorArg('mm', other).handle));
  }

  bmm(other: Tensor): Tensor {
    return new Tensor(op.bmm(this.handle, tensorArg('bmm', other).handle));
  }

  // ---- in place (PyTorch's trailing underscore; autograd's rules apply) ---------------------

  add_(other: TensorOrScalar, options?: { alpha?: number }): this {
    if (other instanceof Tensor) op.add_(this.handle, other.handle, options?.alpha ?? 1);
    else op.addScalar_(this.handle, scalar('add_', other), options?.alpha ?? 1);
    return this;
  }

  sub_(other: TensorOrScalar, options?: { alpha?: number }): this {
    if (other instanceof Tensor) op.sub_(this.handle, other.handle, options?.alpha ?? 1);
    else op.subScalar_(this.handle, scalar('sub_', other), options?.alpha ?? 1);
    return this;
  }

  mul_(other: TensorOrScalar): this {
    if (other instanceof Tensor) op.mul_(this.handle, other.handle);
    else op.mulScalar_(this.handle, scalar('mul_', other));
    return this;
  }

  div_(other: TensorOrScalar): this {
    if (other instanceof Tensor) op.div_(this.handle, other.handle);
    else op.divScalar_(this.handle, scalar('div_', other));
    return this;
  }

  pow_(exponent: number): this {
    op.pow_(this.handle, scalar('pow_', exponent));
    return this;
  }

  sqrt_(): this {
    op.sqrt_(this.handle);
    return this;
  }

  neg_(): this {
    op.neg_(this.handle);
    return this;
  }

  relu_(): this {
    op.relu_(this.handle);
    return this;
  }

  clamp_(min: TensorOrScalar | null = null, max: TensorOrScalar | null = null): this {
    if (min === null && max === null) throw new TypeError('clamp_: at least one of min and max must be given');
    if (min instanceof Tensor || max instanceof Tensor) {
      const lo = min === null ? null : min instanceof Tensor ? min : full([], scalar('clamp_', min), this.dtype);
      const hi = max === null ? null : max instanceof Tensor ? max : full([], scalar('clamp_', max), this.dtype);
      try {
        op.clampTensor_(this.handle, lo?.handle ?? null, hi?.handle ?? null);
      } finally {
        if (lo !== null && lo !== min) lo.dispose();
        if (hi !== null && hi !== max) hi.dispose();
      }
    } else {
      op.clamp_(this.handle, min === null ? null : scalar('clamp_', min), max === null ? null : scalar('clamp_', max));
    }
    return this;
  }

  copy_(src: Tensor): this {
    op.copy_(this.handle, tensorArg('copy_', src).handle, false);
    return this;
  }

  zero_(): this {
    op.zero_(this.handle);
    return this;
  }

  fill_(value: number): this {
    op.fill_(this.handle, scalar('fill_', value));
    return this;
  }

  uniform_(from = 0, to = 1): this {
    if (!(from <= to)) throw new RangeError(`uniform_: expects from <= to, got from=${from} to=${to}`);
    op.uniform_(this.handle, from, to);
    return this;
  }

  normal_(mean = 0, std = 1): this {
    if (!(std >= 0)) throw new RangeError(`normal_: expects std >= 0, got ${std}`);
    op.normal_(this.handle, mean, std);
    return this;
  }

  bernoulli_(p = 0.5): this {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli_: expects 0 <= p <= 1, got ${p}`);
    op.bernoulli_(this.handle, p);
    return this;
  }

  maskedFill_(mask: Tensor, value: number): this {
    op.maskedFill_(this.handle, tensorArg('maskedFill_: mask', mask).handle, scalar('maskedFill_', value));
    return this;
  }

  /** this += value · t1 · t2 */
  addcmul_(t1: Tensor, t2: Tensor, options: { value?: number } = {}): this {
    op.addcmul_(this.handle, tensorArg('addcmul_', t1).handle, tensorArg('addcmul_', t2).handle, options.value ?? 1);
    return this;
  }

  /** this += value · t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, options: { value?: number } = {}): this {
    op.addcdiv_(this.handle, tensorArg('addcdiv_', t1).handle, tensorArg('addcdiv_', t2).handle, options.value ?? 1);
    return this;
  }

  /** this += weight · (end − this) */
  lerp_(end: Tensor, weight: number): this {
    op.lerp_(this.handle, tensorArg('lerp_', end).handle, scalar('lerp_', weight));
    return this;
  }

  /** Writes `values` at the positions `indices` (PyTorch's `index_put_`). */
  indexPut_(indices: readonly (Tensor | null)[], values: Tensor, options: { accumulate?: boolean } = {}): this {
    // With no index tensor libtorch fails an internal assertion instead of saying what is wrong.
    if (!Array.isArray(indices) || !indices.some((t) => t !== null))
      throw new TypeError(`indexPut_: indices must be an array with at least one index Tensor (null skips a dimension), got ${describeValue(indices)}`);
    op.indexPut_(this.handle, indices.map((t) => (t === null ? null : tensorArg('indexPut_: indices', t).handle)), tensorArg('indexPut_: values', values).handle, options.accumulate ?? false);
    return this;
  }
}

markOwned(Tensor.prototype);

function shapeArgs(name: string, args: number[] | [readonly number[]]): number[] {
  const list = args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as readonly number[])] : (args as number[]);
  for (const d of list) if (typeof d !== 'number' || !Number.isInteger(d)) throw new TypeError(`${name}: sizes must be integers, got [${list.map(String).join(', ')}]`);
  return list;
}

// libtorch reports these two mistakes with a bare std::runtime_error, which
// reaches JavaScript without the op's name or the input's shape.
function checkNewShape(name: string, input: Tensor, shape: number[]): number[] {
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) throw new RangeError(`${name}: only one dimension can be inferred (-1), got [${shape.join(', ')}]`);
  // Other negative sizes are left to libtorch, whose message names them.
  if (shape.some((d) => d < -1)) return shape;
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const numel = input.numel();
  if (inferred === 0 ? known !== numel : known === 0 || numel % known !== 0)
    throw new RangeError(`${name}: shape [${shape.join(', ')}] is invalid for input ${input.describe()} of ${numel} elements`);
  return shape;
}

// A string given to `to()`: a dtype name or a device name.
function stringTarget(target: string): { dtype?: DType; device?: Device } {
  if ((DTYPES as readonly string[]).includes(target)) return { dtype: target as DType };
  if (target === 'cpu' || target.startsWith('cuda')) return { device: target as Device };
  throw new TypeError(`to: '${target}' is neither a dtype (${DTYPES.join(', ')}) nor a device ('cpu', 'cuda', 'cuda:N')`);
}

const fullOp = aten('full');

/** A tensor of `shape` filled with `value` (used by the ops above for scalar operands). */
function full(shape: readonly number[], value: number | boolean, dtype: DType): Tensor {
  return new Tensor(fullOp(shape, value, dtypeCode(dtype)));
}

// Applies the index specs one dimension at a time; intermediate views are
// disposed here so `index` leaves only its result behind.
function scopedIndex(x: Tensor, specs: IndexSpec[]): Tensor {
  const ellipsis = specs.filter((s) => s === '...').length;
  if (ellipsis > 1) throw new TypeError("index: at most one '...' is allowed");
  const consumed = specs.filter((s) => s !== null && s !== '...' && !(s instanceof Tensor && s.dtype === 'bool')).length +
    specs.reduce<number>((n, s) => n + (s instanceof Tensor && s.dtype === 'bool' ? s.ndim : 0), 0);
  if (consumed > x.ndim) throw new RangeError(`index: too many indices (${consumed}) for a tensor of shape [${x.shape.join(', ')}]`);
  let current = x;
  const advanced: (Tensor | null)[] = [];
  let useAdvanced = false;
  let dim = 0;
  const step = (next: Tensor) => {
    if (current !== x) current.dispose();
    current = next;
  };
  try {
    for (const spec of specs) {
      if (spec === '...') {
        const skip = x.ndim - consumed;
        for (let i = 0; i < skip; i++) advanced.push(null);
        dim += skip;
      } else if (spec === null) {
        step(current.unsqueeze(dim));
        advanced.push(null);
        dim += 1;
      } else if (typeof spec === 'number') {
        if (!Number.isInteger(spec)) throw new TypeError(`index: integer indices must be integers, got ${spec}`);
        const size = current.shape[dim];
        if (spec < -size || spec >= size) throw new RangeError(`index: index ${spec} is out of bounds for dimension ${dim} with size ${size}`);
        step(current.select(dim, spec));
      } else if (typeof spec === 'string') {
        const m = SLICE.exec(spec);
        if (!m || !spec.includes(':')) throw new TypeError(`index: cannot parse slice '${spec}'; expected 'start:end:step' with optional parts, ':' or '...'`);
        const stepSize = m[3] === undefined ? 1 : Number(m[3]);
        step(current.slice(dim, m[1] === undefined ? null : Number(m[1]), m[2] === undefined ? null : Number(m[2]), stepSize));
        advanced.push(null);
        dim += 1;
      } else if (spec instanceof Tensor) {
        useAdvanced = true;
        advanced.push(spec);
        dim += spec.dtype === 'bool' ? spec.ndim : 1;
      } else {
        throw new TypeError(`index: unsupported index ${describeValue(spec)}`);
      }
    }
    if (useAdvanced) step(new Tensor(op.index(current.handle, advanced.map((t) => (t === null ? null : t.handle)))));
    return current === x ? new Tensor(native.handle(x.handle)) : current;
  } catch (error) {
    if (current !== x) current.dispose();
    throw error;
  }
}
