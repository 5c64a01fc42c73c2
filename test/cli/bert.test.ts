// netlab predict on BERT: input_ids, token_type_ids and attention_mask in,
// the outputs of the class the weights come from out (read off their keys, as
// a file Hugging Face wrote has no NetLab metadata), equal to the model in
// this process; bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

test('reproduce bert at a toy budget trains a vocabulary, pre-trains, fine-tunes against scratch and TF-IDF, and writes results.json and an offline report', () => {
  const out = join(dir, 'reproduce');
  const run = netlab('reproduce', 'bert', '--out', out, '--preset', 'bert_tiny', '--corpora', 'moby-dick', '--no-messages', '--groups', 'hard-ham-1,spam-1', '--vocab-size', '1500', '--pretrain-steps', '3',
    '--labels', '40,all', '--finetune-epochs', '1', '--finetune-min-steps', '2', '--json');
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.vocabulary.size, 1500);
  assert.ok(result.vocabulary.heldoutTokensPerWord >= 1, `${result.vocabulary.heldoutTokensPerWord} tokens per word`);
  assert.equal(result.pretraining.steps, 3);
  assert.deepEqual(result.pretraining.curve.map((p: { step: number }) => p.step), [0, 3], 'evaluated before and after');
  for (const p of result.pretraining.curve) for (const key of ['mlmAccuracy', 'mlmMajorityAccuracy', 'nspAccuracy', 'nspMajorityAccuracy']) assert.ok(p[key] >= 0 && p[key] <= 1, `${key} ${p[key]}`);
  assert.deepEqual(result.fineTuning.map((r: { labels: number }) => r.labels), [40, result.data.trainMessages]);
  for (const r of result.fineTuning)
    for (const cell of [r.pretrained, r.scratch, r.tfidf]) {
      assert.equal(cell.count, result.data.testMessages);
      assert.ok(cell.accuracy >= 0 && cell.accuracy <= 1 && cell.f1 >= 0 && cell.f1 <= 1);
    }
  assert.ok(result.data.testSpam > 0 && result.data.testSpam < result.data.testMessages);
  for (const file of ['vocab.txt', 'pretrained.safetensors', 'results.json']) assert.ok(existsSync(join(out, file)), file);
  assert.equal(readFileSync(join(out, 'vocab.txt'), 'utf8').split('\n').filter(Boolean).length, 1500);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const heading of ['Vocabulary', 'Pre-training', 'Fine-tuning on SpamAssassin']) assert.ok(html.includes(`<h2>${heading}`), heading);
  assert.ok(!/<script[^>]+src=/.test(html), 'no external scripts: the report opens offline');
});

test('reproduce bert refuses bad flags with clear errors', () => {
  const cases: [string[], RegExp][] = [
    [['--preset', 'bert_base_uncased'], /--preset must be one of bert_tiny, bert_mini, bert_small, bert_medium, got 'bert_base_uncased'/],
    [['--corpora', 'sotu,wikipedia'], /--corpora must be one of sotu, moby-dick, got 'wikipedia'/],
    [['--groups', 'easy-ham-1,spam-3'], /--groups must be one of easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2, got 'spam-3'/],
    [['--groups', 'spam-1,spam-2'], /--groups must hold ham and spam groups, got spam-1, spam-2/],
    [['--labels', '100,1'], /--labels must be >= 2, got 1/],
    [['--labels', '100,most'], /--labels must be a number, got 'most'/],
    [['--pretrain-steps', '0'], /--pretrain-steps must be >= 1, got 0/],
    [['--vocab-size', '50'], /--vocab-size must be >= 100, got 50/],
    [['--finetune-lr', '0'], /--finetune-lr must be > 0, got 0/],
  ];
  for (const [flags, pattern] of cases) {
    const run = netlab('reproduce', 'bert', '--out', join(dir, 'bad'), ...flags);
    assert.equal(run.code, 2, `${flags.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
  }
  assert.ok(!existsSync(join(dir, 'bad')), 'nothing is written for a refused run');
});
