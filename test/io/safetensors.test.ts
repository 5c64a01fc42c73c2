import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fromBytes, liveTensors, tensor, zeros, Tensor, type DType } from '../../src/index.js';
import { loadSafetensors, parseSafetensors, saveSafetensors, serializeSafetensors, writeChunksAtomic, writeFileAtomic } from '../../src/io/index.js';
import { assertThrowsWith } from '../helpers.js';

// Compiled tests run from .out-*/test/io or dist/test/io; the fixture stays in the source tree.
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'safetensors', 'torch_dtypes.safetensors');

const dir = mkdtempSync(join(tmpdir(), 'netlab-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const freshPath = (): string => join(dir, `case-${++fileCount}.safetensors`);

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A safetensors file from a header (object or raw text) and data, as the format lays it out. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = typeof header === 'string' ? ascii(header) : ascii(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

// ---- a file written from PyTorch ----------------------------------------------------

test('a file written from PyTorch tensors loads with every dtype, value and bit pattern intact', () => {
  const { tensors, metadata } = loadSafetensors(FIXTURE);
  assert.deepEqual(metadata, { format: 'pt', source: 'test/fixtures/make_safetensors_fixture.py' });
  // The file's data order: descending dtype alignment, then name (see make_safetensors_fixture.py).
  assert.deepEqual([...tensors.keys()], ['i64', 'f64', 'empty', 'f32', 'linear.bias', 'linear.weight', 'scalar', 'i32', 'bf16', 'f16', 'i16', 'i8', 'u8', 'mask']);
  const check = (name: string, dtype: DType, shape: number[]): Tensor => {
    const t = tensors.get(name)!;
    assert.equal(t.dtype, dtype, name);
    assert.deepEqual(t.shape, shape, name);
    assert.equal(t.device, 'cpu', name);
    return t;
  };
  // The same values in each float type: 1/3, -2, -0, +inf, -inf, NaN, the smallest subnormal, the largest finite.
  // Expected words are the IEEE encodings; NaN is PyTorch's canonical quiet NaN (sign 0, top mantissa bit set).
  const f32 = new Uint32Array(check('f32', 'float32', [2, 4]).toBytes().buffer);
  assert.deepEqual([...f32], [0x3eaaaaab, 0xc0000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x00000001, 0x7f7fffff]);
  // f64's last two are 5e-324 (smallest subnormal) and pi.
  const f64 = new BigUint64Array(check('f64', 'float64', [8]).toBytes().buffer);
  assert.deepEqual([...f64], [0x3fd5555555555555n, 0xc000000000000000n, 0x8000000000000000n, 0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 1n, 0x400921fb54442d18n]);
  // float16: 1/3 rounds to 0x3555; 6e-8 to the smallest subnormal; 65504 is the largest finite.
  const f16 = new Uint16Array(check('f16', 'float16', [8]).toBytes().buffer);
  assert.deepEqual([...f16], [0x3555, 0xc000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x7bff]);
  // bfloat16: 1/3 (0x3eaaaaab in float32) rounds up to 0x3eab; 1e-40 to the smallest subnormal. NaN is
  // 0xffff (still a NaN): PyTorch 1.13's vectorised float32 → bfloat16 conversion writes that word.
  const bf16 = new Uint16Array(check('bf16', 'bfloat16', [8]).toBytes().buffer);
  assert.deepEqual([...bf16], [0x3eab, 0xc000, 0x8000, 0x7f80, 0xff80, 0xffff, 0x0001, 0x7f7f]);
  // Integer extremes of each width.
  assert.deepEqual([...(check('i64', 'int64', [4]).toTypedArray() as BigInt64Array)], [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]);
  assert.deepEqual(check('i32', 'int32', [2, 2]).toArray(), [[-(2 ** 31), 2 ** 31 - 1], [0, -1]]);
  assert.deepEqual(check('i16', 'int16', [3]).toArray(), [-(2 ** 15), 2 ** 15 - 1, 7]);
  assert.deepEqual(check('i8', 'int8', [3]).toArray(), [-128, 127, -1]);
  assert.deepEqual(check('u8', 'uint8', [3]).toArray(), [0, 255, 128]);
  assert.deepEqual(check('mask', 'bool', [2, 3]).toArray(), [[true, false, true], [false, false, true]]);
  // arange(6)/4 − 0.5 and the bias are exact in binary, so equality is exact.
  assert.deepEqual(check('linear.weight', 'float32', [2, 3]).toArray(), [[-0.5, -0.25, 0], [0.25, 0.5, 0.75]]);
  assert.deepEqual(check('linear.bias', 'float32', [2]).toArray(), [0.125, -0.25]);
  assert.equal(check('scalar', 'float32', []).item(), 7.25);
  assert.equal(check('empty', 'float32', [0, 3]).numel(), 0);

  // Written back, the file comes out byte for byte as the reference layout made it.
  assert.deepEqual(serializeSafetensors(tensors, metadata), new Uint8Array(readFileSync(FIXTURE)));
  for (const t of tensors.values()) t.dispose();
});

test('writing matches the byte sequences of the reference implementation', () => {
  const values = new Float32Array([0, 1, 2, 3, 4, 5]);
  // The reference's own test vectors: a 64-byte header needs no padding; one of 65 bytes gets 7 spaces.
  const a = serializeSafetensors({ 'attn.0': tensor(values, { shape: [1, 2, 3] }) });
  assert.deepEqual(a, concat(le64(64), ascii('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'), bytesOf(values)));
  const b = serializeSafetensors(new Map([['attn0', tensor(values, { shape: [1, 1, 2, 3] })]]));
  assert.deepEqual(b, concat(le64(72), ascii('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       '), bytesOf(values)));
  assert.deepEqual(serializeSafetensors({}), concat(le64(8), ascii('{}      ')));
  assert.deepEqual(serializeSafetensors({}, { framework: 'pt' }), concat(le64(40), ascii('{"__metadata__":{"framework":"pt"}}     ')));
});

function le64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

// ---- round trips ----------------------------------------------------------------------

test('every dtype round-trips through a file bit for bit, NaN payloads and -0 included', () => {
  const words16 = new Uint16Array([0x3c00, 0x8000, 0x7e01, 0xfc00, 0x0001, 0x7bff]); // 1, -0, NaN with payload, -inf, subnormal, max (as f16)
  const original: Record<string, Tensor> = {
    f32: tensor(new Float32Array(new Uint32Array([0x3f800000, 0x80000000, 0x7fc00001, 0xff800000, 0x00000001, 0x7f7fffff]).buffer), { shape: [2, 3] }),
    f64: tensor(new Float64Array([Math.PI, -0, NaN, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE])),
    f16: fromBytes(bytesOf(words16), [3, 2], 'float16'),
    bf16: fromBytes(bytesOf(words16), [6], 'bfloat16'),
    i64: tensor(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 123456789012345678n])),
    i32: tensor(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0])),
    i16: tensor(new Int16Array([-(2 ** 15), 2 ** 15 - 1])),
    i8: tensor(new Int8Array([-128, 127, 0, 5]), { shape: [2, 1, 2] }),
    u8: tensor(new Uint8Array([0, 255, 17])),
    b: fromBytes(new Uint8Array([1, 0, 0, 1]), [2, 2], 'bool'),
  };
  const path = freshPath();
  saveSafetensors(path, original, { epoch: '3' });
  const { tensors, metadata } = loadSafetensors(path);
  assert.deepEqual(metadata, { epoch: '3' });
  assert.deepEqual(new Set(tensors.keys()), new Set(Object.keys(original)));
  for (const [name, t] of Object.entries(original)) {
    const back = tensors.get(name)!;
    assert.equal(back.dtype, t.dtype, name);
    assert.deepEqual(back.shape, t.shape, name);
    assert.deepEqual(back.toBytes(), t.toBytes(), name);
  }
});

