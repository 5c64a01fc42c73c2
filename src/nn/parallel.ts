// Data-parallel training over the default process group, on the engine of
// torch.nn.parallel.DistributedDataParallel: c10d's Reducer, which hooks
// every parameter's gradient accumulator, packs gradients into buckets
// (1 MiB for the first, `bucketCapMb` after, in reverse parameter order) and
// launches each bucket's all-reduce as soon as its last gradient arrives
// during the backward pass, overlapping communication with the rest of the
// backward. When backward returns, every rank holds the gradients averaged
// over all ranks.
import { native, type NativeGroup, type NativeReducer } from '../tensor/native.js';
import { isGradEnabled } from '../tensor/autograd.js';
import { Tensor } from '../tensor/tensor.js';
import { getWorldSize, nativeGroup } from '../distributed/process-group.js';
import { Buffer, Module, type LoadResult, type StateDict } from './module.js';

export interface DistributedDataParallelOptions {
  /** Gradient bucket size in MiB; PyTorch's default is 25. */
  bucketCapMb?: number;
  /** Broadcast rank 0's buffers (batch-norm statistics) before every forward pass, as PyTorch does by default. */
  broadcastBuffers?: boolean;
  /**
   * Walk the graph of each forward's outputs for parameters it did not use,
   * so their buckets can still be reduced; costs a graph traversal per step.
   */
  findUnusedParameters?: boolean;
}

// PyTorch's broadcast bucket for _sync_module_states: 250 MiB.
const BROADCAST_BYTES = 250 * 1024 * 1024;

function tensorsIn(value: unknown, out: Tensor[] = []): Tensor[] {
  if (value instanceof Tensor) out.push(value);
  else if (Array.isArray(value)) for (const v of value) tensorsIn(v, out);
  else if (value instanceof Map) for (const v of value.values()) tensorsIn(v, out);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) tensorsIn(v, out);
  return out;
}

/**
 * Wraps a module for data-parallel training, as
 * torch.nn.parallel.DistributedDataParallel: at construction it checks that
 * every rank has the same parameters (count, shapes, dtypes) and copies rank
 * 0's parameters and buffers to all ranks; its `forward` runs the module and
 * prepares the Reducer, and the next `backward()` averages the gradients over
 * the ranks. Build the optimizer on `ddp.parameters()` (the module's own).
 *
 * State dicts: PyTorch's wrapper adds the prefix `module.` to every key,
 * because the module is its child named `module`. This one adds none — its
 * `stateDict()` is the module's, so a file saved during distributed training
 * loads into the plain model, in NetLab and in PyTorch alike.
 * `loadStateDict` also accepts a state dict saved from a PyTorch DDP wrapper,
 * whose keys all start with `module.`.
 *
 * Convert the module (`to`) before wrapping it; the Reducer holds its
 * parameters. Call `dispose()` on the wrapper to release the Reducer (the
 * module stays yours).
 */
export class DistributedDataParallel<M extends Module = Module> extends Module {
  readonly #module: M;
  // Looked up once: a forward pass broadcasts them without walking the module tree.
  readonly #buffers: Buffer[];
  readonly #group: NativeGroup;
  #reducer: NativeReducer | null;
  readonly #broadcastBuffers: boolean;
  readonly #findUnused: boolean;
  #syncGradients = true;
  #syncBuffers = true;

