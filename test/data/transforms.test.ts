import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Random,
  centerCrop,
  channelStats,
  horizontalFlip,
  normalize,
  pixelMean,
  randomCrop,
  randomHorizontalFlip,
  randomResizedCrop,
  scaleAugmentation,
  subtractPixelMean,
  tenCrop,
} from '../../src/data/index.js';
import { arange, F, manualSeed, ones, pad, rand, randn, scope, tensor, Tensor } from '../../src/index.js';
import { assertClose, assertThrowsWith } from '../helpers.js';

function same(a: Tensor, b: Tensor, message = ''): void {
  assert.ok(a.equal(b), `${message}: ${a.describe()} differs from ${b.describe()}`);
}

test('flipping twice is the identity, and a flip reverses the columns', () => {
  const x = rand([3, 2, 5, 7]);
  same(horizontalFlip(horizontalFlip(x)), x, 'flip twice');
  const row = arange(4, { dtype: 'float32' }).reshape(1, 1, 1, 4);
  assert.deepEqual(horizontalFlip(row).toArray(), [[[[3, 2, 1, 0]]]]);
});

test('randomHorizontalFlip flips each image or not, p=0 never, p=1 always', () => {
  const x = rand([200, 1, 3, 4]);
  same(randomHorizontalFlip(x, { p: 0 }), x, 'p=0');
  same(randomHorizontalFlip(x, { p: 1 }), horizontalFlip(x), 'p=1');
  const y = randomHorizontalFlip(x, { rng: new Random(1) });
  const flippedX = horizontalFlip(x);
  let flipped = 0;
  for (let i = 0; i < 200; i++) {
    const yi = y.select(0, i);
    if (yi.equal(flippedX.select(0, i))) flipped++;
    else same(yi, x.select(0, i), `image ${i} is neither itself nor its mirror`);
  }
  // Binomial(200, 0.5): sd 7.1, so 100 ± 35 is 5 sd.
  assert.ok(Math.abs(flipped - 100) < 35, `${flipped} of 200 flipped`);
  same(randomHorizontalFlip(x, { rng: new Random(1) }), y, 'the same generator seed repeats');
});

test('randomCrop with padding 0 at full size is the identity', () => {
  const x = rand([4, 3, 32, 32]);
  same(randomCrop(x, 32, { rng: new Random(3) }), x, 'no room to move');
  same(randomCrop(x, 32), x, 'also from libtorch generator');
});

test('randomCrop 32 with padding 4 cuts a window of the zero-padded image, a different one per image', () => {
  const x = rand([6, 3, 32, 32]).add(1); // strictly positive, so padding zeros are recognisable
  const y = randomCrop(x, 32, { padding: 4, rng: new Random(8) });
  assert.deepEqual(y.shape, [6, 3, 32, 32]);
  const padded = pad(x, [4, 4, 4, 4]);
  const offsets: string[] = [];
  for (let i = 0; i < 6; i++) {
    const yi = y.select(0, i);
    // Search the 9×9 possible offsets for the one this crop came from.
    let found = '';
    for (let top = 0; top <= 8 && !found; top++)
      for (let left = 0; left <= 8 && !found; left++)
        if (padded.select(0, i).narrow(1, top, 32).narrow(2, left, 32).equal(yi)) found = `${top},${left}`;
    assert.ok(found, `crop ${i} is not a window of its padded image`);
    offsets.push(found);
  }
  // Six independent offsets out of 81: all equal has probability 81^-5.
  assert.ok(new Set(offsets).size > 1, `offsets ${offsets}`);
  same(randomCrop(x, 32, { padding: 4, rng: new Random(8) }), y, 'the same generator seed repeats');
  manualSeed(5);
  const a = randomCrop(x, 24);
  manualSeed(5);
  same(randomCrop(x, 24), a, 'manualSeed repeats libtorch draws');
  assert.throws(() => randomCrop(x, 41, { padding: 4 }), /a 41×41 crop does not fit images of 32×32 padded by 4/);
});

