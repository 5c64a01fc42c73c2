export { Tensor, type TensorOrScalar, type ValuesIndices, type IndexSpec } from './tensor.js';
export { type DType, DTYPES, isFloatingPoint } from './dtype.js';
export { type Device, cudaIsAvailable, cudaDeviceCount } from './device.js';
export { scope } from './scope.js';
export * from './creation.js';
export * from './autograd.js';
export * from './ops.js';
