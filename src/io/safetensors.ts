// The safetensors format (Hugging Face): how weights move between NetLab and
// PyTorch. A file is
//   8 bytes      N, the header length, an unsigned 64-bit little-endian integer
//   N bytes      UTF-8 JSON: {name: {dtype, shape, data_offsets: [begin, end]}, …,
//                "__metadata__"?: {string: string}}, possibly padded with spaces
//   the rest     the data buffer; offsets count from its first byte, tensors are
//                row-major little-endian and cover it exactly, with no holes or overlaps.
// Everything read from a file is checked before it is used, so a corrupt or
// hostile file gives an Error that names the file and the fault, never a crash
// or a read out of bounds.
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import { fromBytes } from '../tensor/creation.js';
import { ITEM_SIZE, type DType } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { writeChunksAtomic } from './atomic.js';

/** The contents of a safetensors file. */
export interface SafetensorsFile {
  /** The tensors (on the CPU), in the order of their data in the file. */
  tensors: Map<string, Tensor>;
  /** The free-form `__metadata__` map; empty when the file has none. */
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';

// The reference implementation refuses headers above 100 MB; so do we, so that
// a garbage length cannot make us allocate or scan gigabytes.
const MAX_HEADER_BYTES = 100_000_000;

const FROM_FILE: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

const TO_FILE = Object.fromEntries(Object.entries(FROM_FILE).map(([name, dtype]) => [dtype, name])) as Record<DType, string>;

// Dtypes the format defines but libtorch 1.13 has no tensor type for; named
// apart so that the message says "not supported" rather than "unknown".
const UNSUPPORTED = new Set(['U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E4M3FN', 'F8_E4M3FNUZ', 'F8_E5M2FNUZ', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

// The reference writer lays tensors out by descending dtype rank, then by
// name; its ranks rise with alignment, so every tensor's data starts aligned
// to its item size (the header is padded to a multiple of 8). Gaps in the
// numbering are the dtypes NetLab cannot hold.
const LAYOUT_RANK: Record<DType, number> = {
  bool: 0,
  uint8: 1,
  int8: 2,
  int16: 5,
  float16: 7,
  bfloat16: 8,
  int32: 9,
  float32: 11,
  float64: 12,
  int64: 13,
};

/** One tensor's entry in a header, checked. */
interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

// ---- reading ------------------------------------------------------------------

/**
 * Parses a whole safetensors file held in memory. Every tensor is copied out
 * of `bytes` once, with no per-element work in JavaScript. `source` (a file
 * name) is used in error messages.
 */
export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const where = source === undefined ? 'safetensors data' : `safetensors file '${source}'`;
  const fail = (what: string): Error => new Error(`${where}: ${what}`);
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`parseSafetensors: bytes must be a Uint8Array, got ${describe(bytes)}`);

  if (bytes.byteLength < 8)
    throw fail(`is ${bytes.byteLength} bytes long, too short to hold even the 8-byte header length`);
  const prefix = new DataView(bytes.buffer, bytes.byteOffset, 8);
  // Exact up to 2^53, far above the limit it is compared with.
  const headerLength = prefix.getUint32(0, true) + prefix.getUint32(4, true) * 2 ** 32;
  if (headerLength > MAX_HEADER_BYTES)
    throw fail(`header length ${headerLength} is larger than the 100 MB limit: not a safetensors file, or a corrupt one`);
  if (8 + headerLength > bytes.byteLength)
    throw fail(`header length ${headerLength} runs past the end of the data (${bytes.byteLength} bytes in all)`);

  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so that JSON.parse rejects it as the reference does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) throw fail(`header must be a JSON object, got ${describe(header)}`);

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata = readMetadata(header[METADATA_KEY], fail);
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name !== METADATA_KEY) entries.push(readEntry(name, value, dataLength, fail));
  }
  checkLayout(entries, dataLength, fail);

  const tensors = new Map<string, Tensor>();
  try {
    for (const { name, dtype, shape, begin, end } of entries) {
      const data = bytes.subarray(dataStart + begin, dataStart + end);
      if (dtype === 'bool') checkBooleans(data, shape, name, fail);
      tensors.set(name, fromBytes(data, shape, dtype));
    }
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  }
  return { tensors, metadata };
}

/**
 * Reads a safetensors file with a single read into one buffer, then parses it.
 * Errors name the path: a missing file, a directory, unreadable or malformed content.
 */
