import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

import { scope } from '../../src/tensor/index.js';
import { ImageFileError, readImage } from '../../src/io/image.js';

const dir = mkdtempSync(join(tmpdir(), 'netlab-image-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A width×height RGBA image whose pixel (x, y) is pixel(x, y).
function rgba(width: number, height: number, pixel: (x: number, y: number) => [number, number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y), 4 * (y * width + x));
  return data;
}

function writePng(name: string, width: number, height: number, pixel: (x: number, y: number) => [number, number, number, number]): string {
  const png = new PNG({ width, height });
  png.data = rgba(width, height, pixel);
  const file = join(dir, name);
  writeFileSync(file, PNG.sync.write(png));
  return file;
}

test('a PNG reads as [3, H, W] in [0, 1], row-major, alpha dropped', () => {
  const file = writePng('ramp.png', 4, 3, (x, y) => [10 * x, 20 * y, 200, x === 0 ? 0 : 255]);
  scope(() => {
    const image = readImage(file);
    assert.deepEqual(image.shape, [3, 3, 4]);
    assert.equal(image.dtype, 'float32');
    const [r, g, b] = image.mul(255).round().toArray() as number[][][];
    assert.deepEqual(r, [[0, 10, 20, 30], [0, 10, 20, 30], [0, 10, 20, 30]]);
    assert.deepEqual(g, [[0, 0, 0, 0], [20, 20, 20, 20], [40, 40, 40, 40]]);
    assert.ok(b.flat().every((v) => v === 200), 'the transparent column keeps its colour, as PIL convert("RGB")');
  });
});

test("grey levels are PIL's convert('L'): red 76, green 150, blue 29, white 255", () => {
  const colours: [number, number, number, number][] = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255], [255, 255, 255, 255], [12, 34, 56, 255]];
  const file = writePng('colours.png', colours.length, 1, (x) => colours[x]);
  scope(() => {
    const grey = readImage(file, { channels: 1 });
    assert.deepEqual(grey.shape, [1, 1, 5]);
    // The last: (12·19595 + 34·38470 + 56·7471 + 32768) >> 16 = 30.
    assert.deepEqual((grey.mul(255).round().toArray() as number[][][])[0][0], [76, 150, 29, 255, 30]);
  });
});

test('a JPEG reads to within its compression error of the pixels written', () => {
  const [width, height] = [16, 8];
  const pixels = rgba(width, height, (x, y) => [16 * x, 32 * y, 128, 255]);
  const file = join(dir, 'ramp.jpg');
  writeFileSync(file, jpeg.encode({ data: pixels, width, height }, 100).data);
  scope(() => {
    const image = readImage(file);
    assert.deepEqual(image.shape, [3, height, width]);
    const values = image.mul(255).toArray() as number[][][];
    let worst = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) worst = Math.max(worst, Math.abs(values[c][y][x] - pixels[4 * (y * width + x) + c]));
    assert.ok(worst <= 8, `largest error ${worst} grey levels at quality 100`);
  });
});

test('missing, unknown and corrupt files are errors naming the file', () => {
  const missing = join(dir, 'nope.png');
  assert.throws(() => readImage(missing), (e: unknown) => e instanceof ImageFileError && e.file === missing && /nope\.png: file not found/.test(e.message));
  const text = join(dir, 'notes.png');
  writeFileSync(text, 'not an image at all');
  assert.throws(() => readImage(text), /notes\.png: not a PNG or JPEG image/);
  const good = writePng('cut.png', 8, 8, () => [1, 2, 3, 255]);
  const truncated = join(dir, 'truncated.png');
  const bytes = PNG.sync.write(Object.assign(new PNG({ width: 8, height: 8 }), { data: rgba(8, 8, () => [1, 2, 3, 255]) }));
  writeFileSync(truncated, bytes.subarray(0, 40));
  assert.throws(() => readImage(truncated), /truncated\.png: not a readable image/);
  assert.throws(() => readImage(good, { channels: 2 as 3 }), /channels must be 1 or 3, got 2/);
});
