// The default process group and its collectives, as torch.distributed names
// them (camelCase), on libtorch's own c10d engine with the Gloo backend.
//
// Rendezvous is torch.distributed.init_process_group's, step for step (see
// native/src/distributed.cc), so NetLab processes and PyTorch processes can
// join one group. Collectives run on Gloo's threads: each call returns a Work
// at once, and `await work` (or `await work.wait()`) waits for it without
// blocking Node's event loop. Tensors are reduced in place, so do not read or
// write them until the work is done.
import { native, type NativeGroup, type NativeWork } from '../tensor/native.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import { fromBytes, tensor } from '../tensor/creation.js';

/** The reductions of `allReduce` and `reduceScatter`, as torch.distributed.ReduceOp. */
export const ReduceOp = { SUM: 'sum', PRODUCT: 'product', MIN: 'min', MAX: 'max', AVG: 'avg' } as const;
export type ReduceOpName = (typeof ReduceOp)[keyof typeof ReduceOp];

// c10d::ReduceOp::RedOpType's codes.
const REDUCE_CODES: Record<ReduceOpName, number> = { sum: 0, avg: 1, product: 2, min: 3, max: 4 };

/** torch.distributed's default timeout: 30 minutes. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

export interface InitOptions {
  /** Only 'gloo' (CPU); 'nccl' needs a CUDA build of libtorch, 'mpi' a source build with MPI. */
  backend?: string;
  /** 'env://' (default: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE), 'tcp://HOST:PORT' or 'file://PATH'. */
  initMethod?: string;
  /** This process's rank; default: RANK from the environment. */
  rank?: number;
  /** Processes in the group; default: WORLD_SIZE from the environment. */
  worldSize?: number;
  /** Milliseconds any rendezvous or collective may wait for the others before it fails; default 30 minutes. */
  timeout?: number;
}

interface Group {
  native: NativeGroup;
  rank: number;
  worldSize: number;
  localRank: number;
  backend: 'gloo';
}

let current: Group | null = null;
let joining = false;

function fail(message: string): never {
  throw new Error(message);
}

function intOption(name: string, value: unknown, min: number, source: string): number {
  const n = typeof value === 'string' ? (/^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) {
    throw new RangeError(`initProcessGroup: ${name} must be an integer >= ${min}, got ${typeof value === 'string' ? `'${value}'` : String(value)}${source}`);
  }
  return n;
}

function envValue(name: string, method: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') fail(`initProcessGroup: ${method} rendezvous needs the environment variable ${name}, which is not set`);
  return value;
}

interface Rendezvous {
  store: 'tcp' | 'file';
  host?: string;
  port?: number;
  path?: string;
  rank: number;
  worldSize: number;
}

// Reads the init method as torch.distributed's rendezvous handlers do:
// query parameters rank and world_size override the options, which override
// the environment.
function rendezvous(options: InitOptions): Rendezvous {
  const method = options.initMethod ?? 'env://';
  if (typeof method !== 'string') throw new TypeError(`initProcessGroup: initMethod must be a string, got ${describeValue(method)}`);
  const match = /^([a-z]+):\/\/(.*)$/.exec(method);
  if (match === null) fail(`initProcessGroup: initMethod '${method}' is not a URL; use env://, tcp://HOST:PORT or file://PATH`);
  const [, scheme, rest] = match;
  const [location, query = ''] = rest.split('?', 2);
  const params = new URLSearchParams(query);
  const pick = (name: string, param: string, option: number | undefined, env: string) => {
    if (params.has(param)) return intOption(name, params.get(param), name === 'worldSize' ? 1 : 0, ` (from ${param} in '${method}')`);
    if (option !== undefined) return intOption(name, option, name === 'worldSize' ? 1 : 0, '');
    return intOption(name, envValue(env, `${scheme}://`), name === 'worldSize' ? 1 : 0, ` (from ${env})`);
  };
  const worldSize = pick('worldSize', 'world_size', options.worldSize, 'WORLD_SIZE');
  const rank = pick('rank', 'rank', options.rank, 'RANK');
  if (rank >= worldSize) fail(`initProcessGroup: rank ${rank} is not below the world size ${worldSize}; ranks run from 0 to ${worldSize - 1}`);
  if (scheme === 'env') {
    const host = envValue('MASTER_ADDR', 'env://');
    const port = intOption('MASTER_PORT', envValue('MASTER_PORT', 'env://'), 1, ' (from MASTER_PORT)');
    if (port > 65535) fail(`initProcessGroup: MASTER_PORT must be at most 65535, got ${port}`);
    return { store: 'tcp', host, port, rank, worldSize };
  }
  if (scheme === 'tcp') {
    const at = location.lastIndexOf(':');
    const host = at > 0 ? location.slice(0, at).replace(/^\[(.*)\]$/, '$1') : '';
    const port = at > 0 ? Number(location.slice(at + 1)) : NaN;
    if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) fail(`initProcessGroup: '${method}' needs a host and a port from 1 to 65535, as tcp://HOST:PORT`);
    return { store: 'tcp', host, port, rank, worldSize };
  }
  if (scheme === 'file') {
    if (location === '') fail(`initProcessGroup: '${method}' names no file; use file:///an/absolute/path`);
    return { store: 'file', path: location, rank, worldSize };
  }
  return fail(`initProcessGroup: unknown init method '${scheme}://'; use env://, tcp://HOST:PORT or file://PATH`);
}

