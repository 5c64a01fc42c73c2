export { Attack, withNormalization, checkConstraints, type AttackResult, type AttackOptions, type RunOptions, type Classifier, type Norm, type TargetMode } from './attack.js';
export { FGSM, type FGSMOptions } from './fgsm.js';
export { PGD, PGD_MNIST, PGD_CIFAR10, randomStartInBall, type PGDOptions } from './pgd.js';
export { BIM, type BIMOptions } from './bim.js';
export { APGD, APGDT, apgdCheckpoints, dlrLoss, targetedDlrLoss, type APGDOptions, type APGDTOptions, type APGDLoss } from './apgd.js';
export { FAB, FABT, projectOntoHyperplane, type FABOptions, type FABTOptions } from './fab.js';
export { Square, squareFraction, squarePattern, type SquareOptions } from './square.js';
export { CWL2, CW_L2_DEFAULTS, CW_PAPER, cwObjective, goalMargin, reachedWithMargin, type CWL2Options } from './cw-l2.js';
export { DeepFool, DEEPFOOL_DEFAULTS, type DeepFoolOptions } from './deepfool.js';
