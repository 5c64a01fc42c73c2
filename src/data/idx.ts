// NetLab's reader and writer for IDX files, the format MNIST ships in
// (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
// 0x00 0x00 <type code> <number of dimensions>, one big-endian uint32 per
// dimension, then the elements row-major and big-endian. Files compressed
// with gzip (as MNIST is distributed) are decompressed transparently.
import { readFileSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';

import { tensor, type Tensor } from '../tensor/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { DataFileError } from './errors.js';

/** The element types IDX defines, by PyTorch's dtype names. */
export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

interface TypeInfo {
  code: number;
  size: number;
}

const TYPES: Record<IdxType, TypeInfo> = {
  uint8: { code: 0x08, size: 1 },
  int8: { code: 0x09, size: 1 },
  int16: { code: 0x0b, size: 2 },
  int32: { code: 0x0c, size: 4 },
  float32: { code: 0x0d, size: 4 },
  float64: { code: 0x0e, size: 8 },
};

const BY_CODE = new Map<number, IdxType>(Object.entries(TYPES).map(([name, info]) => [info.code, name as IdxType]));

/** The typed array that holds each IDX element type. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** The contents of one IDX file. */
export interface IdxArray {
  type: IdxType;
  /** Dimension sizes, outermost first. */
  shape: number[];
  /** The elements, row-major, in host byte order. */
  data: IdxData;
}

/** What a caller requires of a file; a mismatch is reported as a wrong magic number. */
export interface IdxExpectation {
  type?: IdxType;
  ndim?: number;
}

/** The magic number of a type and rank, e.g. 0x00000803 for 3-D uint8 (MNIST images). */
export function idxMagic(type: IdxType, ndim: number): number {
  return (TYPES[type].code << 8) | ndim;
}

function hex(magic: number): string {
  return '0x' + magic.toString(16).padStart(8, '0');
}

function describeMagic(type: IdxType, ndim: number): string {
  return `${hex(idxMagic(type, ndim))} (${type}, ${ndim} dimension${ndim === 1 ? '' : 's'})`;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Reads a file's bytes, gunzipping them when they start with gzip's magic bytes. */
export function readMaybeGzip(file: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw fileError(file, error);
  }
  if (bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) {
    try {
      return gunzipSync(bytes);
    } catch (error) {
      throw new DataFileError(file, `corrupt gzip data (${(error as Error).message})`);
    }
  }
  return bytes;
}

/** Turns a Node file-system error into one that says what is wrong in words. */
export function fileError(file: string, error: unknown): DataFileError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new DataFileError(file, 'file not found');
  if (code === 'EISDIR') return new DataFileError(file, 'is a folder, expected a file');
  if (code === 'EACCES') return new DataFileError(file, 'permission denied');
  return new DataFileError(file, `cannot be read (${(error as Error).message})`);
}

/**
 * Parses IDX bytes; `file` names the source in error messages. Checks the
 * magic number (and `expect`, when given), and that the data is exactly as
 * long as the header's dimensions say.
 */
