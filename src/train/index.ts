export { fit, evaluate, crossEntropyLoss, type FitOptions, type FitResult, type StepInfo, type EpochInfo, type LossFn, type Schedule, type EvaluationResult } from './trainer.js';
export {
  trainGan, GAN_TRAINING_DEFAULTS, ganLearningRate, ganMomentum, discriminatorLoss, generatorLoss,
  type GanTrainingOptions, type GanTrainingResult, type GanStepInfo, type GanEpochInfo, type GeneratorObjective, type GanUpdate,
} from './gan.js';
export { trainTransformer, sequenceLoss, sequencePerplexity, averageCheckpoints, type TrainTransformerOptions, type TrainTransformerResult } from './seq2seq.js';
