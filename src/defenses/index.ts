export { fgsmTraining, pgdTraining, type FgsmTrainingOptions } from './adversarial-training.js';
export { temperatureLoss, softLabels } from './distillation.js';