test('normalize by the batch statistics gives mean 0 and std 1 per channel', () => {
  const x = randn([64, 3, 8, 8]).mul(tensor([2, 0.5, 3]).view(3, 1, 1)).add(tensor([1, -2, 5]).view(3, 1, 1));
  const { mean, std } = channelStats(x);
  const z = normalize(x, mean, std);
  // float32 sums over 4,096 values per channel: 1e-5 absolute on the mean, 1e-4 relative on the std.
  assertClose(z.mean([0, 2, 3]), [0, 0, 0], { atol: 1e-5 });
  assertClose(z.std([0, 2, 3], { correction: 0 }), [1, 1, 1], { rtol: 1e-4 });
  // And elementwise it is (x − mean) / std.
  const v = ones([1, 2, 1, 1]).mul(tensor([3, 5]).view(2, 1, 1));
  assertClose(normalize(v, [1, 2], [4, 0.5]), [[[[0.5]], [[6]]]]);
  assert.throws(() => normalize(v, [1], [1]), /have 2 channels but mean has 1 values/);
  assert.throws(() => normalize(v, [1, 1], [1, 0]), /every std must be positive/);
  assert.throws(() => normalize(tensor([[[[1]]]], { dtype: 'uint8' }), [0], [1]), /expected floating-point images/);
});

test('subtracting the per-pixel mean leaves every pixel with mean 0 over the set', () => {
  const x = rand([50, 3, 4, 4]);
  const mean = pixelMean(x);
  assert.deepEqual(mean.shape, [3, 4, 4]);
  // 50 float32 values per pixel in [0, 1]: 1e-6 absolute.
  assertClose(subtractPixelMean(x, mean).mean(0), new Array(3).fill(new Array(4).fill(new Array(4).fill(0))), { atol: 1e-6 });
  assert.throws(() => subtractPixelMean(x, rand([3, 4, 5])), /the mean image must be \[3, 4, 4\]/);
});

test('tenCrop: the four corners, the centre, then the same five of the mirror image', () => {
  const x = rand([2, 3, 9, 11]);
  const crops = tenCrop(x, 5);
  assert.deepEqual(crops.shape, [2, 10, 3, 5, 5]);
  const c = (k: number) => crops.select(1, k);
  same(c(0), x.narrow(2, 0, 5).narrow(3, 0, 5), 'top left');
  same(c(1), x.narrow(2, 0, 5).narrow(3, 6, 5), 'top right');
  same(c(2), x.narrow(2, 4, 5).narrow(3, 0, 5), 'bottom left');
  same(c(3), x.narrow(2, 4, 5).narrow(3, 6, 5), 'bottom right');
  same(c(4), x.narrow(2, 2, 5).narrow(3, 3, 5), 'centre');
  same(c(4), centerCrop(x, 5), 'centerCrop');
  // The top-left crop of the mirror image is the mirror of the top-right crop, and so on.
  for (const [k, m] of [[5, 1], [6, 0], [7, 3], [8, 2], [9, 4]]) same(c(k), horizontalFlip(c(m)), `crop ${k}`);
  // At full size the first five crops are the image itself.
  const full = tenCrop(x.narrow(3, 0, 9), 9);
  for (let k = 0; k < 5; k++) same(full.select(1, k), x.narrow(3, 0, 9), `full-size crop ${k}`);
});

