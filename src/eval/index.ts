export { cleanAccuracy, evaluateAttack, evaluateSuite, mergeRows, epsSweep, formatTable, type AttackSpec, type RobustnessRow, type RobustnessOptions, type SweepPoint } from './robustness.js';
export { PARZEN_SIGMAS, parzenLogLikelihoods, parzenEstimate, meanAndStandardError, type ParzenEstimate, type ParzenOptions } from './parzen.js';
export { autoAttack, autoAttackRow, autoAttackStages, formatStages, mergeAutoAttack, AUTOATTACK_VERSIONS, type AutoAttackOptions, type AutoAttackResult, type AutoAttackSummary, type Preflight, type AutoAttackStage, type AutoAttackVersion } from './autoattack.js';
export { gradientMaskingFlags, PGD_GAP_ALARM, SWEEP_RISE_ALARM, type MaskingEvidence } from './diagnostics.js';
