// Datasets and the loader that batches them, after torch.utils.data: a
// Dataset is anything with a length and an indexed `get`; a TensorDataset
// serves rows of tensors that share their first dimension; a DataLoader cuts
// an epoch into batches, in a seeded order that a checkpoint can restore.
import { randint, scope, stack, tensor, Tensor } from '../tensor/index.js';
import { Random } from './random.js';
import type { Sampler } from './sampler.js';

/** Examples by index, as `torch.utils.data.Dataset`. */
export interface Dataset<T = Tensor[]> {
  readonly length: number;
  /** The example at `index` (0 ≤ index < length); the caller owns the tensors returned. */
  get(index: number): T;
}

/** A dataset that can also gather many examples at once, as tensors with a leading batch dimension. */
export interface BatchedDataset extends Dataset<Tensor[]> {
  /** The examples at `indices` (an int64 tensor [B]), each field batched: [B, ...]. */
  getBatch(indices: Tensor): Tensor[];
}

function isBatched(dataset: Dataset<unknown>): dataset is BatchedDataset {
  return typeof (dataset as Partial<BatchedDataset>).getBatch === 'function';
}

function checkIndex(name: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length)
    throw new RangeError(`${name}: index ${String(index)} is out of range for a dataset of length ${length}`);
}

/**
 * Rows of tensors that share their first dimension: example i is
 * `[t0[i], t1[i], …]`. It borrows the tensors: disposing them is the
 * caller's business.
 */
export class TensorDataset implements BatchedDataset {
  readonly tensors: readonly Tensor[];

  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new TypeError('TensorDataset: expected at least one tensor');
    tensors.forEach((t, i) => {
      if (!(t instanceof Tensor)) throw new TypeError(`TensorDataset: argument ${i} is not a Tensor`);
      if (t.ndim === 0) throw new RangeError(`TensorDataset: argument ${i} is a 0-dimensional tensor; every tensor needs a first (example) dimension`);
    });
    const n = tensors[0].shape[0];
    const odd = tensors.findIndex((t) => t.shape[0] !== n);
    if (odd >= 0)
      throw new RangeError(`TensorDataset: tensors must share their first dimension; tensor 0 is ${tensors[0].describe()} but tensor ${odd} is ${tensors[odd].describe()}`);
    this.tensors = tensors;
  }

  get length(): number {
    return this.tensors[0].shape[0];
  }

  /** Views of row `index` of every tensor. */
  get(index: number): Tensor[] {
    checkIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => t.select(0, index));
  }

  /** Copies of the rows at `indices`, one indexSelect per tensor. */
  getBatch(indices: Tensor): Tensor[] {
    return this.tensors.map((t) => t.indexSelect(0, indices));
  }
}

/**
 * A labelled image set: `images` [N, C, H, W] and int64 `labels` [N], with
 * class names. It owns its tensors: they are kept out of scopes (`keep()`),
 * and `dispose()` (or `using`) frees them.
 */
export class ImageDataset extends TensorDataset {
  readonly images: Tensor;
  readonly labels: Tensor;
  /** The name of each class, by label. */
  readonly classes: readonly string[];

  constructor(images: Tensor, labels: Tensor, classes: readonly string[]) {
    super(images, labels);
    if (images.ndim !== 4) throw new RangeError(`ImageDataset: images must be [N, C, H, W], got ${images.describe()}`);
    if (labels.ndim !== 1 || labels.dtype !== 'int64') throw new RangeError(`ImageDataset: labels must be int64 [N], got ${labels.describe()}`);
    this.images = images.keep();
    this.labels = labels.keep();
    this.classes = classes;
  }

