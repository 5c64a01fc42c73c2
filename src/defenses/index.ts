export { fgsmTraining, pgdTraining, type FgsmTrainingOptions } from './adversarial-training.js';
export { temperatureLoss, softLabels, softmaxOutput } from './distillation.js';
