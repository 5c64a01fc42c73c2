// NetLab: the classic deep networks and the attacks on them, in TypeScript on libtorch.
export * from './tensor/index.js';
export * as F from './nn/functional.js';
export * as nn from './nn/index.js';