export function parseIdx(bytes: Uint8Array, file: string, expect: IdxExpectation = {}): IdxArray {
  if (bytes.length < 4) throw new DataFileError(file, `truncated: ${bytes.length} bytes, too short for the 4-byte IDX magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (bytes[0] !== 0 || bytes[1] !== 0)
    throw new DataFileError(file, `wrong magic number ${hex(magic)}: not an IDX file (its first two bytes must be zero)`);
  const type = BY_CODE.get(bytes[2]);
  if (type === undefined)
    throw new DataFileError(file, `wrong magic number ${hex(magic)}: unknown IDX type code 0x${bytes[2].toString(16).padStart(2, '0')} (known: 0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64)`);
  const ndim = bytes[3];
  if ((expect.type !== undefined && expect.type !== type) || (expect.ndim !== undefined && expect.ndim !== ndim))
    throw new DataFileError(file, `wrong magic number ${describeMagic(type, ndim)}; expected ${describeMagic(expect.type ?? type, expect.ndim ?? ndim)}`);
  const headerSize = 4 + 4 * ndim;
  if (bytes.length < headerSize)
    throw new DataFileError(file, `truncated: the header of a ${ndim}-dimensional IDX file needs ${headerSize} bytes, the file has ${bytes.length}`);
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * TYPES[type].size;
  const actual = bytes.length - headerSize;
  if (actual !== expected) {
    const what = actual < expected ? 'truncated' : 'wrong length';
    throw new DataFileError(file, `${what}: shape [${shape.join(', ')}] of ${type} needs ${expected} bytes of data after the ${headerSize}-byte header, the file has ${actual}`);
  }
  return { type, shape, data: decode(bytes.subarray(headerSize), type, count) };
}

// Copies the big-endian elements into a typed array in host order. A fresh,
// aligned buffer is used for multi-byte types (the typed array needs the
// alignment) and byte-swapped in one native call on little-endian hosts.
function decode(raw: Uint8Array, type: IdxType, count: number): IdxData {
  // Plain typed arrays over the file's bytes (no copy), not Node Buffers.
  if (type === 'uint8') return new Uint8Array(raw.buffer, raw.byteOffset, count);
  if (type === 'int8') return new Int8Array(raw.buffer, raw.byteOffset, count);
  const aligned = Buffer.alloc(raw.length);
  aligned.set(raw);
  if (endianness() === 'LE') {
    if (TYPES[type].size === 2) aligned.swap16();
    else if (TYPES[type].size === 4) aligned.swap32();
    else aligned.swap64();
  }
  const buffer = aligned.buffer;
  const offset = aligned.byteOffset;
  switch (type) {
    case 'int16': return new Int16Array(buffer, offset, count);
    case 'int32': return new Int32Array(buffer, offset, count);
    case 'float32': return new Float32Array(buffer, offset, count);
    case 'float64': return new Float64Array(buffer, offset, count);
  }
}

/** Reads an IDX file (gzipped or not); errors name the file and what is wrong. */
export function readIdx(file: string, expect: IdxExpectation = {}): IdxArray {
  return parseIdx(readMaybeGzip(file), file, expect);
}

/** Reads an IDX file into a tensor of its element type and shape. */
export function readIdxTensor(file: string, expect: IdxExpectation = {}): Tensor {
  const array = readIdx(file, expect);
  return tensor(array.data, { shape: array.shape });
}

/** Serialises an array to IDX bytes (big-endian, as the format requires). */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { type, shape, data } = array;
  const info = TYPES[type];
  if (info === undefined) throw new TypeError(`encodeIdx: unknown IDX type '${String(type)}'; expected one of ${Object.keys(TYPES).join(', ')}`);
  if (shape.length > 255) throw new RangeError(`encodeIdx: IDX allows at most 255 dimensions, got ${shape.length}`);
  for (const d of shape) if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new RangeError(`encodeIdx: dimensions must be integers in [0, 2^32), got [${shape.join(', ')}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new RangeError(`encodeIdx: shape [${shape.join(', ')}] needs ${count} elements, the data has ${data.length}`);
  const headerSize = 4 + 4 * shape.length;
  const out = Buffer.alloc(headerSize + count * info.size);
  out.writeUInt32BE(idxMagic(type, shape.length), 0);
  shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  const body = out.subarray(headerSize);
  body.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (info.size > 1 && endianness() === 'LE') {
    if (info.size === 2) body.swap16();
    else if (info.size === 4) body.swap32();
    else body.swap64();
  }
  return out;
}

/**
 * Writes an IDX file, gzipped when the name ends in '.gz'. The bytes go to a
 * temporary file that is flushed and renamed into place, so an interrupted
 * write never leaves a torn file.
 */
export function writeIdx(file: string, array: IdxArray): void {
  let bytes = encodeIdx(array);
  if (file.endsWith('.gz')) bytes = gzipSync(bytes);
  try {
    writeFileAtomic(file, bytes);
  } catch (error) {
    throw new DataFileError(file, `cannot be written (${(error as Error).message})`);
  }
}

/** Whether `path` is an existing folder. */
export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
