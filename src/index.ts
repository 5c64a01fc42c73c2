// NetLab: the classic deep networks and the attacks on them, in TypeScript on libtorch.
export * from './tensor/index.js';
export * as F from './nn/functional.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as io from './io/index.js';
export * as models from './models/index.js';
export * as attacks from './attacks/index.js';
export * as defenses from './defenses/index.js';
export * as evaluation from './eval/index.js';
export * as train from './train/index.js';
export * as distributed from './distributed/index.js';
