// The standard AutoAttack (APGD-CE, APGD-T over 9 targets, FAB-T over 9
// targets, Square with 5,000 queries; L∞ ε = 0.3) on the first 200 MNIST test
// images, against the PGD-trained Madry CNN that `netlab reproduce madry`
// writes (runs/demo/adversarial.safetensors, or the file NETLAB_BENCH_WEIGHTS
// names). NetLab runs its AutoAttack; PyTorch (bench/autoattack.py) runs the
// same algorithms written in PyTorch (bench/autoattack_torch.py). A robust
// model is the point: on a natural one the first attack breaks everything and
// the rest never run. One run per side (each takes minutes). Prints each
// side's seconds and robust accuracy after each stage (the two agree up to
// the randomness of the starts and of Square), and the ratio NetLab/PyTorch.
// NETLAB_BENCH_QUICK=1 attacks 20 images.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { getNumThreads, scope, type Tensor } from '../src/index.js';
import { loadMnist, mnistDataFolder } from '../src/data/index.js';
import { loadSafetensors } from '../src/io/safetensors.js';
import { madryCnn } from '../src/models/madry-cnn.js';
import { autoAttack } from '../src/eval/autoattack.js';
import { PyTorchWorker, QUICK, report, reportThreads, warnIfBusy } from './common.js';

const IMAGES = QUICK ? 20 : 200;
const weights = resolve(process.env.NETLAB_BENCH_WEIGHTS ?? 'runs/demo/adversarial.safetensors');
if (!existsSync(weights)) {
  console.error(`bench autoattack: ${weights} not found; it needs the PGD-trained Madry CNN that 'npm run demo' writes there (or NETLAB_BENCH_WEIGHTS=FILE)`);
  process.exit(1);
}

const threads = getNumThreads();
warnIfBusy(threads);
const model = madryCnn();
const file = loadSafetensors(weights);
model.loadStateDict(file.tensors);
for (const t of file.tensors.values()) t.dispose();
model.eval();
const test = loadMnist({ split: 'test' });
const [x, y]: Tensor[] = scope(() => [test.images.narrow(0, 0, IMAGES).clone(), test.labels.narrow(0, 0, IMAGES).clone()]);
test.dispose();

const worker = new PyTorchWorker('autoattack.py', [String(threads), weights, mnistDataFolder(), String(IMAGES)]);
try {
  const started = process.hrtime.bigint();
  const result = autoAttack(model, x, y, { eps: 0.3 });
  const netlab = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise((done) => setTimeout(done, 50)); // let NetLab's OpenMP workers sleep
  const [pytorch, ...stages] = await worker.measure('autoattack', 1);
  reportThreads(threads);
  report('images', IMAGES);
  report('netlab_clean_accuracy', result.cleanAccuracy);
  report('pytorch_clean_accuracy', stages[0]);
  result.stages.forEach((s, i) => {
    const name = s.attack.toLowerCase().replace('-', '_');
    report(`netlab_after_${name}`, s.robustAccuracy);
    report(`pytorch_after_${name}`, stages[2 * (i + 1)]);
    report(`netlab_${name}_s`, s.seconds);
    report(`pytorch_${name}_s`, stages[2 * (i + 1) + 1]);
  });
  report('netlab_s', netlab);
  report('pytorch_s', pytorch);
  report('ratio', netlab / pytorch);
  result.dispose();
} finally {
  worker.close();
}