  constructor(module: M, options: DistributedDataParallelOptions = {}) {
    super();
    if (!(module instanceof Module)) throw new TypeError('DistributedDataParallel: expected a Module to wrap');
    const group = nativeGroup('DistributedDataParallel');
    const bucketCapMb = options.bucketCapMb ?? 25;
    if (typeof bucketCapMb !== 'number' || !(bucketCapMb > 0) || !Number.isFinite(bucketCapMb)) throw new RangeError(`DistributedDataParallel: bucketCapMb must be a positive number, got ${String(bucketCapMb)}`);
    const params = module.parameters().filter((p) => p.requiresGrad);
    if (params.length === 0) throw new Error('DistributedDataParallel: the module has no parameter that requires a gradient, so there is nothing to synchronise');
    this.#module = module;
    this.#buffers = module.buffers();
    this.#group = group;
    this.#broadcastBuffers = options.broadcastBuffers ?? true;
    this.#findUnused = options.findUnusedParameters ?? false;
    const handles = params.map((p) => p.handle);
    native.distVerifyParams(group, handles);
    const states = [...module.parameters(), ...this.#buffers].map((t) => t.handle);
    try {
      native.distBroadcastCoalesced(group, states, BROADCAST_BYTES, 0);
    } catch (error) {
      // c10d compares every rank's parameters with rank 0's, so a rank whose
      // model differs fails above and leaves; rank 0 learns of it here.
      throw new Error(`DistributedDataParallel: copying rank 0's parameters and buffers to the other ranks failed; a rank whose model differs from rank 0's stops with its own error (${(error as Error).message})`);
    }
    this.#reducer = native.ddpReducer(group, handles, Math.round(bucketCapMb * 1024 * 1024), this.#findUnused);
    this.training = module.training;
  }

  /** The wrapped module. */
  get module(): M {
    return this.#module;
  }

  private reducer(): NativeReducer {
    if (this.#reducer === null) throw new Error('DistributedDataParallel: the wrapper was disposed');
    return this.#reducer;
  }

  forward(...inputs: unknown[]): any {
    const reducer = this.reducer();
    const grad = isGradEnabled();
    if (grad && this.#syncGradients) native.ddpPrepareForForward(reducer);
    // After the first backward, the Reducer reorders its buckets by the
    // order in which gradients actually arrived (rank 0's order, broadcast).
    if (grad) native.ddpRebuildBuckets(reducer);
    if (this.#broadcastBuffers && this.#syncBuffers && this.#buffers.length > 0 && getWorldSize() > 1) {
      native.distBroadcastCoalesced(this.#group, this.#buffers.map((b) => b.handle), BROADCAST_BYTES, 0);
    }
    const output = this.#module.forward(...inputs);
    if (grad && this.#syncGradients) {
      this.#syncBuffers = true;
      native.ddpPrepareForBackward(reducer, this.#findUnused ? tensorsIn(output).map((t) => t.handle) : []);
    } else {
      this.#syncBuffers = false;
    }
    return output;
  }

  /**
   * Runs `fn` (forward and backward passes) without averaging gradients, so
   * they accumulate locally, as PyTorch's `no_sync()`; the first backward
   * after it averages everything accumulated.
   */
  noSync<T>(fn: () => T): T {
    const previous = this.#syncGradients;
    this.#syncGradients = false;
    try {
      const result = fn();
      if (result instanceof Promise) throw new TypeError('DistributedDataParallel.noSync: fn must be synchronous (it returned a Promise)');
      return result;
    } finally {
      this.#syncGradients = previous;
    }
  }

  // The wrapper's modules are the wrapped module's, under the same paths, so
  // parameters(), stateDict() and loadStateDict() see exactly its keys.
  override namedModules(prefix = ''): [string, Module][] {
    return this.#module.namedModules(prefix);
  }

  override namedChildren(): [string, Module][] {
    return this.#module.namedChildren();
  }

  override train(mode = true): this {
    this.training = mode;
    this.#module.train(mode);
    return this;
  }

  override loadStateDict(stateDict: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const entries = stateDict instanceof Map ? [...stateDict] : Object.entries(stateDict);
    const prefixed = entries.length > 0 && entries.every(([key]) => key.startsWith('module.'));
    return super.loadStateDict(prefixed ? new Map(entries.map(([key, t]) => [key.slice('module.'.length), t])) : stateDict, options);
  }

  override to(): this {
    throw new Error('DistributedDataParallel.to: convert the module before wrapping it; the Reducer holds its parameters');
  }

  /** Releases the Reducer; the wrapped module stays usable. */
  override dispose(): void {
    if (this.#reducer === null) return;
    native.ddpDispose(this.#reducer);
    this.#reducer = null;
  }

  override toString(): string {
    return `DistributedDataParallel(\n  (module): ${this.#module.toString().split('\n').join('\n  ')}\n)`;
  }
}
