export { Attack, withNormalization, checkConstraints, type AttackResult, type AttackOptions, type RunOptions, type Classifier, type Norm, type TargetMode } from './attack.js';
export { FGSM, type FGSMOptions } from './fgsm.js';
export { PGD, PGD_MNIST, PGD_CIFAR10, randomStartInBall, type PGDOptions } from './pgd.js';
export { BIM, type BIMOptions } from './bim.js';
export { APGD, APGDT, apgdCheckpoints, dlrLoss, targetedDlrLoss, type APGDOptions, type APGDTOptions, type APGDLoss } from './apgd.js';
export { FAB, FABT, projectOntoHyperplane, type FABOptions, type FABTOptions } from './fab.js';
export { Square, squareFraction, squarePattern, type SquareOptions } from './square.js';
