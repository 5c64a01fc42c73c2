// Making tensors: from JavaScript data, by fill, by range and at random.
import { aten, native } from './native.js';
import { dtypeCode, dtypeOfTypedArray, ITEM_SIZE, type DType } from './dtype.js';
import { checkDevice, type Device } from './device.js';
import { describeValue, Tensor } from './tensor.js';

export interface TensorOptions {
  /** Element type; float32 unless stated (int64 for randint, randperm and integer ranges). */
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

/** Nested arrays of numbers or booleans, as `torch.tensor` takes. */
export type NestedArray = number | boolean | readonly NestedArray[];

const op = {
  zeros: aten('zeros'),
  ones: aten('ones'),
  full: aten('full'),
  empty: aten('empty', 'memory_format'),
  arange: aten('arange', 'start_step'),
  linspace: aten('linspace'),
  eye: aten('eye', 'm'),
  rand: aten('rand'),
  randn: aten('randn'),
  randint: aten('randint', 'low'),
  randperm: aten('randperm'),
  zerosLike: aten('zeros_like'),
  onesLike: aten('ones_like'),
  fullLike: aten('full_like'),
  emptyLike: aten('empty_like'),
  randLike: aten('rand_like'),
  randnLike: aten('randn_like'),
  randintLike: aten('randint_like', 'low_dtype'),
};

function checkShape(name: string, shape: readonly number[]): readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${name}: shape must be an array of integers, got ${describeValue(shape)}`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0)
      throw new RangeError(`${name}: shape must hold non-negative integers, got [${shape.map(String).join(', ')}]`);
  }
  return shape;
}

function dtypeOf(options: TensorOptions, fallback: DType | null = 'float32'): number | null {
  const dtype = options.dtype ?? fallback;
  return dtype === null ? null : dtypeCode(dtype);
}

function deviceOf(options: TensorOptions): string | null {
  return options.device === undefined ? null : checkDevice(options.device);
}

function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.requiresGrad) {
    try {
      t.requiresGrad_(true);
    } catch (error) {
      // e.g. an integer dtype, which cannot require grad: leave no tensor behind.
      t.dispose();
      throw error;
    }
  }
  return t;
}

function shapeOf(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], depth: number, out: (number | boolean)[]): void {
  if (depth === shape.length) {
    if (typeof data !== 'number' && typeof data !== 'boolean')
      throw new TypeError(`tensor: expected a number or boolean at depth ${depth}, got ${describeValue(data)}`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth])
    throw new TypeError(`tensor: nested arrays are ragged: expected ${shape[depth]} elements at depth ${depth}, got ${Array.isArray(data) ? data.length : describeValue(data)}`);
  for (const item of data) flatten(item, shape, depth + 1, out);
}

function packValues(values: (number | boolean)[], dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float32': return Float32Array.from(values as number[]);
    case 'float64': return Float64Array.from(values as number[]);
    case 'int64': return BigInt64Array.from(values as number[], (v) => BigInt(Math.trunc(Number(v))));
    case 'int32': return Int32Array.from(values as number[]);
    case 'int16': return Int16Array.from(values as number[]);
    case 'int8': return Int8Array.from(values as number[]);
    case 'uint8':
    case 'bool': return Uint8Array.from(values as number[], (v) => Number(v));
    default: return Float32Array.from(values as number[]);
  }
}

/**
 * A tensor from nested arrays or a typed array (copied). Numbers become
 * float32 and booleans bool unless `dtype` says otherwise; a typed array keeps
 * its own element type, and `shape` reshapes it.
 */
export function tensor(data: NestedArray | ArrayBufferView, options: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  // Options are checked before any native tensor exists, so a bad one leaves nothing behind.
  const shapeOption = options.shape === undefined ? undefined : checkShape('tensor', options.shape);
  if (options.dtype !== undefined) dtypeCode(options.dtype);
  if (options.device !== undefined) checkDevice(options.device);
  const checkLength = (length: number) => {
    const expected = shapeOption?.reduce((a, b) => a * b, 1) ?? length;
    if (expected !== length) throw new RangeError(`tensor: shape [${shapeOption!.join(', ')}] needs ${expected} elements but the data has ${length}`);
  };
  let t: Tensor;
  if (ArrayBuffer.isView(data)) {
    const own = dtypeOfTypedArray(data);
    const length = data.byteLength / ITEM_SIZE[own];
    checkLength(length);
    t = new Tensor(native.fromBuffer(data, shapeOption ?? [length], dtypeCode(own)));
    if (options.dtype !== undefined && options.dtype !== own) t = convert(t, options.dtype);
  } else {
    if (typeof data !== 'number' && typeof data !== 'boolean' && !Array.isArray(data))
      throw new TypeError(`tensor: expected nested arrays of numbers, a number or a typed array, got ${describeValue(data)}`);
    const shape = shapeOf(data);
    const values: (number | boolean)[] = [];
    flatten(data, shape, 0, values);
    checkLength(values.length);
    const dtype = options.dtype ?? (values.length > 0 && typeof values[0] === 'boolean' ? 'bool' : 'float32');
    const packed = packValues(values, dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype);
    t = new Tensor(native.fromBuffer(packed, shape, dtypeCode(dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype)));
    if (dtype === 'float16' || dtype === 'bfloat16') t = convert(t, dtype);
    if (shapeOption !== undefined) {
      const reshaped = t.reshape([...shapeOption]);
      t.dispose();
      t = reshaped;
    }
  }
  if (options.device !== undefined && options.device !== 'cpu') {
    const moved = t.to(options.device);
    t.dispose();
    t = moved;
  }
  return finish(t, options);
}

/**
 * A CPU tensor from raw little-endian bytes, row-major (copied), for file
 * formats; the only way in for float16, bfloat16 and bool data, which have no
 * typed array of their own. The byte length must equal numel × item size.
 */
export function fromBytes(bytes: Uint8Array, shape: readonly number[], dtype: DType): Tensor {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`fromBytes: bytes must be a Uint8Array, got ${describeValue(bytes)}`);
  return new Tensor(native.fromBuffer(bytes, checkShape('fromBytes', shape), dtypeCode(dtype)));
}

function convert(t: Tensor, dtype: DType): Tensor {
  const out = t.to(dtype);
  t.dispose();
  return out;
}

/** A 0-dimensional tensor holding one number. */
export function scalarTensor(value: number | boolean, options: TensorOptions = {}): Tensor {
  return full([], value, options);
}

export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.zeros(checkShape('zeros', shape), dtypeOf(options), null, deviceOf(options))), options);
}

export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.ones(checkShape('ones', shape), dtypeOf(options), null, deviceOf(options))), options);
}

export function full(shape: readonly number[], value: number | boolean, options: TensorOptions = {}): Tensor {
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new TypeError(`full: fill value must be a number or boolean, got ${describeValue(value)}`);
  const fallback: DType = typeof value === 'boolean' ? 'bool' : 'float32';
  return finish(new Tensor(op.full(checkShape('full', shape), value, dtypeOf(options, fallback), null, deviceOf(options))), options);
}

/** Uninitialised memory: every element must be written before it is read. */
export function empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.empty(checkShape('empty', shape), dtypeOf(options), null, deviceOf(options))), options);
}

/**
 * Values from start (inclusive) to end (exclusive) in steps: `arange(5)`,
 * `arange(2, 8, 2)`. Integer arguments give int64, as in PyTorch.
 */
export function arange(end: number, options?: TensorOptions): Tensor;
export function arange(start: number, end: number, step?: number, options?: TensorOptions): Tensor;
export function arange(a: number, b?: number | TensorOptions, c?: number | TensorOptions, d?: TensorOptions): Tensor {
  let start = 0;
  let end: number;
  let step = 1;
  let options: TensorOptions = {};
  if (typeof b === 'number') {
    start = a;
    end = b;
    if (typeof c === 'number') step = c;
    else if (c !== undefined) options = c;
    if (d !== undefined) options = d;
  } else {
    end = a;
    if (b !== undefined) options = b;
  }
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const)
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`arange: ${name} must be a finite number, got ${describeValue(v)}`);
  if (step === 0) throw new RangeError('arange: step must not be zero');
  if ((end - start) / step < 0) throw new RangeError(`arange: the range from ${start} to ${end} cannot be reached with step ${step}`);
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  return finish(new Tensor(op.arange(start, end, step, dtypeOf(options, integral ? 'int64' : 'float32'), null, deviceOf(options))), options);
}

export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`linspace: steps must be a non-negative integer, got ${steps}`);
  return finish(new Tensor(op.linspace(start, end, steps, dtypeOf(options), null, deviceOf(options))), options);
}

export function eye(n: number, m: number = n, options: TensorOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  return finish(new Tensor(op.eye(n, m, dtypeOf(options), null, deviceOf(options))), options);
}

/** Uniform on [0, 1). */
export function rand(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.rand(checkShape('rand', shape), dtypeOf(options), null, deviceOf(options))), options);
}

/** Standard normal. */
export function randn(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.randn(checkShape('randn', shape), dtypeOf(options), null, deviceOf(options))), options);
}

/** Integers uniform on [low, high); int64 unless stated. */
export function randint(low: number, high: number, shape: readonly number[], options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || low >= high)
    throw new RangeError(`randint: expects integers low < high, got low=${low} high=${high}`);
  return finish(new Tensor(op.randint(low, high, checkShape('randint', shape), dtypeOf(options, 'int64'), null, deviceOf(options))), options);
}

/** A random permutation of 0 … n−1 (int64). */
export function randperm(n: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`randperm: n must be a non-negative integer, got ${n}`);
  return finish(new Tensor(op.randperm(n, dtypeOf(options, 'int64'), null, deviceOf(options))), options);
}

function likeArgs(name: string, t: Tensor, options: TensorOptions): [number, number | null, null, string | null] {
  if (!(t instanceof Tensor)) throw new TypeError(`${name}: expected a Tensor, got ${describeValue(t)}`);
  return [t.handle, dtypeOf(options, null), null, deviceOf(options)];
}

export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.zerosLike(...likeArgs('zerosLike', t, options))), options);
}

export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.onesLike(...likeArgs('onesLike', t, options))), options);
}

export function fullLike(t: Tensor, value: number, options: TensorOptions = {}): Tensor {
  const [h, ...rest] = likeArgs('fullLike', t, options);
  return finish(new Tensor(op.fullLike(h, value, ...rest)), options);
}

export function emptyLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.emptyLike(...likeArgs('emptyLike', t, options))), options);
}

export function randLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.randLike(...likeArgs('randLike', t, options))), options);
}

export function randnLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return finish(new Tensor(op.randnLike(...likeArgs('randnLike', t, options))), options);
}

export function randintLike(t: Tensor, low: number, high: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || low >= high)
    throw new RangeError(`randintLike: expects integers low < high, got low=${low} high=${high}`);
  const [h, ...rest] = likeArgs('randintLike', t, options);
  return finish(new Tensor(op.randintLike(h, low, high, ...rest)), options);
}

/** Seeds libtorch's default generator, so random results repeat. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

/** The default generator's state, for checkpoints (a uint8 tensor). */
export function getRngState(): Tensor {
  return new Tensor(native.getRngState());
}

export function setRngState(state: Tensor): void {
  if (!(state instanceof Tensor)) throw new TypeError(`setRngState: expected the Tensor from getRngState(), got ${describeValue(state)}`);
  native.setRngState(state.handle);
}

// Each libtorch thread is an OS thread that spins while it waits for work; far
// more threads than cores only slows every process on the machine down.
const MAX_THREADS = 256;

/** Sets libtorch's intra-op thread count (default: the machine's cores). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new RangeError(`setNumThreads: expects an integer from 1 to ${MAX_THREADS}, got ${n}`);
  native.setNumThreads(n);
}

/**
 * Flushes subnormal floats to zero on the CPU (PyTorch's set_flush_denormal),
 * which avoids the slow path of subnormal arithmetic; returns whether the CPU supports it.
 */
export function setFlushDenormal(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new TypeError(`setFlushDenormal: expected a boolean, got ${describeValue(on)}`);
  return native.setFlushDenormal(on);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** How many tensors are alive on the native side (for leak checks). */
export function liveTensors(): number {
  return native.liveTensors();
}
