// netlab predict on BERT: input_ids, token_type_ids and attention_mask in,
// the outputs of the class the weights come from out (read off their keys, as
// a file Hugging Face wrote has no NetLab metadata), equal to the model in
// this process; bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { arange, manualSeed, noGrad, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { bertModel, bertNamedOutputs, type BertBuildOptions } from '../../src/models/bert.js';
import { assertClose, netlab, writeInputFile } from '../helpers.js';

let dir: string;
const weights: Record<string, string> = {};

// Files as Hugging Face writes them: no metadata, the position-id buffer, no tied copy of the word embeddings.
function saveLikeHuggingFace(path: string, options: BertBuildOptions): void {
  const model = bertModel('bert_tiny', options);
  scope(() => {
    const sd = Object.fromEntries([...model.stateDict()].filter(([k]) => k !== 'cls.predictions.decoder.weight'));
    saveSafetensors(path, { ...sd, 'bert.embeddings.position_ids': arange(512, { dtype: 'int64' }).unsqueeze(0) });
  });
  model.dispose();
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-bert-cli-'));
  manualSeed(0);
  for (const [name, options] of [['pretraining', {}], ['sequence', { head: 'sequence-classification', numLabels: 3 }]] as [string, BertBuildOptions][]) {
    weights[name] = join(dir, `${name}.safetensors`);
    saveLikeHuggingFace(weights[name], options);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

const inputFile = (tensors: Record<string, Tensor>) => writeInputFile(dir, tensors);

const IDS = [[101, 7592, 2088, 102, 0], [101, 2023, 102, 2003, 102], [101, 1037, 102, 0, 0]];
const TYPES = [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 0]];
const MASK = [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];

for (const [name, expected] of [['pretraining', { prediction_logits: [3, 5, 30522], seq_relationship_logits: [3, 2] }], ['sequence', { logits: [3, 3] }]] as const) {
  test(`predict --arch bert_tiny with ${name} weights writes ${Object.keys(expected).join(' and ')}, equal to the model`, () => {
    const inputs = () => ({ inputIds: tensor(IDS, { dtype: 'int64' }), tokenTypeIds: tensor(TYPES, { dtype: 'int64' }), attentionMask: tensor(MASK, { dtype: 'int64' }) });
    const i = inputs();
    const input = inputFile({ input_ids: i.inputIds, token_type_ids: i.tokenTypeIds, attention_mask: i.attentionMask });
    const output = join(dir, `${name}-out.safetensors`);
    const run = netlab('predict', '--arch', 'bert_tiny', '--weights', weights[name], '--input', input, '--output', output, '--batch-size', '2', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).n, 3);
    const file = loadSafetensors(weights[name]);
    const model = bertModel('bert_tiny', name === 'pretraining' ? {} : { head: 'sequence-classification', numLabels: 3 });
    model.loadStateDict(file.tensors);
    model.eval();
    const got = loadSafetensors(output);
    try {
      assert.deepEqual([...got.tensors.keys()].sort(), Object.keys(expected).sort());
      scope(() => {
        const want = noGrad(() => bertNamedOutputs(model, inputs()));
        for (const [key, shape] of Object.entries(expected)) {
          assert.deepEqual(got.tensors.get(key)!.shape, shape, key);
          assertClose(got.tensors.get(key)!, want[key], { rtol: 1e-5, atol: 1e-5 }, key);
        }
      });
    } finally {
      for (const t of [...file.tensors.values(), ...got.tensors.values()]) t.dispose();
      model.dispose();
    }
  });
}

test('predict on BERT refuses missing, out-of-vocabulary and mismatched inputs, and weights of another size', () => {
  const expect = (tensors: Record<string, Tensor>, pattern: RegExp, arch = 'bert_tiny') => {
    const run = netlab('predict', '--arch', arch, '--weights', weights.pretraining, '--input', inputFile(tensors), '--output', join(dir, 'o.safetensors'));
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, pattern);
  };
  expect({ ids: tensor([[101, 102]], { dtype: 'int64' }) }, /has no tensor 'input_ids'/);
  expect({ input_ids: tensor([[101, 30522]], { dtype: 'int64' }) }, /input_ids holds values in \[101, 30522\]; token ids must lie in the vocabulary of 30522/);
  expect({ input_ids: tensor([[101, 102]], { dtype: 'int64' }), attention_mask: tensor([[1, 1, 1]], { dtype: 'int64' }) }, /'attention_mask' must have the shape of 'input_ids'/);
  expect({ input_ids: tensor([[101, 102], [101, 102], [101, 102]], { dtype: 'int64' }), token_type_ids: tensor([[0, 1], [0, 1]], { dtype: 'int64' }) }, /'token_type_ids' must have the shape of 'input_ids'/);
  expect({ input_ids: tensor([[101, 102]], { dtype: 'int64' }), token_type_ids: tensor([[0, 2]], { dtype: 'int64' }) }, /segment ids must be 0 … 1/);
  expect({ input_ids: tensor([[101, 102]], { dtype: 'int64' }) }, /does not fit 'bert_mini'.*size mismatch/s, 'bert_mini');
});
