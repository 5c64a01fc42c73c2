import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { encodeIdx, idxMagic, readIdx, readIdxTensor, writeIdx, type IdxArray } from '../../src/data/index.js';
import { throwsNaming } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'netlab-idx-'));
after(() => rmSync(dir, { recursive: true, force: true }));


function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

// One array per IDX type, holding each type's extreme values.
const SAMPLES: IdxArray[] = [
  { type: 'uint8', shape: [2, 3], data: bytes(0, 1, 127, 128, 254, 255) },
  { type: 'int8', shape: [4], data: Int8Array.from([-128, -1, 0, 127]) },
  { type: 'int16', shape: [2, 2], data: Int16Array.from([-32768, -2, 258, 32767]) },
  { type: 'int32', shape: [3], data: Int32Array.from([-2147483648, 16909060, 2147483647]) },
  { type: 'float32', shape: [1, 2, 2], data: Float32Array.from([-0.5, 3.25, Infinity, 1e-30]) },
  { type: 'float64', shape: [2], data: Float64Array.from([Math.PI, -1e300]) },
  { type: 'uint8', shape: [], data: bytes(42) },
  { type: 'int32', shape: [0, 5], data: new Int32Array(0) },
];

test('IDX files round-trip every element type, plain and gzipped', () => {
  SAMPLES.forEach((sample, i) => {
    for (const name of [`s${i}.idx`, `s${i}.idx.gz`]) {
      const file = join(dir, name);
      writeIdx(file, sample);
      const back = readIdx(file, { type: sample.type, ndim: sample.shape.length });
      assert.equal(back.type, sample.type, name);
      assert.deepEqual(back.shape, sample.shape, name);
      assert.equal(back.data.constructor, sample.data.constructor, name);
      assert.deepEqual(Array.from(back.data), Array.from(sample.data), name);
    }
  });
  // The gzipped copy really is gzip (magic 1f 8b), and no temporary file is left behind.
  assert.deepEqual([...readFileSync(join(dir, 's0.idx.gz')).subarray(0, 2)], [0x1f, 0x8b]);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), []);
});

test('the encoding is big-endian with the magic number 0 0 type ndim', () => {
  // 0x01020304 as int32 in a 1-D array of one element: magic 0x00000c01, dim 1, then 01 02 03 04.
  const encoded = encodeIdx({ type: 'int32', shape: [1], data: Int32Array.from([0x01020304]) });
  assert.deepEqual([...encoded], [0, 0, 0x0c, 1, 0, 0, 0, 1, 1, 2, 3, 4]);
  // The magic numbers MNIST uses.
  assert.equal(idxMagic('uint8', 3), 0x00000803);
  assert.equal(idxMagic('uint8', 1), 0x00000801);
});

test('readIdxTensor gives a tensor of the file type and shape', () => {
  const file = join(dir, 'tensor.idx');
  writeIdx(file, SAMPLES[2]);
  const t = readIdxTensor(file);
  assert.equal(t.dtype, 'int16');
  assert.deepEqual(t.toArray(), [[-32768, -2], [258, 32767]]);
  t.dispose();
});

// A valid 2×2 uint8 image file to damage in the tests below.
const GOOD = bytes(0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 10, 20, 30, 40);

function write(name: string, content: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

test('a missing file is named', () => {
  const file = join(dir, 'does-not-exist-idx3-ubyte');
  throwsNaming(() => readIdx(file), file, /file not found/);
});

test('a folder given as a file is named', () => {
  const folder = join(dir, 'a-folder');
  mkdirSync(folder);
  throwsNaming(() => readIdx(folder), folder, /is a folder/);
});

test('a file shorter than the magic number is truncated', () => {
  const file = write('tiny.idx', bytes(0, 0, 8));
  throwsNaming(() => readIdx(file), file, /truncated: 3 bytes/);
});

test('a header cut short is truncated', () => {
  const file = write('short-header.idx', GOOD.subarray(0, 10));
  throwsNaming(() => readIdx(file), file, /truncated: the header of a 3-dimensional IDX file needs 16 bytes, the file has 10/);
});

test('data cut short is truncated', () => {
  const file = write('short-data.idx', GOOD.subarray(0, GOOD.length - 1));
  throwsNaming(() => readIdx(file), file, /truncated: shape \[1, 2, 2\] of uint8 needs 4 bytes .* the file has 3/);
});

test('extra bytes after the data are a wrong length', () => {
  const file = write('long.idx', Uint8Array.from([...GOOD, 99]));
  throwsNaming(() => readIdx(file), file, /wrong length: .* needs 4 bytes .* the file has 5/);
});

test('a file that is not IDX has a wrong magic number', () => {
  // The first bytes of a PNG file.
  const file = write('picture.png', bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a));
  throwsNaming(() => readIdx(file), file, /wrong magic number 0x89504e47: not an IDX file/);
});

test('an unknown type code is a wrong magic number', () => {
  const file = write('odd-type.idx', bytes(0, 0, 0x0a, 1, 0, 0, 0, 0));
  throwsNaming(() => readIdx(file), file, /wrong magic number 0x00000a01: unknown IDX type code 0x0a/);
});

test('a labels file where images are expected has the wrong magic number', () => {
  const file = join(dir, 'labels-idx1-ubyte');
  writeIdx(file, { type: 'uint8', shape: [3], data: bytes(1, 2, 3) });
  throwsNaming(() => readIdx(file, { type: 'uint8', ndim: 3 }), file, /wrong magic number 0x00000801 \(uint8, 1 dimension\); expected 0x00000803 \(uint8, 3 dimensions\)/);
  throwsNaming(() => readIdx(file, { type: 'float32' }), file, /expected 0x00000d01 \(float32, 1 dimension\)/);
});

test('corrupt gzip data is named', () => {
  const whole = gzipSync(GOOD);
  const file = write('broken.idx.gz', whole.subarray(0, whole.length - 6));
  throwsNaming(() => readIdx(file), file, /corrupt gzip data/);
});

test('encodeIdx refuses data that does not fill the shape', () => {
  assert.throws(() => encodeIdx({ type: 'uint8', shape: [2, 2], data: bytes(1, 2, 3) }), /shape \[2, 2\] needs 4 elements, the data has 3/);
});