test('empty tensors and 0-d scalars of every dtype round-trip', () => {
  const dtypes: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
  const original: Record<string, Tensor> = {};
  for (const dtype of dtypes) {
    original[`${dtype}.empty`] = zeros([2, 0, 3], { dtype });
    original[`${dtype}.none`] = zeros([0], { dtype });
    original[`${dtype}.scalar`] = tensor(1, { dtype });
  }
  const { tensors } = parseSafetensors(serializeSafetensors(original));
  assert.equal(tensors.size, 30);
  for (const [name, t] of Object.entries(original)) {
    const back = tensors.get(name)!;
    assert.equal(back.dtype, t.dtype, name);
    assert.deepEqual(back.shape, t.shape, name);
    assert.deepEqual(back.toBytes(), t.toBytes(), name);
  }
  assert.equal(tensors.get('int64.scalar')!.item(), 1);
  assert.equal(tensors.get('bool.scalar')!.item(), true);
});

test('metadata round-trips, unicode and prototype-like keys included, and a file with none gives {}', () => {
  // fromEntries, because a literal {"__proto__": …} would set the prototype instead of a key.
  const metadata = Object.fromEntries([['__proto__', 'stays data'], ['name', 'Größe ✓ 𝔸'], ['empty', ''], ['json', '{"a": [1]}']]);
  const back = parseSafetensors(serializeSafetensors({ w: zeros([2]) }, metadata)).metadata;
  assert.deepEqual(back, metadata);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.equal(back['__proto__'], 'stays data');
  assert.deepEqual(parseSafetensors(serializeSafetensors({ w: zeros([2]) })).metadata, {});
});

