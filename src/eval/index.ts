export { cleanAccuracy, evaluateAttack, evaluateSuite, epsSweep, formatTable, type AttackSpec, type RobustnessRow, type RobustnessOptions, type SweepPoint } from './robustness.js';
