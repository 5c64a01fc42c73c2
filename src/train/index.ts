export { fit, evaluate, crossEntropyLoss, type FitOptions, type FitResult, type StepInfo, type EpochInfo, type LossFn, type Schedule, type EvaluationResult } from './trainer.js';