/**
 * Joins the default process group, as torch.distributed.init_process_group:
 * rank 0 hosts the TCP store at MASTER_ADDR:MASTER_PORT (env://) or
 * HOST:PORT (tcp://), every rank connects, and the promise resolves once all
 * `worldSize` ranks have joined. Gloo picks its network interface as PyTorch
 * does: those in GLOO_SOCKET_IFNAME (comma-separated), else the address the
 * host name resolves to. LOCAL_RANK, as torchrun sets it, is `getLocalRank()`.
 *
 * Checks across ranks: as in PyTorch, a collective called with tensors of
 * different shapes on different ranks is not detected by Gloo itself (one
 * rank may finish with wrong values while another fails). With
 * TORCH_DISTRIBUTED_DEBUG=DETAIL in the environment, NetLab wraps the group
 * in c10d's ProcessGroupWrapper, as torch.distributed does: before every
 * collective the ranks compare the operation, shapes and dtypes and all fail
 * with a message naming both sides on a mismatch. The check costs a barrier
 * and a small all-gather per collective, run on the calling thread.
 */
export async function initProcessGroup(options: InitOptions = {}): Promise<void> {
  if (typeof options !== 'object' || options === null) throw new TypeError(`initProcessGroup: options must be an object, got ${describeValue(options)}`);
  if (current !== null || joining) fail('initProcessGroup: the default process group is already initialized; call destroyProcessGroup() first');
  const backend = options.backend ?? 'gloo';
  if (backend !== 'gloo') {
    if (backend === 'nccl') fail("initProcessGroup: backend 'nccl' needs a CUDA build of libtorch, and this one is CPU-only; use 'gloo'");
    if (backend === 'mpi') fail("initProcessGroup: backend 'mpi' needs libtorch built from source with MPI; use 'gloo'");
    fail(`initProcessGroup: unknown backend '${String(backend)}'; use 'gloo'`);
  }
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw new RangeError(`initProcessGroup: timeout must be a positive number of milliseconds, got ${describeValue(timeout)}`);
  const r = rendezvous(options);
  const localRank = process.env.LOCAL_RANK === undefined ? r.rank : intOption('LOCAL_RANK', process.env.LOCAL_RANK, 0, ' (from LOCAL_RANK)');
  joining = true;
  try {
    const group = await native.distInit({ ...r, timeoutMs: Math.round(timeout) }).catch((error: Error) => {
      throw new Error(explainJoinError(error.message, r, timeout));
    });
    current = { native: group, rank: r.rank, worldSize: r.worldSize, localRank, backend: 'gloo' };
  } finally {
    joining = false;
  }
}

// c10d's messages name sockets and errno; say what the user should check.
function explainJoinError(message: string, r: Rendezvous, timeout: number): string {
  const where = r.store === 'tcp' ? `${r.host}:${r.port}` : r.path;
  if (/Address already in use/i.test(message)) {
    return `initProcessGroup: port ${r.port} on ${r.host} is already in use, so rank 0 cannot host the store there; choose another MASTER_PORT (--master-port) (${message})`;
  }
  if (/timed out|timeout|Connection refused/i.test(message) && r.rank !== 0 && r.store === 'tcp') {
    return `initProcessGroup: rank ${r.rank} could not reach the master at ${where} within ${timeout / 1000} s; check that rank 0 runs and that MASTER_ADDR and MASTER_PORT point to it (${message})`;
  }
  return `initProcessGroup: rank ${r.rank} of ${r.worldSize} failed to join the group at ${where}: ${message}`;
}

