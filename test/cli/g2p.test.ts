// netlab g2p and netlab reproduce transformer: words in, pronunciations out,
// equal to the model in this process; a short reproduction end to end; bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { manualSeed, scope, tensor } from '../../src/tensor/index.js';
import { loadCmudict } from '../../src/data/cmudict.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { pronounce } from '../../src/models/g2p.js';
import { transformerModel } from '../../src/models/transformer.js';
import { g2pPairs } from '../../src/experiments/transformer-g2p.js';
import { trainTransformer } from '../../src/train/seq2seq.js';
import { netlab, netlabRunner } from '../helpers.js';

const TINY = { dModel: 64, nhead: 4, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 128, dropout: 0 };
let dir: string;
let weights: string;
let words: string[];
let expected: string[][];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-g2p-'));
  weights = join(dir, 'g2p.safetensors');
  const entries = loadCmudict({ split: 'train' }).filter((e) => e.references.length === 1 && e.word.length <= 5 && /^[A-Z]+$/.test(e.word)).slice(0, 16);
  manualSeed(0);
  const model = transformerModel('transformer_g2p', TINY);
  trainTransformer({ model, pairs: g2pPairs(entries), maxTokens: 256, epochs: 60, warmupSteps: 30, lrFactor: 0.25, labelSmoothing: 0.1, seed: 0 });
  scope(() => saveSafetensors(weights, model.stateDict(), { arch: 'transformer_g2p', build_options: JSON.stringify(TINY) }));
  words = entries.slice(0, 6).map((e) => e.word);
  expected = pronounce(model, words, { beamSize: 4 });
  model.dispose();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('g2p WORD… prints word<TAB>phonemes lines, the beam-4 output of the same model in this process', () => {
  const run = netlab('g2p', '--weights', weights, ...words);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, words.map((w, i) => `${w}\t${expected[i].join(' ')}\n`).join(''));
  const json = netlab('g2p', '--weights', weights, '--json', words[0].toLowerCase());
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).pronunciations, [expected[0]]);
});

test('g2p --input FILE --output FILE converts a word list to a TSV, blank lines skipped, any case', () => {
  const input = join(dir, 'words.txt');
  writeFileSync(input, `${words[0].toLowerCase()}\n\n${words.slice(1).join('\r\n')}\n`);
  const output = join(dir, 'prons.tsv');
  const run = netlab('g2p', '--weights', weights, '--input', input, '--output', output);
  assert.equal(run.code, 0, run.stderr);
  const lines = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => l.split('\t'));
  assert.deepEqual(lines.map(([w]) => w.toUpperCase()), words);
  assert.deepEqual(lines.map(([, p]) => p), expected.map((p) => p.join(' ')));
});

