export { fgsmTraining, pgdTraining, type FgsmTrainingOptions } from './adversarial-training.js';