/** Leaves the default group and frees it; collectives after this fail. */
export function destroyProcessGroup(): void {
  const group = requireGroup('destroyProcessGroup');
  current = null;
  native.distDestroy(group.native);
}

export function isInitialized(): boolean {
  return current !== null;
}

function requireGroup(name: string): Group {
  if (current === null) fail(`${name}: the default process group is not initialized; call initProcessGroup() first`);
  return current;
}

/** This process's rank in the default group. */
export function getRank(): number {
  return requireGroup('getRank').rank;
}

export function getWorldSize(): number {
  return requireGroup('getWorldSize').worldSize;
}

/** The rank among this machine's processes (LOCAL_RANK, or the rank when unset). */
export function getLocalRank(): number {
  return requireGroup('getLocalRank').localRank;
}

export function getBackend(): 'gloo' {
  return requireGroup('getBackend').backend;
}

/** @internal The native group, for DistributedDataParallel. */
export function nativeGroup(name: string): NativeGroup {
  return requireGroup(name).native;
}

/**
 * A collective in flight. `await work` or `await work.wait()` resolves when
 * it is done, and rejects with the collective's error (a peer that died, a
 * timeout, mismatched tensors).
 */
export class Work implements PromiseLike<void> {
  private done: Promise<void> | null = null;

  /** @internal */
  constructor(
    private readonly work: NativeWork,
    private readonly what: string,
    private readonly rank: number,
  ) {}

  wait(): Promise<void> {
    this.done ??= native.distWait(this.work).catch((error: Error) => {
      throw new Error(`${this.what} failed on rank ${this.rank}: ${error.message}`);
    });
    return this.done;
  }

  isCompleted(): boolean {
    return native.distCompleted(this.work);
  }