export function loadSafetensors(path: string): SafetensorsFile {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`loadSafetensors: path must be a non-empty string, got ${describe(path)}`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`loadSafetensors: file not found: '${path}'`, { cause: error });
    throw new Error(`loadSafetensors: cannot open '${path}': ${(error as Error).message}`, { cause: error });
  }
  let data: Buffer;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new Error(`loadSafetensors: '${path}' is not a regular file`);
    if (stats.size > bufferConstants.MAX_LENGTH)
      throw new Error(`loadSafetensors: '${path}' is ${stats.size} bytes, more than one buffer can hold (${bufferConstants.MAX_LENGTH})`);
    // Not from the shared pool, so the tensors' source is not kept alive by unrelated buffers.
    data = Buffer.allocUnsafeSlow(stats.size);
    let done = 0;
    while (done < data.byteLength) {
      // One read, issued in pieces of at most 1 GiB because a single read(2) returns at most ~2 GiB.
      const n = readSync(fd, data, done, Math.min(data.byteLength - done, 2 ** 30), done);
      if (n === 0) throw new Error(`loadSafetensors: '${path}' ended after ${done} of ${stats.size} bytes (was it truncated while being read?)`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return parseSafetensors(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), path);
}

function readMetadata(value: unknown, fail: (what: string) => Error): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw fail(`"${METADATA_KEY}" must be an object mapping strings to strings, got ${describe(value)}`);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw fail(`"${METADATA_KEY}" value for key '${key}' must be a string, got ${describe(item)}`);
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays data.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function readEntry(name: string, value: unknown, dataLength: number, fail: (what: string) => Error): Entry {
  const bad = (what: string): Error => fail(`tensor '${name}': ${what}`);
  if (!isPlainObject(value)) throw bad(`entry must be an object with dtype, shape and data_offsets, got ${describe(value)}`);
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!(field in value)) throw bad(`entry has no '${field}'`);
  }

  const code = value.dtype;
  if (typeof code !== 'string') throw bad(`dtype must be a string, got ${describe(code)}`);
  if (!Object.hasOwn(FROM_FILE, code)) {
    if (UNSUPPORTED.has(code)) throw bad(`dtype ${code} is not supported (libtorch 1.13 has no such tensor type); supported: ${Object.keys(FROM_FILE).join(', ')}`);
    throw bad(`unknown dtype ${JSON.stringify(code)}; expected one of ${Object.keys(FROM_FILE).join(', ')}`);
  }
  const dtype = FROM_FILE[code];

  const shape = value.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(`shape must be an array of non-negative integers, got ${describe(shape)}`);
  let numel = 1;
  for (const d of shape) numel *= d;
  const nbytes = numel * ITEM_SIZE[dtype];
  if (!Number.isSafeInteger(nbytes)) throw bad(`shape [${shape.join(', ')}] is too large for any file`);

  const offsets = value.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
    throw bad(`data_offsets must be [begin, end] with non-negative integers, got ${describe(offsets)}`);
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad(`data_offsets [${begin}, ${end}] are out of order (begin after end)`);
  if (end > dataLength) throw bad(`data_offsets [${begin}, ${end}] run past the end of the data buffer (${dataLength} bytes)`);
  if (end - begin !== nbytes)
    throw bad(`data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${code} [${shape.join(', ')}] needs ${numel} × ${ITEM_SIZE[dtype]} = ${nbytes}`);
  return { name, dtype, shape: shape as number[], begin, end };
}

// Sorts the entries by offset (in place) and checks that they tile the data
// buffer exactly, as the reference requires: bytes owned by no tensor could
// hide data, and overlapping tensors would alias.
function checkLayout(entries: Entry[], dataLength: number, fail: (what: string) => Error): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const entry of entries) {
    const span = (e: Entry): string => `'${e.name}' [${e.begin}, ${e.end}]`;
    if (entry.begin < covered) throw fail(`tensors ${span(previous!)} and ${span(entry)} overlap`);
    if (entry.begin > covered)
      throw fail(`bytes ${covered} to ${entry.begin} of the data buffer belong to no tensor (a hole ${previous ? `after ${span(previous)}` : 'at the start'})`);
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength)
    throw fail(`the data buffer has ${dataLength} bytes but the tensors cover only ${covered}: bytes ${covered} to ${dataLength} belong to no tensor`);
}

// libtorch assumes a bool byte is 0 or 1; anything else gives undefined
// results, so such a file is refused. Checked by libtorch, not a JS loop.
function checkBooleans(data: Uint8Array, shape: number[], name: string, fail: (what: string) => Error): void {
  if (data.byteLength === 0) return;
  using raw = fromBytes(data, shape, 'uint8');
  using largest = raw.max();
  const top = largest.item();
  if (top > 1) throw fail(`tensor '${name}': BOOL data holds the byte ${top}; only 0 and 1 are valid`);
}

// ---- writing ------------------------------------------------------------------

/** What a write needs, worked out and checked before any byte is produced. */
interface Plan {
  header: Uint8Array;
  tensors: { name: string; tensor: Tensor; nbytes: number }[];
  dataLength: number;
}

