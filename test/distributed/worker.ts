// One rank of a distributed test: runs the scenario named by
// NETLAB_TEST_SCENARIO (see ranks.ts) and prints its result as one JSON line.
// Run without that variable (as `node --test` does with every file here) it
// does nothing.
import { distributed as dist, F, manualSeed, noGrad, scope, tensor, zeros, type DType, type Tensor } from '../../src/index.js';
import { DataLoader, TensorDataset } from '../../src/data/dataset.js';
import { fit } from '../../src/train/trainer.js';
import { DistributedSampler } from '../../src/data/sampler.js';
import { loadMnist } from '../../src/data/mnist.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { madryCnn } from '../../src/models/madry-cnn.js';
import { DistributedDataParallel } from '../../src/nn/parallel.js';
import { SGD } from '../../src/optim/sgd.js';
import { Adam } from '../../src/optim/adam.js';

const scenario = process.env.NETLAB_TEST_SCENARIO;
const args = JSON.parse(process.env.NETLAB_TEST_ARGS ?? '{}');

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function attempt(fn: () => Promise<unknown> | unknown): Promise<{ error: string | null; seconds: number }> {
  const started = performance.now();
  try {
    await fn();
    return { error: null, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    return { error: (error as Error).message, seconds: (performance.now() - started) / 1000 };
  }
}

const list = (t: Tensor) => Array.from(t.toTypedArray() as ArrayLike<number | bigint>, Number);

// Every collective on every dtype the tests name; values depend on the rank.
async function collectives(): Promise<unknown> {
  await dist.initProcessGroup({ timeout: 20_000, initMethod: args.initMethod });
  const rank = dist.getRank();
  const size = dist.getWorldSize();
  const out: Record<string, unknown> = { rank, size, localRank: dist.getLocalRank() };
  for (const dtype of args.dtypes as DType[]) {
    const values = dtype === 'uint8' ? [rank + 1, 2, 3] : [rank + 1, 2, -(rank + 1)];
    const reduced: Record<string, number[]> = {};
    for (const op of ['sum', 'product', 'min', 'max'] as const) {
      const t = tensor(values, { dtype });
      await dist.allReduce(t, op);
      reduced[op] = list(t);
    }
    const broadcasts: number[][] = [];
    for (let src = 0; src < size; src++) {
      const t = tensor([rank * 10 + 1, rank * 10 + 2], { dtype });
      await dist.broadcast(t, src);
      broadcasts.push(list(t));
    }
    const gathered = Array.from({ length: size }, () => zeros([2], { dtype }));
    await dist.allGather(gathered, tensor([rank, rank + 1], { dtype }));
    out[dtype] = { ...reduced, broadcasts, gathered: gathered.map(list) };
  }
  // Several collectives in flight at once complete in order.
  const many = Array.from({ length: 8 }, (_, i) => tensor([i + rank], { dtype: 'float64' }));
  const works = many.map((t) => dist.allReduce(t));
  await Promise.all(works);
  out.inFlight = many.map((t) => list(t)[0]);
  await dist.barrier();
  dist.destroyProcessGroup();
  out.initializedAfterDestroy = dist.isInitialized();
  return out;
}

// The same steps as test/fixtures/distributed_peer.py, so NetLab and PyTorch
// ranks can be compared value for value.
async function interop(): Promise<unknown> {
  await dist.initProcessGroup({ timeout: 20_000 });
  const rank = dist.getRank();
  const f32 = tensor([rank + 1, 0.5 * (rank + 1), -3.25 * rank], { dtype: 'float32' });
  await dist.allReduce(f32);
  const f64 = tensor([Math.PI * (rank + 1), 1e-3 * rank], { dtype: 'float64' });
  await dist.allReduce(f64, 'max');
  const i64 = tensor([rank + 7, -rank], { dtype: 'int64' });
  await dist.allReduce(i64);
  const b0 = tensor([rank * 10 + 1.5, rank * 10 + 2.5], { dtype: 'float32' });
  await dist.broadcast(b0, 0);
  const b1 = tensor([rank * 100 + 1, rank * 100 + 2], { dtype: 'int64' });
  await dist.broadcast(b1, dist.getWorldSize() - 1);
  await dist.barrier();
  const result = { f32: list(f32), f64: list(f64), i64: list(i64), b0: list(b0), b1: list(b1) };
  dist.destroyProcessGroup();
  return result;
}

// Madry CNN training, with Adam as the paper trains it or with SGD (whose
// steps scale with the gradient, so a wrong average shows), on the first 5,000 MNIST training
// images: mode 'single' (one process, the whole global batch), 'ddp' (each
// rank its shard) or 'nosync' (each rank's shard in two micro-batches, the
// first accumulated under noSync).
async function ddp(): Promise<unknown> {
  const { mode, steps, globalBatch, out, optimizer: kind } = args as { mode: 'single' | 'ddp' | 'nosync'; steps: number; globalBatch: number; out: string; optimizer: 'sgd' | 'adam' };
  const distributed = mode !== 'single';
  if (distributed) await dist.initProcessGroup({ timeout: 60_000 });
  const rank = distributed ? dist.getRank() : 0;
  const size = distributed ? dist.getWorldSize() : 1;
  const all = loadMnist({ split: 'train' });
  const images = all.images.narrow(0, 0, 5000).clone();
  const labels = all.labels.narrow(0, 0, 5000).clone();
  all.dispose();
  const data = new TensorDataset(images, labels);
  const perRank = globalBatch / size;
  const sampler = new DistributedSampler(data, { numReplicas: size, rank, seed: 7 });
  const loader = new DataLoader(data, { batchSize: perRank, sampler, seed: 1 });
  // Each rank starts from a different initialisation: DDP must copy rank 0's.
  manualSeed(distributed ? rank : 0);
  const model = madryCnn();
  const wrapped = distributed ? new DistributedDataParallel(model) : model;
  const optimizer = kind === 'adam' ? new Adam(wrapped.parameters(), { lr: 1e-4 }) : new SGD(wrapped.parameters(), { lr: 0.01, momentum: 0.9 });
  let step = 0;
  while (step < steps) {
    for (const [x, y] of loader) {
      scope(() => {
        optimizer.zeroGrad();
        if (mode === 'nosync') {
          const split = Math.floor(perRank / 2.5);
          const parts: [Tensor, Tensor][] = [
            [x.narrow(0, 0, split), y.narrow(0, 0, split)],
            [x.narrow(0, split, perRank - split), y.narrow(0, split, perRank - split)],
          ];
          const micro = ([xs, ys]: [Tensor, Tensor]) => F.crossEntropy(wrapped.forward(xs), ys, { reduction: 'sum' }).div(perRank).backward();
          (wrapped as DistributedDataParallel).noSync(() => micro(parts[0]));
          micro(parts[1]);
        } else {
          F.crossEntropy(wrapped.forward(x), y).backward();
        }
        optimizer.step();
      });
      x.dispose();
      y.dispose();
      if (++step === steps) break;
    }
  }
  if (rank === 0) scope(() => saveSafetensors(out, model.stateDict()));
  const checksum = scope(() => model.parameters().reduce((s, p) => s + p.abs().sum().item(), 0));
  if (distributed) dist.destroyProcessGroup();
  return { rank, checksum, steps };
}

// fit() with DDP over 1,000 MNIST images (2 × 25 per step): rank 0 alone
// writes the checkpoint after every epoch, and every rank resumes from it.
async function resume(): Promise<unknown> {
  const { epochs, checkpoint, out } = args as { epochs: number; checkpoint?: string; out: string };
  await dist.initProcessGroup({ timeout: 60_000 });
  const rank = dist.getRank();
  const size = dist.getWorldSize();
  const all = loadMnist({ split: 'train' });
  const data = new TensorDataset(all.images.narrow(0, 0, 1000).clone(), all.labels.narrow(0, 0, 1000).clone());
  all.dispose();
  manualSeed(0);
  const model = madryCnn();
  const ddp = new DistributedDataParallel(model);
  const optimizer = new Adam(ddp.parameters(), { lr: 1e-3 });
  const loader = new DataLoader(data, { batchSize: 50 / size, sampler: new DistributedSampler(data, { numReplicas: size, rank, seed: 3 }), seed: rank });
  const result = fit({ model: ddp, loader, optimizer, epochs, checkpointPath: checkpoint, resume: checkpoint !== undefined, saveCheckpoints: rank === 0 });
  if (rank === 0) scope(() => saveSafetensors(out, model.stateDict()));
  ddp.dispose();
  dist.destroyProcessGroup();
  return { rank, steps: result.losses.length, resumedFrom: result.resumedFrom ?? null };
}

// Batch-norm statistics: each rank trains on its own data, and before every
// forward pass rank 0's running mean and variance replace the others'.
async function buffers(): Promise<unknown> {
  const { nn } = await import('../../src/index.js');
  await dist.initProcessGroup({ timeout: 20_000 });
  const rank = dist.getRank();
  manualSeed(rank);
  const model = new nn.Sequential(new nn.Linear(4, 3), new nn.BatchNorm1d(3));
  const ddp = new DistributedDataParallel(model, { broadcastBuffers: args.broadcastBuffers });
  const optimizer = new SGD(ddp.parameters(), { lr: 0.1 });
  const stats = () => scope(() => model.buffers().filter((b) => b.dtype === 'float32').map((b) => list(b)));
  for (let step = 0; step < 2; step++) {
    scope(() => {
      optimizer.zeroGrad();
      const x = tensor([[rank + step, 1, 2, 3], [0, rank * 3, 1, step], [2, 2, rank, 0]]);
      ddp.forward(x).pow(2).sum().backward();
      optimizer.step();
    });
  }
  const afterTraining = stats();
  ddp.eval();
  scope(() => noGradForward(ddp, tensor([[1, 2, 3, 4]])));
  const afterEvalForward = stats();
  ddp.dispose();
  dist.destroyProcessGroup();
  return { rank, afterTraining, afterEvalForward };
}

function noGradForward(model: DistributedDataParallel, x: Tensor): Tensor {
  return noGrad(() => model.forward(x));
}

async function failures(): Promise<unknown> {
  const kind = args.kind as string;
  const timeout = args.timeout ?? 5000;
  if (kind === 'join') return attempt(() => dist.initProcessGroup({ timeout }));
  await dist.initProcessGroup({ timeout });
  const rank = dist.getRank();
  if (kind === 'shapes') return attempt(() => dist.allReduce(zeros([rank + 2])));
  if (kind === 'dead-peer') {
    if (rank === 1) process.exit(3);
    await new Promise((r) => setTimeout(r, 300));
    return attempt(() => dist.allReduce(zeros([1000])));
  }
  if (kind === 'silent-peer') {
    if (rank === 1) {
      await new Promise((r) => setTimeout(r, timeout + 3000));
      return { error: null, seconds: 0 };
    }
    return attempt(() => dist.allReduce(zeros([4])));
  }
  if (kind === 'ddp-models') {
    const { nn } = await import('../../src/index.js');
    return attempt(() => new DistributedDataParallel(new nn.Linear(4, rank === 0 ? 2 : 3)));
  }
  throw new Error(`unknown failure kind ${kind}`);
}

const SCENARIOS: Record<string, () => Promise<unknown>> = { collectives, interop, ddp, resume, buffers, failures };

if (scenario !== undefined) {
  const run = SCENARIOS[scenario];
  if (run === undefined) throw new Error(`worker: unknown scenario ${scenario}`);
  print(await run());
  // A group left open (after a failure) must not keep the process alive.
  process.exit(0);
}