  then<A = void, B = never>(onFulfilled?: ((value: void) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.wait().then(onFulfilled, onRejected);
  }
}

// Gloo's element types (ProcessGroupGloo rejects the rest, bool included).
const GLOO_DTYPES = new Set(['float32', 'float64', 'float16', 'int8', 'uint8', 'int32', 'int64']);

function checkTensor(name: string, t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${name}: ${what} must be a Tensor, got ${describeValue(t)}`);
  if (t.isDisposed) throw new Error(`${name}: ${what} has been disposed`);
  if (!GLOO_DTYPES.has(t.dtype)) throw new TypeError(`${name}: ${what} is ${t.describe()}, but Gloo reduces ${[...GLOO_DTYPES].join(', ')} only`);
  return t;
}

function checkOp(name: string, op: unknown): number {
  if (typeof op !== 'string' || !(op in REDUCE_CODES)) throw new TypeError(`${name}: op must be one of ${Object.values(ReduceOp).join(', ')} (ReduceOp.*), got ${describeValue(op)}`);
  if (op === 'avg') fail(`${name}: ReduceOp.AVG is not supported by the Gloo backend (as in torch.distributed); reduce with ReduceOp.SUM and divide by getWorldSize()`);
  return REDUCE_CODES[op as ReduceOpName];
}

function checkRank(name: string, what: string, value: unknown, worldSize: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= worldSize) {
    throw new RangeError(`${name}: ${what} must be a rank from 0 to ${worldSize - 1}, got ${describeValue(value)}`);
  }
  return value;
}

function sameLayout(name: string, what: string, t: Tensor, like: Tensor): void {
  if (t.dtype !== like.dtype || t.shape.length !== like.shape.length || t.shape.some((d, i) => d !== like.shape[i])) {
    throw new RangeError(`${name}: ${what} is ${t.describe()} but the input is ${like.describe()}; they must match`);
  }
}

/** Reduces `tensor` over all ranks, in place (default: sum). */
export function allReduce(tensor: Tensor, op: ReduceOpName = ReduceOp.SUM): Work {
  const g = requireGroup('allReduce');
  const code = checkOp('allReduce', op);
  checkTensor('allReduce', tensor, 'the tensor');
  return new Work(native.distAllReduce(g.native, tensor.handle, code), 'allReduce', g.rank);
}

/** Copies rank `src`'s `tensor` into every other rank's `tensor`. */
export function broadcast(tensor: Tensor, src: number): Work {
  const g = requireGroup('broadcast');
  checkTensor('broadcast', tensor, 'the tensor');
  checkRank('broadcast', 'src', src, g.worldSize);
  return new Work(native.distBroadcast(g.native, tensor.handle, src), 'broadcast', g.rank);
}

/** Fills `outputList[r]` with rank r's `input`; one output per rank, each shaped as the input. */
export function allGather(outputList: Tensor[], input: Tensor): Work {
  const g = requireGroup('allGather');
  checkTensor('allGather', input, 'the input');
  if (!Array.isArray(outputList) || outputList.length !== g.worldSize) {
    throw new RangeError(`allGather: outputList must hold one tensor per rank (${g.worldSize}), got ${Array.isArray(outputList) ? outputList.length : describeValue(outputList)}`);
  }
  outputList.forEach((t, i) => sameLayout('allGather', `outputList[${i}]`, checkTensor('allGather', t, `outputList[${i}]`), input));
  return new Work(native.distAllGather(g.native, outputList.map((t) => t.handle), input.handle), 'allGather', g.rank);
}

/**
 * Reduces `inputList[r]` over all ranks into rank r's `output`. torch 1.13's
 * Gloo backend does not implement it, and says so; it is here for the
 * backends that do.
 */
export function reduceScatter(output: Tensor, inputList: Tensor[], op: ReduceOpName = ReduceOp.SUM): Work {
  const g = requireGroup('reduceScatter');
  const code = checkOp('reduceScatter', op);
  checkTensor('reduceScatter', output, 'the output');
  if (!Array.isArray(inputList) || inputList.length !== g.worldSize) {
    throw new RangeError(`reduceScatter: inputList must hold one tensor per rank (${g.worldSize}), got ${Array.isArray(inputList) ? inputList.length : describeValue(inputList)}`);
  }
  inputList.forEach((t, i) => sameLayout('reduceScatter', `inputList[${i}]`, checkTensor('reduceScatter', t, `inputList[${i}]`), output));
  return new Work(native.distReduceScatter(g.native, output.handle, inputList.map((t) => t.handle), code), 'reduceScatter', g.rank);
}

/** Completes when every rank has reached it. */
export function barrier(): Work {
  const g = requireGroup('barrier');
  return new Work(native.distBarrier(g.native), 'barrier', g.rank);
}

/**
 * Fills `objectList[r]` with rank r's `obj`, as torch.distributed's
 * all_gather_object (which pickles; this sends JSON, so NaN and undefined
 * arrive as null). Every rank must call it.
 */
export async function allGatherObject(objectList: unknown[], obj: unknown): Promise<void> {
  const g = requireGroup('allGatherObject');
  if (!Array.isArray(objectList) || objectList.length !== g.worldSize) {
    throw new RangeError(`allGatherObject: objectList must have one slot per rank (${g.worldSize}), got ${Array.isArray(objectList) ? objectList.length : describeValue(objectList)}`);
  }
  const text = JSON.stringify(obj);
  if (text === undefined) throw new TypeError(`allGatherObject: ${describeValue(obj)} has no JSON form`);
  const bytes = new TextEncoder().encode(text);
  const own = tensor([bytes.length], { dtype: 'int64' });
  const lengths = Array.from({ length: g.worldSize }, () => tensor([0], { dtype: 'int64' }));
  const tensors: Tensor[] = [own, ...lengths];
  try {
    await allGather(lengths, own);
    const sizes = lengths.map((t) => Number(t.item()));
    const longest = Math.max(...sizes);
    const padded = new Uint8Array(longest);
    padded.set(bytes);
    const input = fromBytes(padded, [longest], 'uint8');
    const outputs = sizes.map(() => fromBytes(new Uint8Array(longest), [longest], 'uint8'));
    tensors.push(input, ...outputs);
    await allGather(outputs, input);
    const decoder = new TextDecoder();
    outputs.forEach((t, r) => (objectList[r] = JSON.parse(decoder.decode((t.toTypedArray() as Uint8Array).subarray(0, sizes[r])))));
  } finally {
    for (const t of tensors) t.dispose();
  }
}