/**
 * The safetensors file for `tensors` (and optional string metadata) as one
 * buffer. Layout and key order follow the reference writer: tensors by
 * descending dtype alignment, then by name; the header padded with spaces
 * to a multiple of 8 bytes.
 */
export function serializeSafetensors(tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const plan = planWrite(tensors, metadata, 'serializeSafetensors');
  const out = new Uint8Array(plan.header.byteLength + plan.dataLength);
  out.set(plan.header, 0);
  let offset = plan.header.byteLength;
  for (const chunk of tensorBytes(plan, 'serializeSafetensors')) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Writes `tensors` to `path` as safetensors, atomically: through a temporary
 * file that is flushed and renamed into place, one tensor in memory at a time.
 * Arguments are checked before anything is written, and on any failure the
 * file already at `path` is left untouched.
 */
export function saveSafetensors(path: string, tensors: Record<string, Tensor> | Map<string, Tensor>, metadata?: Record<string, string>): void {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`saveSafetensors: path must be a non-empty string, got ${describe(path)}`);
  const context = `saveSafetensors '${path}'`;
  const plan = planWrite(tensors, metadata, context);
  writeChunksAtomic(path, (function* () {
    yield plan.header;
    yield* tensorBytes(plan, context);
  })());
}

function* tensorBytes(plan: Plan, context: string): Generator<Uint8Array> {
  for (const { name, tensor, nbytes } of plan.tensors) {
    const bytes = tensor.toBytes();
    // The header was written from shape and dtype; the data must agree with it.
    if (bytes.byteLength !== nbytes) throw new Error(`${context}: tensor '${name}' gave ${bytes.byteLength} bytes, expected ${nbytes}`);
    yield bytes;
  }
}

function planWrite(tensors: Record<string, Tensor> | Map<string, Tensor>, metadata: Record<string, string> | undefined, context: string): Plan {
  // Keys of a Map or an object are unique by construction, so duplicate names cannot arise.
  let items: [unknown, unknown][];
  if (tensors instanceof Map) items = [...tensors.entries()];
  else if (isPlainObject(tensors)) items = Object.entries(tensors);
  else throw new TypeError(`${context}: tensors must be a Map or a plain object of name → Tensor, got ${describe(tensors)}`);

  const entries = items.map(([name, tensor]) => {
    if (typeof name !== 'string') throw new TypeError(`${context}: tensor names must be strings, got ${describe(name)}`);
    if (name === METADATA_KEY) throw new Error(`${context}: '${METADATA_KEY}' is reserved for the metadata and cannot name a tensor`);
    if (!(tensor instanceof Tensor)) throw new TypeError(`${context}: the value for '${name}' is not a Tensor: got ${describe(tensor)}`);
    if (tensor.isDisposed) throw new Error(`${context}: tensor '${name}' has been disposed`);
    const dtype = tensor.dtype;
    const shape = [...tensor.shape];
    return { name, tensor, dtype, shape, key: Buffer.from(name, 'utf8'), nbytes: tensor.numel() * ITEM_SIZE[dtype] };
  });
  // Names compare by their UTF-8 bytes, as in the reference (JavaScript's own
  // string order differs for characters beyond U+FFFF).
  entries.sort((a, b) => LAYOUT_RANK[b.dtype] - LAYOUT_RANK[a.dtype] || Buffer.compare(a.key, b.key));

  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new TypeError(`${context}: metadata must be a plain object of strings, got ${describe(metadata)}`);
    const keys = Object.keys(metadata).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    for (const key of keys) {
      if (typeof metadata[key] !== 'string') throw new TypeError(`${context}: metadata value for '${key}' must be a string, got ${describe(metadata[key])}`);
    }
    if (keys.length > 0) parts.push(`${JSON.stringify(METADATA_KEY)}:{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const { name, dtype, shape, nbytes } of entries) {
    parts.push(`${JSON.stringify(name)}:{"dtype":"${TO_FILE[dtype]}","shape":[${shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`);
    offset += nbytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  // Spaces up to a multiple of 8 so that the data buffer starts 8-byte aligned.
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, tensors: entries, dataLength: offset };
}

// ---- helpers --------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

// A short rendering of any value for messages.
function describe(value: unknown): string {
  if (value instanceof Tensor) return `a Tensor`;
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'bigint') return `bigint ${value}`;
  if (typeof value === 'function' || typeof value === 'symbol') return typeof value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !isPlainObject(value)) return `a ${value.constructor?.name ?? 'object'}`;
  const text = JSON.stringify(value);
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return typeof value === 'object' && value !== null ? shown : `${typeof value} ${shown}`;
}
