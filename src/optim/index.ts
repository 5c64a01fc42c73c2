// Optimizers, learning-rate schedules and gradient clipping, with PyTorch 1.13's behaviour.
export { Optimizer, type BaseOptions, type ParamGroup, type ParamGroupInput, type ParamsInput, type OptimizerStateDict, type ParamStateDict } from './optimizer.js';
export { SGD, type SGDOptions, type SGDState } from './sgd.js';
export { Adam, AdamW, type AdamOptions, type AdamState } from './adam.js';
export { LARS, type LARSOptions, type LARSState } from './lars.js';
export {
  LRScheduler,
  StepLR,
  MultiStepLR,
  LambdaLR,
  CosineWarmupLR,
  InverseSqrtLR,
  ReduceLROnPlateau,
  type LrLambda,
  type CosineWarmupOptions,
  type InverseSqrtOptions,
  type ReduceLROnPlateauOptions,
  type SchedulerStateDict,
} from './lr-scheduler.js';
export { clipGradNorm, clipGradValue } from './clip-grad.js';
export { projectedLbfgs, type ProjectedLbfgsOptions, type ProjectedLbfgsResult } from './projected-lbfgs.js';
