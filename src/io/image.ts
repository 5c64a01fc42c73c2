// Image files in and out of tensors: PNG (pngjs) and JPEG (jpeg-js), both
// pure JavaScript, recognised by their first bytes rather than their names.
// Pixels come back as PIL's `convert('RGB')` and `convert('L')` give them,
// so a preprocessing written against torchvision reads the same numbers.
import { readFileSync } from 'node:fs';

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

import { scope, tensor, type Tensor } from '../tensor/index.js';

export class ImageFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ImageFileError';
  }
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];
// jpeg-js's guard against decompression bombs, in megapixels and megabytes.
const MAX_MEGAPIXELS = 100;
const MAX_MEMORY_MB = 1024;

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** Decodes a PNG or JPEG file to RGBA bytes. */
function decode(file: string): { width: number; height: number; rgba: Uint8Array } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new ImageFileError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message);
  }
  try {
    if (startsWith(bytes, PNG_MAGIC)) {
      const png = PNG.sync.read(bytes);
      return { width: png.width, height: png.height, rgba: png.data };
    }
    if (startsWith(bytes, JPEG_MAGIC)) {
      const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: MAX_MEMORY_MB });
      return { width: image.width, height: image.height, rgba: image.data };
    }
  } catch (error) {
    throw new ImageFileError(file, `not a readable image: ${(error as Error).message}`);
  }
  throw new ImageFileError(file, 'not a PNG or JPEG image (its first bytes are neither signature)');
}

export interface ReadImageOptions {
  /** 3 for RGB (alpha dropped, as PIL's convert('RGB')), 1 for luma ≈ 0.299 R + 0.587 G + 0.114 B (PIL's convert('L')). */
  channels?: 1 | 3;
}

/** Reads a PNG or JPEG file as a float32 image [C, H, W] in [0, 1]. */
export function readImage(file: string, options: ReadImageOptions = {}): Tensor {
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`readImage: channels must be 1 or 3, got ${String(channels)}`);
  const { width, height, rgba } = decode(file);
  if (width === 0 || height === 0) throw new ImageFileError(file, `the image is empty (${width}×${height})`);
  return scope(() => {
    const hwc = tensor(rgba, { dtype: 'uint8' }).view(height, width, 4);
    const rgb = hwc.narrow(2, 0, 3).permute(2, 0, 1).float(); // [3, H, W] in 0 … 255
    if (channels === 3) return rgb.div(255);
    // PIL's fixed-point luma, rounded to whole levels: (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16 (exact in float32).
    const luma = rgb.mul(tensor([19595, 38470, 7471]).view(3, 1, 1)).sum(0, { keepdim: true }).add(32768).div(65536).floor();
    return luma.div(255);
  });
}