test('the layout keeps every tensor aligned and the header a multiple of 8 bytes', () => {
  const bytes = serializeSafetensors({ c: zeros([3], { dtype: 'uint8' }), a: zeros([1], { dtype: 'float64' }), b: zeros([3], { dtype: 'float16' }), 'b.x': zeros([1], { dtype: 'int32' }) });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  // Descending alignment: F64 (8 bytes), I32, F16, U8.
  assert.deepEqual(Object.keys(header), ['a', 'b.x', 'b', 'c']);
  assert.deepEqual(Object.values(header).map((e: any) => e.data_offsets), [[0, 8], [8, 12], [12, 18], [18, 21]]);
});

test('strided views, tensors that require grad and a file read back from a subarray all work', () => {
  const base = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
  const transposed = base.transpose(0, 1); // a strided view: saved in its own row-major order
  const leaf = tensor([1.5, 2.5]).requiresGrad_(true);
  const bytes = serializeSafetensors({ t: transposed, leaf });
  // The same bytes at an odd offset inside a larger buffer.
  const shifted = new Uint8Array(bytes.byteLength + 3);
  shifted.set(bytes, 3);
  const { tensors } = parseSafetensors(shifted.subarray(3));
  assert.deepEqual(tensors.get('t')!.toArray(), [[1, 4], [2, 5], [3, 6]]);
  assert.deepEqual(tensors.get('leaf')!.toArray(), [1.5, 2.5]);
  assert.equal(tensors.get('leaf')!.requiresGrad, false);
});

test('the header may carry extra fields and padding; tensors may be listed in any order', () => {
  const data = bytesOf(new Float32Array([1, 2, 3]));
  // b before a in the JSON, an unknown field, and padding with spaces, tabs and a newline.
  const header = '{"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12],"note":"x"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}} \t\n  ';
  const { tensors } = parseSafetensors(build(header, data));
  assert.deepEqual([...tensors.keys()], ['a', 'b']);
  assert.deepEqual(tensors.get('b')!.toArray(), [2, 3]);
});

// ---- bad files ----------------------------------------------------------------------------

const F32x4 = bytesOf(new Float32Array([1, 2, 3, 4]));
const entry = (dtype: unknown, shape: unknown, offsets: unknown): unknown => ({ dtype, shape, data_offsets: offsets });