  dispose(): void {
    this.images.dispose();
    this.labels.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Augments one batch; `rng` is the loader's generator for that batch alone. */
export type BatchTransform = (batch: Tensor[], rng: Random) => Tensor[];

export interface DataLoaderOptions<T> {
  /** Examples per batch; 1 unless stated. */
  batchSize?: number;
  /** A fresh random order every epoch; false visits the examples in order. */
  shuffle?: boolean;
  /**
   * Seeds the loader's own generator (a JavaScript xoshiro128**, apart from
   * libtorch's): epoch e's order and batch b's transform draws depend on
   * (seed, e, b) alone. Unless given it is drawn once from libtorch's
   * default generator, so `manualSeed` fixes it.
   */
  seed?: number;
  /**
   * Decides which examples an epoch visits and in what order, instead of
   * `shuffle` (e.g. a DistributedSampler); the loader calls its
   * `setEpoch(e)` at the start of epoch e, so resuming restores its order too.
   */
  sampler?: Sampler;
  /** Leaves out the last batch of an epoch when it is smaller than batchSize. */
  dropLast?: boolean;
  /** Turns examples into a batch for datasets without `getBatch`; by default each field is stacked. */
  collate?: (items: T[]) => Tensor[];
  /** Applied to every batch (augmentation); its intermediate tensors are disposed. */
  transform?: BatchTransform;
}

/** Where a loader stands, for checkpoints: the next batch it hands out is batch `batch` of epoch `epoch`. */
export interface DataLoaderState {
  seed: number;
  epoch: number;
  /** Batches of `epoch` already handed to the consumer. */
  batch: number;
}

// Stream numbers of the loader's generators, so the epoch orders and the
// per-batch transform draws never share a sequence.
const ORDER_STREAM = 0;
const TRANSFORM_STREAM = 1;

// One pass over an epoch: its order, kept on the native side as an int64
// index tensor for batched datasets.
interface Run {
  epoch: number;
  next: number;
  order: Int32Array;
  index: Tensor | null;
}

function defaultCollate(items: unknown[]): Tensor[] {
  const first = items[0];
  const rows = items.map((item) => (item instanceof Tensor ? [item] : item));
  if (!Array.isArray(rows[0])) throw new TypeError(`DataLoader: the default collate stacks tensors or arrays of tensors, but the dataset returned ${typeof first}; pass a collate function`);
  const fields = (rows[0] as unknown[]).length;
  const out: Tensor[] = [];
  for (let f = 0; f < fields; f++) {
    const column = rows.map((row, i) => {
      const value = (row as unknown[])[f];
      if (!(value instanceof Tensor)) throw new TypeError(`DataLoader: the default collate stacks tensors, but field ${f} of example ${i} in this batch is not a Tensor; pass a collate function`);
      return value;
    });
    out.push(stack(column));
  }
  return out;
}

/**
 * Batches a dataset, like `torch.utils.data.DataLoader`. Iterate it with
 * `for (const [x, y] of loader)` or `for await (...)`; each complete loop is
 * one epoch, and the consumer owns (and disposes) the batches it receives.
 *
 * Batching is done in libtorch: for a `BatchedDataset` (a TensorDataset, an
 * ImageDataset) one indexSelect per field gathers the whole batch; other
 * datasets are read example by example and collated.
 *
 * Order and resumption: the order of epoch e is a permutation drawn from
 * (seed, e), so `stateDict()` — seed, epoch and batches handed out — is all
 * a checkpoint needs; after `loadStateDict` the next loop continues that
 * epoch at that batch, with the same order and the same transform draws.
 * A loop that ends early (`break`) ends its epoch; the next loop starts the
 * next epoch. Run one loop at a time: when loops interleave, only the one
 * started last updates the state.
 *
 * Prefetching, and what it does not do: the async iterator prepares the next
 * batch in a `setImmediate` callback scheduled as it hands out the current
 * one. JavaScript runs on one thread and libtorch's ops run synchronously on
 * it (each op may use libtorch's intra-op threads, but no two ops overlap),
 * so the batch is prepared early only while the consumer is awaiting
 * something outside this thread — file or network I/O, a timer. A training
 * step that is all tensor work never yields, and then the next batch is made
 * when it is asked for, exactly as with the sync iterator. Overlapping
 * loading with compute would need worker threads, which this loader does not
 * use.
 */
export class DataLoader<T = Tensor[]> implements Iterable<Tensor[]>, AsyncIterable<Tensor[]> {
  readonly dataset: Dataset<T>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly sampler: Sampler | undefined;
  readonly dropLast: boolean;
  private readonly collate: (items: T[]) => Tensor[];
  private readonly transform: BatchTransform | undefined;
  private seed: number;
  private epoch = 0;
  private batch = 0;
  // The loop that owns the state; older, abandoned loops no longer move it.
  private current: Run | null = null;

  constructor(dataset: Dataset<T>, options: DataLoaderOptions<T> = {}) {
    if (typeof dataset !== 'object' || dataset === null || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length))
      throw new TypeError('DataLoader: expected a dataset with an integer length and a get(index) method');
    const batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${String(batchSize)}`);
    if (options.seed !== undefined && (!Number.isSafeInteger(options.seed) || options.seed < 0))
      throw new RangeError(`DataLoader: seed must be a non-negative integer, got ${String(options.seed)}`);
    this.dataset = dataset;
    this.batchSize = batchSize;
    if (options.sampler !== undefined && options.shuffle) throw new TypeError('DataLoader: sampler and shuffle exclude each other; the sampler decides the order');
    if (options.sampler !== undefined && (typeof options.sampler.setEpoch !== 'function' || !Number.isInteger(options.sampler.length)))
      throw new TypeError('DataLoader: sampler must have an integer length and a setEpoch(epoch) method');
    this.sampler = options.sampler;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.collate = options.collate ?? (defaultCollate as (items: T[]) => Tensor[]);
    this.transform = options.transform;
    this.seed = options.seed ?? drawSeed();
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.sampler?.length ?? this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The order in which epoch `epoch` visits the examples. */
  epochOrder(epoch: number): Int32Array {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`DataLoader.epochOrder: epoch must be a non-negative integer, got ${String(epoch)}`);
    if (this.sampler !== undefined) {
      this.sampler.setEpoch(epoch);
      const order = Int32Array.from(this.sampler);
      for (const i of order) if (!Number.isInteger(i) || i < 0 || i >= this.dataset.length) throw new RangeError(`DataLoader: the sampler gave index ${i}, outside the dataset's ${this.dataset.length} examples`);
      return order;
    }
    const n = this.dataset.length;
    if (this.shuffle) return new Random(this.seed, ORDER_STREAM, epoch).permutation(n);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }

  /** Where the loader stands: enough to resume it exactly (see the class comment). */
  stateDict(): DataLoaderState {
    return { seed: this.seed, epoch: this.epoch, batch: this.batch };
  }

  /** Restores a `stateDict()`; the next loop resumes there. */
  loadStateDict(state: DataLoaderState): void {
    const { seed, epoch, batch } = state ?? ({} as DataLoaderState);
    for (const [name, value] of [['seed', seed], ['epoch', epoch], ['batch', batch]] as const)
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`DataLoader.loadStateDict: ${name} must be a non-negative integer, got ${String(value)}`);
    if (batch > this.length) throw new RangeError(`DataLoader.loadStateDict: batch ${batch} is past the ${this.length} batches of an epoch`);
    this.seed = seed;
    this.epoch = epoch;
    this.batch = batch;
    this.current = null;
  }

  *[Symbol.iterator](): Iterator<Tensor[]> {
    const run = this.begin();
    try {
      while (run.next < this.length) {
        const batch = this.make(run);
        this.delivered(run);
        yield batch;
      }
    } finally {
      this.end(run);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Tensor[]> {
    let run: Run | null = null;
    let ahead: { batch: Tensor[] } | { error: unknown } | null = null;
    let timer: NodeJS.Immediate | null = null;
    let finished = false;
    const cancel = () => {
      if (timer !== null) clearImmediate(timer);
      timer = null;
      if (ahead !== null && 'batch' in ahead) for (const t of ahead.batch) t.dispose();
      ahead = null;
    };
    const finish = (): IteratorResult<Tensor[]> => {
      cancel();
      if (run !== null && !finished) this.end(run);
      finished = true;
      return { done: true, value: undefined };
    };
    return {
      next: async (): Promise<IteratorResult<Tensor[]>> => {
        if (finished) return { done: true, value: undefined };
        run ??= this.begin();
        const r = run;
        if (timer !== null) {
          clearImmediate(timer);
          timer = null;
        }
        const ready = ahead;
        ahead = null;
        if (ready === null && r.next >= this.length) return finish();
        let batch: Tensor[];
        try {
          if (ready !== null && 'error' in ready) throw ready.error;
          batch = ready !== null ? ready.batch : this.make(r);
        } catch (error) {
          finish();
          throw error;
        }
        this.delivered(r);
        if (r.next < this.length) {
          timer = setImmediate(() => {
            timer = null;
            try {
              ahead = { batch: this.make(r) };
            } catch (error) {
              ahead = { error };
            }
          });
        }
        return { done: false, value: batch };
      },
      return: async (): Promise<IteratorResult<Tensor[]>> => finish(),
    };
  }

  private begin(): Run {
    const order = this.epochOrder(this.epoch);
    let index: Tensor | null = null;
    if (isBatched(this.dataset)) {
      index = scope(() => tensor(order).to('int64')).keep();
    }
    const run: Run = { epoch: this.epoch, next: this.batch, order, index };
    this.current = run;
    return run;
  }

  // Makes batch `run.next` of the run's epoch, and advances `run.next`.
  private make(run: Run): Tensor[] {
    const b = run.next;
    const start = b * this.batchSize;
    const size = Math.min(this.batchSize, run.order.length - start);
    run.next = b + 1;
    return scope(() => {
      let batch: Tensor[];
      if (run.index !== null) {
        batch = (this.dataset as unknown as BatchedDataset).getBatch(run.index.narrow(0, start, size));
      } else {
        const items: T[] = [];
        for (let i = start; i < start + size; i++) items.push(this.dataset.get(run.order[i]));
        batch = this.collate(items);
      }
      return this.transform === undefined ? batch : this.transform(batch, new Random(this.seed, TRANSFORM_STREAM, run.epoch, b));
    });
  }

  private delivered(run: Run): void {
    if (this.current === run) this.batch = run.next;
  }

  private end(run: Run): void {
    run.index?.dispose();
    if (this.current !== run) return;
    this.current = null;
    this.epoch = run.epoch + 1;
    this.batch = 0;
  }
}

// A seed from libtorch's default generator, so manualSeed makes an unseeded loader repeat.
function drawSeed(): number {
  return scope(() => randint(0, 0x7fffffff, []).item());
}
