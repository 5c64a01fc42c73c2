// A data-parallel training step of the Madry et al. MNIST CNN at 2 processes
// (batch 50 per process, random inputs, SGD): NetLab's
// nn.parallel.DistributedDataParallel against PyTorch's (bench/ddp.py), both
// reducing gradients with c10d's Reducer over Gloo on loopback, one thread
// per process, each group kept running and taking turns with the other.
// Prints the median ms per step of each and the ratio NetLab/PyTorch.
import { distributed as dist, F, manualSeed, rand, randint, scope, setNumThreads } from '../src/index.js';
import { madryCnn } from '../src/models/madry-cnn.js';
import { DistributedDataParallel } from '../src/nn/parallel.js';
import { SGD } from '../src/optim/sgd.js';
import { compareGroups, GroupWorkers, PYTHON, QUICK, report, serveBlocks, warnIfBusy, type CompareOptions } from './common.js';

const BATCH = 50;
const OPTIONS: CompareOptions = { warmupBlocks: 1, blocks: QUICK ? 1 : 7, calls: QUICK ? 2 : 20 };

async function worker(): Promise<void> {
  setNumThreads(1);
  await dist.initProcessGroup();
  manualSeed(dist.getRank());
  const model = madryCnn();
  const ddp = new DistributedDataParallel(model);
  const optimizer = new SGD(ddp.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = rand([BATCH, 1, 28, 28]).keep();
  const y = randint(0, 10, [BATCH]).keep();
  await serveBlocks(async (_name, calls) => {
    await dist.barrier();
    const start = process.hrtime.bigint();
    let loss = 0;
    for (let i = 0; i < calls; i++) {
      loss = scope(() => {
        optimizer.zeroGrad();
        const value = F.crossEntropy(ddp.forward(x), y);
        value.backward();
        optimizer.step();
        return value.item();
      });
    }
    return [Number(process.hrtime.bigint() - start) / 1e9, loss];
  });
  ddp.dispose();
  dist.destroyProcessGroup();
}

async function main(): Promise<void> {
  warnIfBusy(2);
  const script = new URL(import.meta.url).pathname;
  const pyScript = script.replace(/\/dist\/bench\/ddp\.js$/, '/bench/ddp.py');
  const netlab = new GroupWorkers('NetLab', process.execPath, [script], 2, 29621);
  const pytorch = new GroupWorkers('PyTorch', PYTHON, [pyScript, String(BATCH)], 2, 29622);
  try {
    report('processes', 2);
    report('batch_per_process', BATCH);
    const { netlab: n, pytorch: p } = await compareGroups(netlab, pytorch, 'step', OPTIONS);
    report('ddp_step_netlab_ms', n * 1000);
    report('ddp_step_pytorch_ms', p * 1000);
    report('ddp_step_ratio', n / p);
  } finally {
    netlab.close();
    pytorch.close();
  }
}

await (process.env.NETLAB_BENCH_WORKER === '1' ? worker() : main());
