// CIFAR-10 (Krizhevsky, "Learning multiple layers of features from tiny
// images", 2009) in its binary version, from a folder the user names: the
// training set is data_batch_1.bin … data_batch_5.bin, the test set
// test_batch.bin. Each record is one label byte then 3,072 pixel bytes: the
// 32×32 red plane, then green, then blue, each row-major.
import { join } from 'node:path';

import { scope, tensor, type Tensor } from '../tensor/index.js';
import { ImageDataset } from './dataset.js';
import { DataFileError } from './errors.js';
import { isFolder, readMaybeGzip } from './idx.js';
import type { Split } from './mnist.js';

export interface Cifar10Options {
  split: Split;
  /** The folder with the .bin batches (each may be gzipped), or the folder the archive unpacks into (holding cifar-10-batches-bin/). */
  root: string;
  /** 'float32' scales the pixels to [0, 1] (the default); 'uint8' keeps the levels 0 … 255. */
  dtype?: 'float32' | 'uint8';
}

/** The class names, by label, as in batches.meta.txt. */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

const SIDE = 32;
const PIXELS = 3 * SIDE * SIDE;
const RECORD = 1 + PIXELS;
const RECORDS_PER_BATCH = 10000;

const BATCHES: Record<Split, readonly string[]> = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
};

// The folder that holds the batches: root itself, or the archive's subfolder.
function batchFolder(root: string): string {
  if (!isFolder(root)) throw new DataFileError(root, 'folder not found');
  const nested = join(root, 'cifar-10-batches-bin');
  return isFolder(nested) ? nested : root;
}

// Checks one batch file's length and labels; returns its record count.
function checkBatch(file: string, bytes: Uint8Array): number {
  if (bytes.length === 0) throw new DataFileError(file, 'malformed size: the file is empty');
  if (bytes.length % RECORD !== 0)
    throw new DataFileError(file, `malformed size: ${bytes.length} bytes is not a whole number of ${RECORD}-byte records (1 label byte + ${PIXELS} pixel bytes); ${bytes.length % RECORD} bytes are left over`);
  const records = bytes.length / RECORD;
  if (records > RECORDS_PER_BATCH)
    throw new DataFileError(file, `malformed size: ${records} records, more than the ${RECORDS_PER_BATCH} of a CIFAR-10 batch (${RECORDS_PER_BATCH * RECORD} bytes)`);
  for (let r = 0; r < records; r++) {
    const label = bytes[r * RECORD];
    if (label >= CIFAR10_CLASSES.length) throw new DataFileError(file, `record ${r} has label ${label}; CIFAR-10 labels are 0 … 9`);
  }
  return records;
}

/**
 * Loads one split of CIFAR-10: images [N, 3, 32, 32] (float32 in [0, 1]
 * unless `dtype: 'uint8'`) and int64 labels [N].
 *
 * A batch normally holds 10,000 records (30,730,000 bytes). A file with
 * fewer records is accepted only when its length is a whole number of
 * 3,073-byte records (so a test can write a small batch); any other length,
 * more than 10,000 records, a label above 9, a missing folder or a missing
 * batch is an error naming the file.
 */
export function loadCifar10(options: Cifar10Options): ImageDataset {
  const split = options?.split;
  if (split !== 'train' && split !== 'test') throw new TypeError(`loadCifar10: split must be 'train' or 'test', got ${String(split)}`);
  if (typeof options.root !== 'string') throw new TypeError('loadCifar10: root must name the folder that holds the CIFAR-10 binary batches');
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'uint8') throw new TypeError(`loadCifar10: dtype must be 'float32' or 'uint8', got ${String(dtype)}`);
  const folder = batchFolder(options.root);

  const files = BATCHES[split].map((name) => {
    const file = join(folder, name);
    const bytes = readMaybeGzip(file);
    return { bytes, records: checkBatch(file, bytes) };
  });
  const total = files.reduce((n, f) => n + f.records, 0);
  // Split the interleaved records into one pixel block and one label block.
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Uint8Array(total);
  let k = 0;
  for (const { bytes, records } of files) {
    for (let r = 0; r < records; r++, k++) {
      const offset = r * RECORD;
      labels[k] = bytes[offset];
      pixels.set(bytes.subarray(offset + 1, offset + RECORD), k * PIXELS);
    }
  }

  return scope(() => {
    const raw = tensor(pixels, { shape: [total, 3, SIDE, SIDE] });
    const images: Tensor = dtype === 'uint8' ? raw : raw.to('float32').div_(255);
    return new ImageDataset(images, tensor(labels).to('int64'), CIFAR10_CLASSES);
  });
}