const badFiles: [string, Uint8Array, RegExp][] = [
  ['an empty file', new Uint8Array(0), /is 0 bytes long, too short/],
  ['a file shorter than 8 bytes', new Uint8Array(5), /is 5 bytes long, too short to hold even the 8-byte header length/],
  ['a header length above 100 MB', build({}, new Uint8Array(0), 100_000_001n), /header length 100000001 is larger than the 100 MB limit/],
  ['a header length of 2^64 - 1', build({}, new Uint8Array(0), 2n ** 64n - 1n), /larger than the 100 MB limit/],
  ['a header length past the end', build({}, new Uint8Array(0), 50n), /header length 50 runs past the end of the data \(10 bytes in all\)/],
  // Byte 10 is the 'a' inside the key; 0xff never occurs in UTF-8.
  ['invalid UTF-8', build('{"a":{}}').map((b, i) => (i === 10 ? 0xff : b)), /header is not valid UTF-8/],
  ['invalid JSON', build('{"a": {', F32x4), /header is not valid JSON/],
  ['a header that is an array', build([1, 2]), /header must be a JSON object, got \[1,2\]/],
  ['a header that is a number', build('42'), /header must be a JSON object, got number 42/],
  ['an entry that is not an object', build({ w: 'F32' }), /tensor 'w': entry must be an object with dtype, shape and data_offsets, got string "F32"/],
  ['a missing dtype', build({ w: { shape: [4], data_offsets: [0, 16] } }, F32x4), /tensor 'w': entry has no 'dtype'/],
  ['a missing shape', build({ w: { dtype: 'F32', data_offsets: [0, 16] } }, F32x4), /tensor 'w': entry has no 'shape'/],
  ['missing data_offsets', build({ w: { dtype: 'F32', shape: [4] } }, F32x4), /tensor 'w': entry has no 'data_offsets'/],
  ['a dtype that is not a string', build({ w: entry(6, [4], [0, 16]) }, F32x4), /tensor 'w': dtype must be a string, got number 6/],
  ['an unknown dtype', build({ w: entry('float32', [4], [0, 16]) }, F32x4), /tensor 'w': unknown dtype "float32"; expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL/],
  ['a dtype libtorch 1.13 lacks', build({ w: entry('U16', [8], [0, 16]) }, F32x4), /tensor 'w': dtype U16 is not supported/],
  ['an FP8 dtype', build({ w: entry('F8_E4M3', [16], [0, 16]) }, F32x4), /tensor 'w': dtype F8_E4M3 is not supported/],
  ['a negative dimension', build({ w: entry('F32', [-4], [0, 16]) }, F32x4), /tensor 'w': shape must be an array of non-negative integers, got \[-4\]/],
  ['a fractional dimension', build({ w: entry('F32', [2.5], [0, 16]) }, F32x4), /tensor 'w': shape must be an array of non-negative integers, got \[2.5\]/],
  ['a shape that is not an array', build({ w: entry('F32', '4', [0, 16]) }, F32x4), /tensor 'w': shape must be an array of non-negative integers, got string "4"/],
  ['a shape too large for any file', build({ w: entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], [0, 16]) }, F32x4), /tensor 'w': shape \[1073741824, 1073741824, 1073741824\] is too large/],
  ['offsets of the wrong arity', build({ w: entry('F32', [4], [0, 8, 16]) }, F32x4), /tensor 'w': data_offsets must be \[begin, end\] with non-negative integers, got \[0,8,16\]/],
  ['offsets that are strings', build({ w: entry('F32', [4], ['0', '16']) }, F32x4), /data_offsets must be \[begin, end\]/],
  ['negative offsets', build({ w: entry('F32', [4], [-16, 0]) }, F32x4), /data_offsets must be \[begin, end\] with non-negative integers, got \[-16,0\]/],
  ['offsets out of order', build({ w: entry('F32', [4], [16, 0]) }, F32x4), /tensor 'w': data_offsets \[16, 0\] are out of order/],
  ['offsets past the end', build({ w: entry('F32', [4], [8, 24]) }, F32x4), /tensor 'w': data_offsets \[8, 24\] run past the end of the data buffer \(16 bytes\)/],
  ['a byte length that disagrees with the shape', build({ w: entry('F32', [2, 2], [0, 12]) }, F32x4), /tensor 'w': data_offsets \[0, 12\] span 12 bytes but F32 \[2, 2\] needs 4 × 4 = 16/],
  ['overlapping tensors', build({ a: entry('F32', [3], [0, 12]), b: entry('F32', [1], [8, 12]) }, F32x4), /tensors 'a' \[0, 12\] and 'b' \[8, 12\] overlap/],
  ['a hole between tensors', build({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [12, 16]) }, F32x4), /bytes 4 to 12 of the data buffer belong to no tensor \(a hole after 'a' \[0, 4\]\)/],
  ['a hole at the start', build({ a: entry('F32', [2], [8, 16]) }, F32x4), /bytes 0 to 8 of the data buffer belong to no tensor \(a hole at the start\)/],
  ['trailing bytes no tensor owns', build({ a: entry('F32', [3], [0, 12]) }, F32x4), /the data buffer has 16 bytes but the tensors cover only 12/],
  ['metadata that is not an object', build({ __metadata__: ['pt'] }), /"__metadata__" must be an object mapping strings to strings, got \["pt"\]/],
  ['a metadata value that is not a string', build({ __metadata__: { epoch: 3 } }), /"__metadata__" value for key 'epoch' must be a string, got number 3/],
  ['a BOOL byte other than 0 or 1', build({ m: entry('BOOL', [4], [0, 4]) }, new Uint8Array([1, 0, 2, 1])), /tensor 'm': BOOL data holds the byte 2; only 0 and 1 are valid/],
];

