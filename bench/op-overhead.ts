// Per-call overhead: a 4-element float32 add, so the time is all binding and
// dispatch, not arithmetic. The result is freed every iteration, as Python
// frees it by reference count. Prints netlab_us (freed by dispose()),
// netlab_scope_us (a scope per call instead), pytorch_us and the ratio of
// the first to PyTorch.
import { getNumThreads, rand, scope } from '../src/index.js';
import { compare, PyTorchWorker, report, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

// 100,000 calls of about a microsecond make a block of about 0.1 s: long
// against timer resolution and a stray GC pause, short against changes in the
// machine's load.
const OPTIONS: CompareOptions = { warmupBlocks: 2, blocks: 15, calls: 100_000 };

const threads = getNumThreads();
warnIfBusy(threads);
const a = rand([4]);
const b = rand([4]);
const worker = new PyTorchWorker('op_overhead.py', [String(threads)]);
try {
  const disposed = await compare(worker, 'add', (calls) => {
    for (let i = 0; i < calls; i++) a.add(b).dispose();
  }, OPTIONS);
  const scoped = await compare(worker, 'add', (calls) => {
    for (let i = 0; i < calls; i++) scope(() => void a.add(b));
  }, OPTIONS);
  reportThreads(threads);
  report('netlab_us', disposed.netlab * 1e6);
  report('netlab_scope_us', scoped.netlab * 1e6);
  report('pytorch_us', disposed.pytorch * 1e6);
  report('ratio', disposed.netlab / disposed.pytorch);
} finally {
  worker.close();
}
