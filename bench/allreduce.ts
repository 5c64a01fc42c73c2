// All-reduce (sum) of 1 MB, 16 MB and 100 MB float32 buffers between two
// processes over loopback: NetLab's distributed.allReduce against
// torch.distributed.all_reduce (bench/allreduce.py), both on libtorch's c10d
// with Gloo, each group kept running and taking turns with the other. Prints
// the median ms per all-reduce of each and the ratio NetLab/PyTorch.
import { distributed as dist, setNumThreads, zeros, type Tensor } from '../src/index.js';
import { compareGroups, GroupWorkers, PYTHON, QUICK, report, serveBlocks, warnIfBusy, type CompareOptions } from './common.js';

const SIZES_MB = QUICK ? [1] : [1, 16, 100];
// Calls per block: about half a second of work each; 15 blocks a side.
const CALLS: Record<number, number> = { 1: 200, 16: 40, 100: 8 };
const OPTIONS = (mb: number): CompareOptions => ({ warmupBlocks: 1, blocks: QUICK ? 1 : 15, calls: QUICK ? 2 : CALLS[mb] });

async function worker(): Promise<void> {
  setNumThreads(1);
  await dist.initProcessGroup();
  const buffers = new Map<number, Tensor>(SIZES_MB.map((mb) => [mb, zeros([(mb * 1024 * 1024) / 4])]));
  await serveBlocks(async (name, calls) => {
    const t = buffers.get(Number(name))!;
    await dist.barrier();
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await dist.allReduce(t);
    return [Number(process.hrtime.bigint() - start) / 1e9];
  });
  dist.destroyProcessGroup();
}

async function main(): Promise<void> {
  warnIfBusy(2);
  const script = new URL(import.meta.url).pathname;
  const pyScript = script.replace(/\/dist\/bench\/allreduce\.js$/, '/bench/allreduce.py');
  const sizes = SIZES_MB.join(',');
  const netlab = new GroupWorkers('NetLab', process.execPath, [script], 2, 29611);
  const pytorch = new GroupWorkers('PyTorch', PYTHON, [pyScript, sizes], 2, 29612);
  try {
    report('processes', 2);
    for (const mb of SIZES_MB) {
      const { netlab: n, pytorch: p } = await compareGroups(netlab, pytorch, String(mb), OPTIONS(mb));
      report(`allreduce_${mb}mb_netlab_ms`, n * 1000);
      report(`allreduce_${mb}mb_pytorch_ms`, p * 1000);
      report(`allreduce_${mb}mb_ratio`, n / p);
    }
  } finally {
    netlab.close();
    pytorch.close();
  }
}

await (process.env.NETLAB_BENCH_WORKER === '1' ? worker() : main());
