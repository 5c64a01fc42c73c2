// One epoch of training the Madry et al. MNIST CNN, with everything a user
// waits for: reading the IDX files, shuffled batches of 50, Adam (lr 1e-3) on
// cross-entropy. NetLab runs loadMnist + DataLoader + fit(); PyTorch
// (bench/train_epoch.py) reads the same files into a TensorDataset served by
// torch's DataLoader. Prints the median seconds of each side's epochs, the
// part of them spent reading the files, each side's mean training loss (both
// should fall alike: a check that they did the same work) and the ratio
// NetLab/PyTorch last. NETLAB_BENCH_QUICK=1 trains on 2,000 images instead
// of all 60,000.
//
// The loaders differ in design, and the figure includes that: torch's
// DataLoader fetches a TensorDataset's 50 examples one by one and stacks
// them, NetLab's gathers a batch with one indexSelect per tensor.
import { getNumThreads, type Tensor } from '../src/index.js';
import { DataLoader, loadMnist, mnistDataFolder, TensorDataset } from '../src/data/index.js';
import { madryCnn } from '../src/models/madry-cnn.js';
import { Adam } from '../src/optim/adam.js';
import { fit } from '../src/train/trainer.js';
import { median, PyTorchWorker, QUICK, report, reportThreads, warnIfBusy } from './common.js';

const BATCH = 50;
const LR = 1e-3;
const LOADER_SEED = 0;
const IMAGES = QUICK ? 2_000 : 60_000;
// A short epoch per side before timing reads the files into the page cache
// and does libtorch's one-time set-up, which the first timed epoch would
// otherwise pay alone.
const WARMUP_IMAGES = QUICK ? 100 : 500;
// Whole epochs take turns in the order NetLab, PyTorch, PyTorch, NetLab, so a
// drift in the machine's load over the run weighs on both sides alike.
const ORDER = ['netlab', 'pytorch', 'pytorch', 'netlab'] as const;

interface EpochTiming {
  /** Seconds from the first file read to the end of the epoch. */
  total: number;
  /** Seconds spent reading the files into the dataset. */
  load: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
}

/** One NetLab epoch over the first `images` training images, with a fresh model (built before the clock starts). */
function netlabEpoch(images: number): EpochTiming {
  const model = madryCnn();
  const optimizer = new Adam(model.parameters(), { lr: LR });
  const owned: { dispose(): void }[] = [model, optimizer];
  try {
    const start = performance.now();
    const train = loadMnist({ split: 'train' });
    owned.push(train);
    let dataset: TensorDataset = train;
    if (images < train.length) {
      const rows: Tensor[] = [train.images.narrow(0, 0, images), train.labels.narrow(0, 0, images)];
      owned.push(...rows);
      dataset = new TensorDataset(...rows);
    }
    const loaded = performance.now();
    const loader = new DataLoader(dataset, { batchSize: BATCH, shuffle: true, seed: LOADER_SEED });
    const result = fit({ model, loader, optimizer, epochs: 1 });
    const end = performance.now();
    return { total: (end - start) / 1e3, load: (loaded - start) / 1e3, loss: result.epochs[0].trainLoss };
  } finally {
    for (const item of owned) item.dispose();
  }
}

async function pytorchEpoch(worker: PyTorchWorker, images: number): Promise<EpochTiming> {
  const [total, load, loss] = await worker.measure('epoch', images);
  return { total, load, loss };
}

const threads = getNumThreads();
warnIfBusy(threads);
const worker = new PyTorchWorker('train_epoch.py', [String(threads), mnistDataFolder()]);
try {
  netlabEpoch(WARMUP_IMAGES);
  await pytorchEpoch(worker, WARMUP_IMAGES);
  const runs: Record<(typeof ORDER)[number], EpochTiming[]> = { netlab: [], pytorch: [] };
  for (const side of ORDER) runs[side].push(side === 'netlab' ? netlabEpoch(IMAGES) : await pytorchEpoch(worker, IMAGES));
  const med = (side: keyof typeof runs, key: keyof EpochTiming) => median(runs[side].map((run) => run[key]));
  reportThreads(threads);
  report('images', IMAGES);
  report('netlab_load_s', med('netlab', 'load'));
  report('pytorch_load_s', med('pytorch', 'load'));
  report('netlab_loss', med('netlab', 'loss'));
  report('pytorch_loss', med('pytorch', 'loss'));
  report('netlab_epoch_s', med('netlab', 'total'));
  report('pytorch_epoch_s', med('pytorch', 'total'));
  report('ratio', med('netlab', 'total') / med('pytorch', 'total'));
} finally {
  worker.close();
}
