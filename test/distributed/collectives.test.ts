// Collectives between NetLab processes (groups of 2 and 3) and between NetLab
// and PyTorch processes, compared with the values torch.distributed defines.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort, PYTHON, runRanks, type RankResult } from './ranks.js';

const DTYPES = ['float32', 'float64', 'float16', 'int64', 'int32', 'uint8'];

function succeeded(results: RankResult[]): void {
  for (const r of results) assert.equal(r.code, 0, `rank ${r.rank} exited with ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
}

for (const size of [2, 3]) {
  test(`collectives over ${size} processes equal torch.distributed's definitions for ${DTYPES.join(', ')}`, async () => {
    const results = await runRanks('collectives', size, { args: { dtypes: DTYPES }, timeoutMs: 60_000 });
    succeeded(results);
    for (const { result, rank } of results) {
      assert.equal(result.rank, rank);
      assert.equal(result.size, size);
      assert.equal(result.localRank, rank, 'LOCAL_RANK is read from the environment');
      for (const dtype of DTYPES) {
        const rows = Array.from({ length: size }, (_, r) => (dtype === 'uint8' ? [r + 1, 2, 3] : [r + 1, 2, -(r + 1)]));
        const column = (i: number) => rows.map((row) => row[i]);
        const expected = {
          sum: [0, 1, 2].map((i) => column(i).reduce((a, b) => a + b)),
          product: [0, 1, 2].map((i) => column(i).reduce((a, b) => a * b)),
          min: [0, 1, 2].map((i) => Math.min(...column(i))),
          max: [0, 1, 2].map((i) => Math.max(...column(i))),
          broadcasts: Array.from({ length: size }, (_, src) => [src * 10 + 1, src * 10 + 2]),
          gathered: Array.from({ length: size }, (_, r) => [r, r + 1]),
        };
        assert.deepEqual(result[dtype], expected, `${dtype} on rank ${rank}`);
      }
      const total = (i: number) => Array.from({ length: size }, (_, r) => i + r).reduce((a, b) => a + b);
      assert.deepEqual(result.inFlight, Array.from({ length: 8 }, (_, i) => total(i)), 'eight all-reduces in flight at once');
      assert.equal(result.initializedAfterDestroy, false);
    }
  });
}

test('tcp:// and file:// rendezvous form the same group as env://', async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'netlab-filestore-'));
  try {
    for (const initMethod of [`tcp://127.0.0.1:${port}`, `file://${join(dir, 'store')}`]) {
      const results = await runRanks('collectives', 2, { args: { dtypes: ['int64'], initMethod }, timeoutMs: 60_000 });
      succeeded(results);
      for (const { result } of results) assert.deepEqual(result.int64.sum, [3, 4, -3], initMethod);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const torchDistributed = spawnSync(PYTHON, ['-c', 'import torch.distributed as d; assert d.is_available() and d.is_gloo_available()'], { encoding: 'utf8' });
const noTorch = torchDistributed.status === 0 ? false : `python3-torch with torch.distributed (Gloo) is not installed at ${PYTHON}: ${(torchDistributed.stderr || torchDistributed.error?.message || '').trim().split('\n').pop()}`;
if (noTorch) console.log(`# skipping the PyTorch interoperability tests: ${noTorch}`);

for (const layout of [['node', 'python'], ['python', 'node'], ['node', 'python', 'node']] as const) {
  test(`a group of ${layout.join(' + ')} processes (rank 0 first) all-reduces and broadcasts to identical results`, { skip: noTorch }, async () => {
    const results = await runRanks('interop', layout.length, { ranks: layout.map((kind) => ({ kind })), timeoutMs: 60_000 });
    succeeded(results);
    const size = layout.length;
    const ranks = Array.from({ length: size }, (_, r) => r);
    const expected = {
      f32: [ranks.reduce((s, r) => s + r + 1, 0), ranks.reduce((s, r) => s + 0.5 * (r + 1), 0), ranks.reduce((s, r) => s - 3.25 * r, 0)],
      f64: [Math.PI * size, 1e-3 * (size - 1)],
      i64: [ranks.reduce((s, r) => s + r + 7, 0), ranks.reduce((s, r) => s - r, 0)],
      b0: [1.5, 2.5],
      b1: [(size - 1) * 100 + 1, (size - 1) * 100 + 2],
    };
    for (const r of results) {
      assert.deepEqual(Object.keys(r.result).sort(), Object.keys(expected).sort(), `rank ${r.rank} (${layout[r.rank]})`);
      for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
        // float32 sums of these values are exact; the float64 max is exact.
        assert.deepEqual(r.result[key], expected[key], `${key} on rank ${r.rank} (${layout[r.rank]})`);
      }
    }
  });
}
