// The MNIST classifier of Carlini & Wagner (IEEE S&P 2017), Table I (the
// network of Papernot et al.'s distillation paper): two 3×3 convolutions of
// 32 filters, 2×2 max-pooling, two 3×3 convolutions of 64, 2×2 max-pooling
// (all unpadded, ReLU), then fully connected layers of 200 and 200 and the 10
// logits, with dropout 0.5 after the first (as Carlini's train_models.py).
// Inputs are [N, 1, 28, 28] in [0, 1].
import type { Tensor } from '../tensor/tensor.js';
import { scope } from '../tensor/scope.js';
import * as F from '../nn/functional.js';
import { Conv2d, Dropout, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';

export interface CWMnistConfig {
  numClasses: number;
  /** Dropout after the first fully connected layer. */
  dropout: number;
}

export const CW_MNIST_DEFAULTS: CWMnistConfig = { numClasses: 10, dropout: 0.5 };

/** The number of learnable parameters, without building the network (312,202 for MNIST). */
export function cwMnistParameterCount(config: Partial<CWMnistConfig> = {}): number {
  const { numClasses } = { ...CW_MNIST_DEFAULTS, ...config };
  const conv = (inC: number, outC: number) => 9 * inC * outC + outC;
  return conv(1, 32) + conv(32, 32) + conv(32, 64) + conv(64, 64) + (64 * 4 * 4 * 200 + 200) + (200 * 200 + 200) + (200 * numClasses + numClasses);
}

export class CWMnistNet extends Module {
  readonly config: CWMnistConfig;
  conv1 = new Conv2d(1, 32, 3);
  conv2 = new Conv2d(32, 32, 3);
  conv3 = new Conv2d(32, 64, 3);
  conv4 = new Conv2d(64, 64, 3);
  fc1 = new Linear(64 * 4 * 4, 200);
  dropout: Dropout;
  fc2 = new Linear(200, 200);
  fc3: Linear;

  constructor(config: Partial<CWMnistConfig> = {}) {
    super();
    this.config = { ...CW_MNIST_DEFAULTS, ...config };
    this.dropout = new Dropout(this.config.dropout);
    this.fc3 = new Linear(200, this.config.numClasses);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 1 || x.shape[2] !== 28 || x.shape[3] !== 28) throw new RangeError(`CWMnistNet: expected input [N, 1, 28, 28], got ${x.describe()}`);
    return scope(() => {
      let h = this.conv2.forward(this.conv1.forward(x).relu()).relu(); // (N, 32, 24, 24)
      h = F.maxPool2d(h, 2); // (N, 32, 12, 12)
      h = this.conv4.forward(this.conv3.forward(h).relu()).relu(); // (N, 64, 8, 8)
      h = F.maxPool2d(h, 2); // (N, 64, 4, 4)
      h = this.dropout.forward(this.fc1.forward(h.flatten(1)).relu()); // (N, 200)
      h = this.fc2.forward(h).relu(); // (N, 200)
      return this.fc3.forward(h); // (N, classes)
    });
  }
}

export function cwMnistNet(config: Partial<CWMnistConfig> = {}): CWMnistNet {
  return new CWMnistNet(config);
}
