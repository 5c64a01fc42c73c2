import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CIFAR10_CLASSES, loadCifar10 } from '../../src/data/index.js';
import { throwsNaming } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'netlab-cifar-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// 1 label byte + 3 planes of 32×32 pixel bytes.
const RECORD = 3073;


// `records` records whose label is (first + r) mod 10 and whose pixel byte j is (first + r + j) mod 256.
function batch(records: number, first = 0): Uint8Array {
  const bytes = new Uint8Array(records * RECORD);
  for (let r = 0; r < records; r++) {
    bytes[r * RECORD] = (first + r) % 10;
    for (let j = 0; j < RECORD - 1; j++) bytes[r * RECORD + 1 + j] = (first + r + j) % 256;
  }
  return bytes;
}

function folder(name: string, files: Record<string, Uint8Array>): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  for (const [file, bytes] of Object.entries(files)) writeFileSync(join(root, file), bytes);
  return root;
}

test('a 20-record test batch loads with the planes in R, G, B order', () => {
  const root = folder('small-test', { 'test_batch.bin': batch(20) });
  using data = loadCifar10({ split: 'test', root, dtype: 'uint8' });
  assert.deepEqual(data.images.shape, [20, 3, 32, 32]);
  assert.deepEqual(data.labels.toArray(), Array.from({ length: 20 }, (_, r) => r % 10));
  assert.deepEqual(data.classes, CIFAR10_CLASSES);
  const pixels = data.images.toTypedArray() as Uint8Array;
  // Image r, channel c, row y, column x is pixel byte j = c·1024 + y·32 + x of record r.
  for (const [r, c, y, x] of [[0, 0, 0, 0], [3, 1, 5, 7], [19, 2, 31, 31]]) {
    const j = c * 1024 + y * 32 + x;
    assert.equal(pixels[((r * 3 + c) * 32 + y) * 32 + x], (r + j) % 256, `image ${r} channel ${c} (${y}, ${x})`);
  }
});

test('the training set joins the five batches in order, also from the archive folder', () => {
  const files: Record<string, Uint8Array> = {};
  for (let b = 1; b <= 5; b++) files[`cifar-10-batches-bin/data_batch_${b}.bin`] = batch(4, 4 * (b - 1));
  mkdirSync(join(dir, 'archive', 'cifar-10-batches-bin'), { recursive: true });
  const root = folder('archive', files);
  using data = loadCifar10({ split: 'train', root });
  assert.deepEqual(data.images.shape, [20, 3, 32, 32]);
  assert.equal(data.images.dtype, 'float32');
  assert.deepEqual(data.labels.toArray(), Array.from({ length: 20 }, (_, r) => r % 10));
  // Record 0 of batch 3 is image 8: its first pixel byte is 8 (see batch()), scaled by 1/255.
  assert.ok(Math.abs(data.images.index(8, 0, 0, 0).item() - 8 / 255) < 1e-7);
});

test('a missing folder is named', () => {
  const root = join(dir, 'nowhere');
  throwsNaming(() => loadCifar10({ split: 'test', root }), root, /folder not found/);
});

test('a missing batch is named', () => {
  const root = folder('four-batches', { 'data_batch_1.bin': batch(2), 'data_batch_2.bin': batch(2), 'data_batch_3.bin': batch(2), 'data_batch_4.bin': batch(2) });
  throwsNaming(() => loadCifar10({ split: 'train', root }), join(root, 'data_batch_5.bin'), /file not found/);
});

test('a length that is not a whole number of records is a malformed size', () => {
  const root = folder('ragged', { 'test_batch.bin': batch(20).subarray(0, 20 * RECORD - 5) });
  throwsNaming(() => loadCifar10({ split: 'test', root }), join(root, 'test_batch.bin'), /malformed size: 61455 bytes is not a whole number of 3073-byte records .* 3068 bytes are left over/);
});

test('an empty batch is a malformed size', () => {
  const root = folder('empty', { 'test_batch.bin': new Uint8Array(0) });
  throwsNaming(() => loadCifar10({ split: 'test', root }), join(root, 'test_batch.bin'), /malformed size: the file is empty/);
});

test('more than 10,000 records is a malformed size', () => {
  // 10,001 zero records: label 0, black pixels.
  const root = folder('too-long', { 'test_batch.bin': new Uint8Array(10001 * RECORD) });
  throwsNaming(() => loadCifar10({ split: 'test', root }), join(root, 'test_batch.bin'), /malformed size: 10001 records, more than the 10000 of a CIFAR-10 batch \(30730000 bytes\)/);
});

test('a label above 9 is named with its record', () => {
  const bytes = batch(5);
  bytes[3 * RECORD] = 10;
  const root = folder('bad-label', { 'test_batch.bin': bytes });
  throwsNaming(() => loadCifar10({ split: 'test', root }), join(root, 'test_batch.bin'), /record 3 has label 10/);
});

test('bad options are refused', () => {
  assert.throws(() => loadCifar10({ split: 'test' } as never), /root must name the folder/);
  assert.throws(() => loadCifar10({ split: 'dev' as 'test', root: dir }), /split must be 'train' or 'test'/);
});
