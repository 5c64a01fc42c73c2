export { cleanAccuracy, evaluateAttack, evaluateSuite, epsSweep, formatTable, type AttackSpec, type RobustnessRow, type RobustnessOptions, type SweepPoint } from './robustness.js';
export { PARZEN_SIGMAS, parzenLogLikelihoods, parzenEstimate, meanAndStandardError, type ParzenEstimate, type ParzenOptions } from './parzen.js';