test('scaleAugmentation resizes the shorter side into [256, 480] and crops 224', () => {
  const batch = rand([2, 3, 240, 320]);
  const y = scaleAugmentation(batch, { rng: new Random(4) });
  assert.deepEqual(y.shape, [2, 3, 224, 224]);
  same(scaleAugmentation(batch, { rng: new Random(4) }), y, 'the same generator seed repeats');
  // Images of different sizes, given as a list.
  const mixed = scaleAugmentation([rand([3, 300, 200]), rand([3, 256, 256])], { rng: new Random(2) });
  assert.deepEqual(mixed.shape, [2, 3, 224, 224]);
  // Resizing to the image's own size is exact and a crop of full size is the image: the identity.
  const square = rand([2, 3, 64, 64]);
  same(scaleAugmentation(square, { minSize: 64, maxSize: 64, cropSize: 64, rng: new Random(1) }), square, 'identity');
  // Bilinear resizing keeps a constant image constant.
  const grey = scaleAugmentation(ones([1, 1, 100, 150]).mul(0.25), { minSize: 120, maxSize: 160, cropSize: 96 });
  assertClose(grey, ones([1, 1, 96, 96]).mul(0.25), { atol: 1e-6 });
  assert.throws(() => scaleAugmentation(batch, { cropSize: 300 }), /a 300×300 crop does not fit a shorter side of 256/);
  assert.throws(() => scaleAugmentation(tensor([[[[1]]]], { dtype: 'uint8' })), /expected floating-point images/);
});

test('transforms refuse what is not a batch of images', () => {
  assert.throws(() => randomCrop(rand([3, 8, 8]), 4), /expected a batch of images \[N, C, H, W\], got float32\[3, 8, 8\]/);
  assert.throws(() => tenCrop(rand([1, 1, 4, 4]), 5), /a 5×5 crop does not fit images of 4×4/);
  assert.throws(() => randomHorizontalFlip(rand([1, 1, 2, 2]), { p: 2 }), /p must be in \[0, 1\]/);
});

test('randomResizedCrop: the whole image at its own size is the identity; a fixed crop equals bilinear interpolation of it', () => {
  scope(() => {
    const x = rand([3, 2, 12, 12]);
    // Area and ratio pinned to 1: the crop is the whole image, resized to itself.
    assertClose(randomResizedCrop(x, 12, { scale: [1, 1], ratio: [1, 1], rng: new Random(0) }), x, { rtol: 1e-6, atol: 1e-6 });
    // Area ¼ and ratio 1: a 6×6 crop somewhere, resized to 12×12, equals PyTorch's bilinear interpolate of that crop at one of the 49 places.
    const out = randomResizedCrop(x, 12, { scale: [0.25, 0.25], ratio: [1, 1], rng: new Random(1) });
    assert.deepEqual(out.shape, [3, 2, 12, 12]);
    for (let n = 0; n < 3; n++) {
      let best = Infinity;
      for (let top = 0; top <= 6; top++) {
        for (let left = 0; left <= 6; left++) {
          const crop = x.narrow(0, n, 1).narrow(2, top, 6).narrow(3, left, 6);
          const expected = F.interpolate(crop, { size: 12, mode: 'bilinear', alignCorners: false });
          best = Math.min(best, out.narrow(0, n, 1).sub(expected).abs().max().item());
        }
      }
      assert.ok(best < 1e-5, `image ${n}: no 6×6 crop matches (closest ${best})`);
    }
  });
});

test('randomResizedCrop draws a different box per image and refuses bad ranges', () => {
  scope(() => {
    const x = rand([1, 1, 8, 8]).expand(4, 1, 8, 8).contiguous();
    const out = randomResizedCrop(x, 8, { scale: [0.2, 0.6], rng: new Random(2) });
    assert.ok(!out.select(0, 0).equal(out.select(0, 1)) || !out.select(0, 2).equal(out.select(0, 3)), 'the same image cropped four times gave identical crops');
    assertThrowsWith(() => randomResizedCrop(x, 8, { scale: [0, 1] }), /scale must be \[lo, hi\] with 0 < lo <= hi <= 1/);
    assertThrowsWith(() => randomResizedCrop(x, 8, { ratio: [2, 1] }), /ratio must be \[lo, hi\]/);
    assertThrowsWith(() => randomResizedCrop(x.long(), 8), /expected floating-point images/);
  });
});
