// netlab predict on the paper's Transformer: src and tgt token ids in, the
// teacher-forced logits out, equal to the model in this process; bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { manualSeed, noGrad, scope, tensor, zeros, type Tensor } from '../../src/tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { transformerModel } from '../../src/models/transformer.js';
import { assertClose, netlab, writeInputFile } from '../helpers.js';

let dir: string;
let weights: string;
// transformer_base's layout at a small size: the weights file records the build options, as netlab's own files do.
const SMALL = { srcVocab: 20, tgtVocab: 20, dModel: 16, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 32, dropout: 0.1 };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-transformer-cli-'));
  weights = join(dir, 'small.safetensors');
  manualSeed(0);
  const model = transformerModel('transformer_base', SMALL);
  scope(() => saveSafetensors(weights, model.stateDict(), { arch: 'transformer_base', build_options: JSON.stringify(SMALL) }));
  model.dispose();
});
after(() => rmSync(dir, { recursive: true, force: true }));

const inputFile = (tensors: Record<string, Tensor>) => writeInputFile(dir, tensors);

test('predict --arch transformer_base writes the teacher-forced logits [N, T, V] of the model', () => {
  const src = tensor([[3, 4, 5, 0], [6, 7, 0, 0], [8, 9, 10, 11]], { dtype: 'int64' });
  const tgt = tensor([[1, 12, 13], [1, 14, 0], [1, 15, 16]], { dtype: 'int64' });
  const input = inputFile({ src: src.clone(), tgt: tgt.clone() });
  const output = join(dir, 'logits.safetensors');
  const run = netlab('predict', '--arch', 'transformer_base', '--weights', weights, '--input', input, '--output', output, '--batch-size', '2', '--json');
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).n, 3);
  const file = loadSafetensors(weights);
  const model = transformerModel('transformer_base', SMALL);
  model.loadStateDict(file.tensors);
  model.eval();
  const got = loadSafetensors(output);
  try {
    const logits = got.tensors.get('logits')!;
    assert.deepEqual(logits.shape, [3, 3, 20]);
    noGrad(() => scope(() => assertClose(logits, model.forward(src, tgt), { rtol: 1e-5, atol: 1e-5 })));
  } finally {
    for (const t of [...file.tensors.values(), ...got.tensors.values(), src, tgt]) t.dispose();
    model.dispose();
  }
});

test('predict on the Transformer refuses missing, mismatched and out-of-vocabulary inputs', () => {
  const expect = (tensors: Record<string, Tensor>, pattern: RegExp) => {
    const run = netlab('predict', '--arch', 'transformer_base', '--weights', weights, '--input', inputFile(tensors), '--output', join(dir, 'o.safetensors'));
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, pattern);
  };
  expect({ src: tensor([[3, 4]], { dtype: 'int64' }) }, /has no tensor 'tgt'/);
  expect({ src: tensor([[3, 4]], { dtype: 'int64' }), tgt: tensor([[1], [2]], { dtype: 'int64' }) }, /'src' \[N, S\] and 'tgt' \[N, T\] with the same N/);
  expect({ src: tensor([[3, 40]], { dtype: 'int64' }), tgt: tensor([[1]], { dtype: 'int64' }) }, /src holds token ids in \[3, 40\], outside the vocabulary of 20/);
  expect({ src: zeros([1, 2]), tgt: tensor([[1]], { dtype: 'int64' }) }, /src must hold integer token ids/);
  const other = netlab('predict', '--arch', 'transformer_big', '--weights', weights, '--input', inputFile({ src: tensor([[3]], { dtype: 'int64' }), tgt: tensor([[1]], { dtype: 'int64' }) }), '--output', join(dir, 'o.safetensors'));
  assert.equal(other.code, 1);
  assert.match(other.stderr, /holds 'transformer_base' weights, not 'transformer_big'/);
});