test('g2p refuses bad input with a clear error, and leaves the input file alone', () => {
  const input = join(dir, 'keep.txt');
  writeFileSync(input, 'HELLO\nW0RLD\n');
  const other = join(dir, 'base.safetensors');
  scope(() => saveSafetensors(other, { 'src_embed.weight': tensor([[0]]) }, { arch: 'transformer_base' }));
  const unlabelled = join(dir, 'unlabelled.safetensors');
  scope(() => saveSafetensors(unlabelled, { 'src_embed.weight': tensor([[0]]) }));
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '\n\n');
  const cases: [string[], number, RegExp][] = [
    [[], 2, /no words; give them as arguments/],
    [['--input', input, 'HELLO'], 2, /give words or --input FILE, not both/],
    [['--beam', '0', 'HELLO'], 2, /--beam must be >= 1, got 0/],
    [['--beam', '1.5', 'HELLO'], 2, /--beam must be a whole number/],
    [['--batch-size', 'x', 'HELLO'], 2, /--batch-size/],
    [['--input', input, '--output', input], 2, /would overwrite the --input file/],
    [['--color', 'HELLO'], 2, /Unknown option '--color'/],
    [['HELLO', 'W0RLD'], 1, /word 2: .*'W0RLD' has the character "0"/],
    [[''], 1, /word 1: .*expected a word, got ""/],
    [['--input', input], 1, /keep\.txt, line 2: .*'W0RLD' has the character "0"/],
    [['--input', join(dir, 'missing.txt')], 1, /cannot read --input .*missing\.txt \(ENOENT\)/],
    [['--input', empty], 1, /holds no words/],
  ];
  for (const [args, code, pattern] of cases) {
    const run = netlab('g2p', '--weights', weights, ...args);
    assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern, args.join(' '));
  }
  const weightCases: [string[], number, RegExp][] = [
    [['HELLO'], 2, /--weights FILE is required/],
    [['--weights', join(dir, 'nothing.safetensors'), 'HELLO'], 1, /weights file not found/],
    [['--weights', other, 'HELLO'], 1, /holds 'transformer_base' weights, not 'transformer_g2p'/],
    [['--weights', unlabelled, 'HELLO'], 1, /does not fit 'transformer_g2p'/],
  ];
  for (const [args, code, pattern] of weightCases) {
    const run = netlab('g2p', ...args);
    assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern, args.join(' '));
  }
  assert.equal(readFileSync(input, 'utf8'), 'HELLO\nW0RLD\n');
});

test('reproduce transformer: a short run writes the model, results.json and report.html; netlab g2p reads the model', () => {
  const out = join(dir, 'reproduce');
  const run = netlabRunner({ timeout: 300_000 })(
    'reproduce', 'transformer', '--out', out, '--minutes', '0.05', '--ablation-steps', '2', '--test-n', '12', '--validation-n', '12', '--snapshot-minutes', '0.01', '--max-tokens', '1024', '--json',
  );
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(result.data.testWords, 12);
  for (const decoding of ['greedy', 'beam']) assert.ok(result.test[decoding].wer >= 0 && result.test[decoding].wer <= 1 && result.test[decoding].per >= 0, decoding);
  assert.deepEqual(result.table3.map((r: { name: string; steps: number }) => [r.name, r.steps]), [['base', 2], ['(A)', 2], ['(D)', 2], ['(E)', 2]]);
  assert.ok(result.training.averagedSteps.length >= 1 && result.training.steps === result.training.lrs.length);
  assert.equal(result.attention.length, 6);
  assert.ok(result.attention[0].weights.length === result.attention[0].phonemes.length && result.attention[0].weights[0].length === result.attention[0].letters.length);
  const report = readFileSync(join(out, 'report.html'), 'utf8');
  for (const heading of ['Test split', 'Checkpoint averaging', 'Table 3 at this scale', 'Encoder–decoder attention']) assert.ok(report.includes(heading), heading);
  assert.ok(!report.includes('<script src='), 'the report loads nothing from the network');
  const g2p = netlab('g2p', '--weights', join(out, 'transformer-g2p.safetensors'), '--beam', '1', 'HELLO');
  assert.equal(g2p.code, 0, g2p.stderr);
  assert.match(g2p.stdout, /^HELLO\t[A-Z ]*\n$/);
});

test('reproduce transformer refuses impossible settings before training', () => {
  const cases: [string[], RegExp][] = [
    [['--minutes', '0'], /--minutes must be > 0/],
    [['--beam', '0'], /--beam must be >= 1/],
    [['--label-smoothing', '1'], /--label-smoothing must be < 1/],
    [['--max-tokens', '10'], /--max-tokens must be >= 256/],
    [['--average-last', '0'], /--average-last must be >= 1/],
    [['--test-n', '0'], /--test-n must be >= 1/],
    [['--ablation-steps', '1.5'], /--ablation-steps must be a whole number/],
  ];
  for (const [args, pattern] of cases) {
    const run = netlab('reproduce', 'transformer', '--out', join(dir, 'never'), ...args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern, args.join(' '));
  }
  assert.ok(!existsSync(join(dir, 'never')), 'nothing is written');
});
