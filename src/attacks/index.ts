export { Attack, withNormalization, checkConstraints, type AttackResult, type AttackOptions, type RunOptions, type Classifier, type Norm, type TargetMode } from './attack.js';
export { FGSM, type FGSMOptions } from './fgsm.js';
export { PGD, PGD_MNIST, PGD_CIFAR10, randomStartInBall, type PGDOptions } from './pgd.js';
export { BIM, type BIMOptions } from './bim.js';
