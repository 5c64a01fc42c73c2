// The MNIST classifier of Madry et al. (2018), "Towards Deep Learning Models
// Resistant to Adversarial Attacks": two 5×5 convolutions (32 and 64 filters,
// 'same' padding, ReLU, 2×2 max-pooling) and two fully connected layers
// (1024, 10). Inputs are [N, 1, 28, 28] in [0, 1]; outputs are logits.
import type { Tensor } from '../tensor/tensor.js';
import { scope } from '../tensor/scope.js';
import * as F from '../nn/functional.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';

export interface MadryCnnConfig {
  /** Input channels (1 for MNIST). */
  inChannels: number;
  /** Input height and width; the two poolings divide it by 4. */
  imageSize: number;
  numClasses: number;
}

export const MADRY_CNN_DEFAULTS: MadryCnnConfig = { inChannels: 1, imageSize: 28, numClasses: 10 };

/** The number of learnable parameters, without building the network (3,274,634 for MNIST). */
export function madryCnnParameterCount(config: Partial<MadryCnnConfig> = {}): number {
  const { inChannels, imageSize, numClasses } = { ...MADRY_CNN_DEFAULTS, ...config };
  const features = 64 * (imageSize / 4) ** 2;
  return 25 * inChannels * 32 + 32 + (25 * 32 * 64 + 64) + (features * 1024 + 1024) + (1024 * numClasses + numClasses);
}

export class MadryCnn extends Module {
  readonly config: MadryCnnConfig;
  conv1: Conv2d;
  conv2: Conv2d;
  fc1: Linear;
  fc2: Linear;

  constructor(config: Partial<MadryCnnConfig> = {}) {
    super();
    this.config = { ...MADRY_CNN_DEFAULTS, ...config };
    const { inChannels, imageSize, numClasses } = this.config;
    if (imageSize % 4 !== 0) throw new RangeError(`MadryCnn: imageSize must be a multiple of 4 (two 2×2 poolings), got ${imageSize}`);
    this.conv1 = new Conv2d(inChannels, 32, 5, { padding: 2 });
    this.conv2 = new Conv2d(32, 64, 5, { padding: 2 });
    this.fc1 = new Linear(64 * (imageSize / 4) ** 2, 1024);
    this.fc2 = new Linear(1024, numClasses);
  }

  forward(x: Tensor): Tensor {
    const { inChannels, imageSize } = this.config;
    if (x.ndim !== 4 || x.shape[1] !== inChannels || x.shape[2] !== imageSize || x.shape[3] !== imageSize)
      throw new RangeError(`MadryCnn: expected input [N, ${inChannels}, ${imageSize}, ${imageSize}], got ${x.describe()}`);
    return scope(() => {
      let h = F.maxPool2d(this.conv1.forward(x).relu(), 2); // (N, 32, S/2, S/2)
      h = F.maxPool2d(this.conv2.forward(h).relu(), 2); // (N, 64, S/4, S/4)
      h = this.fc1.forward(h.flatten(1)).relu(); // (N, 1024)
      return this.fc2.forward(h); // (N, classes)
    });
  }
}

export function madryCnn(config: Partial<MadryCnnConfig> = {}): MadryCnn {
  return new MadryCnn(config);
}