for (const [what, bytes, pattern] of badFiles) {
  test(`a file with ${what} is refused with a message naming the file`, () => {
    const path = freshPath();
    writeFileSync(path, bytes);
    const live = liveTensors();
    assertThrowsWith(() => loadSafetensors(path), new RegExp(`safetensors file '${escape(path)}': `), pattern);
    // In memory, without a name, the message says so instead.
    assertThrowsWith(() => parseSafetensors(bytes), /^safetensors data: /, pattern);
    assert.equal(liveTensors(), live, 'a refused file leaves no tensors behind');
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('a tensor that fails late disposes the tensors made before it', () => {
  // 'a' (F32) is created first; the BOOL tensor after it is refused.
  const bytes = build({ a: entry('F32', [1], [0, 4]), m: entry('BOOL', [2], [4, 6]) }, new Uint8Array([0, 0, 128, 63, 1, 7]));
  const live = liveTensors();
  assertThrowsWith(() => parseSafetensors(bytes, 'late.safetensors'), /safetensors file 'late.safetensors': tensor 'm': BOOL data holds the byte 7/);
  assert.equal(liveTensors(), live);
});

test('loading a missing file, a directory or a non-string path says what is wrong', () => {
  const missing = join(dir, 'no-such-dir', 'weights.safetensors');
  assertThrowsWith(() => loadSafetensors(missing), new RegExp(`loadSafetensors: file not found: '${escape(missing)}'`));
  assertThrowsWith(() => loadSafetensors(dir), new RegExp(`loadSafetensors: '${escape(dir)}' is not a regular file`));
  assertThrowsWith(() => loadSafetensors(42 as unknown as string), /loadSafetensors: path must be a non-empty string, got number 42/);
});

// ---- bad saves: refused, and the file already there is untouched -------------------------------

/** Runs a save that must fail and checks the message, the old file's bytes, and that no temporary file is left. */
function assertSaveRefused(save: (path: string) => void, ...patterns: RegExp[]): void {
  const sub = mkdtempSync(join(dir, 'save-'));
  const path = join(sub, 'model.safetensors');
  const old = serializeSafetensors({ kept: tensor([1, 2, 3]) }, { version: 'old' });
  writeFileSync(path, old);
  assertThrowsWith(() => save(path), ...patterns);
  assert.deepEqual(new Uint8Array(readFileSync(path)), old, 'the old file is untouched');
  assert.deepEqual(readdirSync(sub), ['model.safetensors'], 'no temporary file is left behind');
  assert.deepEqual(loadSafetensors(path).tensors.get('kept')!.toArray(), [1, 2, 3]);
}

test('saving a value that is not a Tensor leaves the old file untouched', () => {
  assertSaveRefused((p) => saveSafetensors(p, { w: tensor([1]), b: [1, 2] as unknown as Tensor }), /saveSafetensors '.*model.safetensors': the value for 'b' is not a Tensor: got \[1,2\]/);
  assertSaveRefused((p) => saveSafetensors(p, new Map([['w', null as unknown as Tensor]])), /the value for 'w' is not a Tensor: got null/);
});

test('saving a disposed tensor leaves the old file untouched', () => {
  const t = tensor([1, 2]);
  t.dispose();
  assertSaveRefused((p) => saveSafetensors(p, { w: t }), /saveSafetensors '.*': tensor 'w' has been disposed/);
});

test('saving a tensor named __metadata__ leaves the old file untouched', () => {
  assertSaveRefused((p) => saveSafetensors(p, { __metadata__: tensor([1]) }), /'__metadata__' is reserved for the metadata and cannot name a tensor/);
});

test('saving metadata that is not strings leaves the old file untouched', () => {
  assertSaveRefused((p) => saveSafetensors(p, { w: tensor([1]) }, { epoch: 3 as unknown as string }), /metadata value for 'epoch' must be a string, got number 3/);
  assertSaveRefused((p) => saveSafetensors(p, { w: tensor([1]) }, new Map() as unknown as Record<string, string>), /metadata must be a plain object of strings, got a Map/);
});

test('saving something other than a Map or an object of tensors leaves the old file untouched', () => {
  assertSaveRefused((p) => saveSafetensors(p, [tensor([1])] as unknown as Record<string, Tensor>), /tensors must be a Map or a plain object of name → Tensor, got \[/);
  assertSaveRefused((p) => saveSafetensors(p, tensor([1]) as unknown as Record<string, Tensor>), /tensors must be a Map or a plain object of name → Tensor, got a Tensor/);
  assertSaveRefused((p) => saveSafetensors(p, new Map([[7, tensor([1])]]) as unknown as Map<string, Tensor>), /tensor names must be strings, got number 7/);
});

test('a save whose rename fails (the target is a directory) cleans up its temporary file', () => {
  const sub = mkdtempSync(join(dir, 'save-'));
  const target = join(sub, 'model.safetensors');
  mkdirSync(target);
  assertThrowsWith(() => saveSafetensors(target, { w: tensor([1]) }), new RegExp(`could not write '${escape(target)}'`), /the file there \(if any\) is unchanged/);
  assert.deepEqual(readdirSync(sub), ['model.safetensors']);
  assert.deepEqual(readdirSync(target), []);
});

test('saving into a directory that does not exist names the path', () => {
  const target = join(dir, 'absent', 'model.safetensors');
  assertThrowsWith(() => saveSafetensors(target, { w: tensor([1]) }), new RegExp(`could not write '${escape(target)}': ENOENT`));
});

test('a successful save replaces the old file whole', () => {
  const path = freshPath();
  saveSafetensors(path, { old: tensor([1]) });
  saveSafetensors(path, { new: tensor([2, 3]) }, { step: '2' });
  const { tensors, metadata } = loadSafetensors(path);
  assert.deepEqual([...tensors.keys()], ['new']);
  assert.deepEqual(tensors.get('new')!.toArray(), [2, 3]);
  assert.deepEqual(metadata, { step: '2' });
});

// ---- atomic writes ------------------------------------------------------------------------------

test('writeFileAtomic writes bytes and strings, replacing what was there', () => {
  const path = join(mkdtempSync(join(dir, 'atomic-')), 'out.txt');
  writeFileAtomic(path, 'first ✓');
  assert.equal(readFileSync(path, 'utf8'), 'first ✓');
  writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.deepEqual(new Uint8Array(readFileSync(path)), new Uint8Array([1, 2, 3]));
  assert.deepEqual(readdirSync(dirname(path)), ['out.txt']);
  assertThrowsWith(() => writeFileAtomic(path, 5 as unknown as string), /writeFileAtomic: data must be a Uint8Array or a string, got number/);
});

test('a write that fails half-way leaves the old file and no temporary file', () => {
  const sub = mkdtempSync(join(dir, 'atomic-'));
  const path = join(sub, 'out.bin');
  writeFileSync(path, 'old contents');
  function* chunks(): Generator<Uint8Array> {
    yield new Uint8Array(1 << 16); // 64 KiB written to the temporary file before the failure
    throw new Error('disk on fire');
  }
  assertThrowsWith(() => writeChunksAtomic(path, chunks()), new RegExp(`could not write '${escape(path)}': disk on fire`));
  assert.equal(readFileSync(path, 'utf8'), 'old contents');
  assert.deepEqual(readdirSync(sub), ['out.bin']);
});
