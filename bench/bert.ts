// BERT (Devlin et al., 2019): bert_base_uncased with both pre-training heads
// (src/models/bert.ts) against the same model in PyTorch (bench/bert.py, the
// Hugging Face layout of test/fixtures/make_bert_fixtures.py) on the weights
// NetLab drew, at batch 8 × 128 tokens. Three measurements:
//   forward   both heads in evaluation mode without gradients: prediction
//             logits [8, 128, 30522] and next-sentence logits [8, 2];
//   train     one pre-training step in training mode (dropout 0.1): the
//             masked-LM loss over 15% of the positions (the decoder only on
//             those, on both sides) plus the next-sentence loss, backward,
//             one AdamW step (lr 1e-4, β 0.9, 0.999, ε 1e-6, decay 0.01);
//   tokenize  WordPiece throughput in MB of UTF-8 per second over the State
//             of the Union corpus: NetLab's BertTokenizer against the pure-JS
//             @huggingface/tokenizers, both on one vocabulary of 8,192
//             tokens trained here on the corpus, checked to give the same ids.
// Prints the median ms of each side and the ratio NetLab/PyTorch.
// NETLAB_BENCH_QUICK=1 runs batch 2 × 16, once per side, over a tenth of the
// corpus: its figures mean nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getNumThreads, manualSeed, noGrad, scope, tensor } from '../src/index.js';
import { loadCorpus } from '../src/data/corpora.js';
import { saveSafetensors } from '../src/io/safetensors.js';
import { bertModel, type BertForPreTraining } from '../src/models/bert.js';
import { AdamW } from '../src/optim/adam.js';
import { BertTokenizer, BERT_SPECIAL_TOKENS } from '../src/text/bert-tokenizer.js';
import { trainWordPiece } from '../src/text/wordpiece-trainer.js';
import { IGNORE, pretrainingLoss } from '../src/train/bert.js';
import { weightDecayGroups } from '../src/train/mae.js';
import { compare, median, PyTorchWorker, QUICK, report, reportComparison, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

const VOCAB = 30522;
const BATCH = QUICK ? 2 : 8;
const LENGTH = QUICK ? 16 : 128;
const TIMING: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 1, calls: 1 } : { warmupBlocks: 1, blocks: 5, calls: 1 };

/** Integers both sides compute (bench/bert.py too) at flat index k: (k·7919 + offset) mod m. */
function series(count: number, offset: number, m: number): number[] {
  return Array.from({ length: count }, (_, k) => (k * 7919 + offset) % m);
}

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const model = bertModel('bert_base_uncased') as BertForPreTraining;
const optimizer = new AdamW(weightDecayGroups(model, 0.01), { lr: 1e-4, betas: [0.9, 0.999], eps: 1e-6 });
const shape = [BATCH, LENGTH];
// Token ids 5…30521 (no special token), segments A then B at the middle, every position attended, 15% of the positions labelled.
const inputIds = tensor(series(BATCH * LENGTH, 0, VOCAB - 5).map((v) => v + 5), { dtype: 'int64', shape }).keep();
const tokenTypeIds = tensor(Array.from({ length: BATCH * LENGTH }, (_, k) => Number(k % LENGTH >= LENGTH / 2)), { dtype: 'int64', shape }).keep();
const attentionMask = tensor(Array(BATCH * LENGTH).fill(1), { dtype: 'int64', shape }).keep();
const mlmLabels = tensor(series(BATCH * LENGTH, 3, 100).map((v, k) => (v < 15 ? (k * 31) % VOCAB : IGNORE)), { dtype: 'int64', shape }).keep();
const nspLabels = tensor(series(BATCH, 1, 2), { dtype: 'int64' }).keep();
const folder = mkdtempSync(join(tmpdir(), 'netlab-bench-bert-'));
const weights = join(folder, 'bert_base_uncased.safetensors');
scope(() => saveSafetensors(weights, model.stateDict()));

const forward = (calls: number) => {
  model.eval();
  for (let i = 0; i < calls; i++) noGrad(() => scope(() => model.forward({ inputIds, tokenTypeIds, attentionMask })));
};
const train = (calls: number) => {
  model.train();
  for (let i = 0; i < calls; i++)
    scope(() => {
      optimizer.zeroGrad();
      pretrainingLoss(model, inputIds, tokenTypeIds, attentionMask, mlmLabels, nspLabels).backward();
      optimizer.step();
    });
};

const worker = new PyTorchWorker('bert.py', [String(threads), weights, String(BATCH), String(LENGTH)]);
try {
  reportThreads(threads);
  report('batch', BATCH);
  report('tokens_per_sequence', LENGTH);
  // The forward pass first, while both sides hold the same weights; the sides' logits are compared through a checksum.
  const forwardTimes = await compare(worker, 'forward', forward, TIMING);
  reportComparison('forward', forwardTimes);
  const [pytorchSum] = await worker.measure('checksum', 0);
  const netlabSum = noGrad(() => scope(() => model.forward({ inputIds, tokenTypeIds, attentionMask }).predictionLogits.abs().mean().item()));
  report('forward_same_logits', Number(Math.abs(netlabSum - pytorchSum) <= 1e-4 * Math.abs(pytorchSum)));
  const trainTimes = await compare(worker, 'train', train, TIMING);
  reportComparison('train', trainTimes);
} finally {
  worker.close();
  optimizer.dispose();
  model.dispose();
  rmSync(folder, { recursive: true, force: true });
}

// Tokenisation: one vocabulary, both tokenizers, the same texts.
const texts = loadCorpus('sotu').map((d) => d.text).slice(0, QUICK ? 25 : undefined);
const megabytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0) / 1e6;
const vocab = trainWordPiece(texts, { vocabSize: 8192 }).vocab;
const ours = new BertTokenizer(vocab);
const { Tokenizer } = createRequire(import.meta.url)('@huggingface/tokenizers') as { Tokenizer: new (json: object, config: object) => { encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] } } };
// The tokenizer.json Hugging Face's BertTokenizerFast writes for an uncased vocab.txt.
const theirs = new Tokenizer(
  {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: Object.values(BERT_SPECIAL_TOKENS).map((content) => ({ id: vocab.id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.tokens.map((t, i) => [t, i])) },
  },
  { do_lower_case: true, model_max_length: 1e9 },
);
let same = 0;
const timed = (encode: (text: string) => number[]) => {
  const times: number[] = [];
  let ids: number[][] = [];
  for (let block = 0; block < (QUICK ? 1 : 3); block++) {
    const start = performance.now();
    ids = texts.map(encode);
    times.push((performance.now() - start) / 1000);
  }
  return { seconds: median(times), ids };
};
const netlab = timed((text) => ours.encodeText(text));
const huggingFace = timed((text) => theirs.encode(text, { add_special_tokens: false }).ids);
netlab.ids.forEach((ids, i) => (same += Number(ids.length === huggingFace.ids[i].length && ids.every((id, k) => id === huggingFace.ids[i][k]))));
report('tokenize_megabytes', megabytes);
report('tokenize_netlab_mb_per_s', megabytes / netlab.seconds);
report('tokenize_huggingface_mb_per_s', megabytes / huggingFace.seconds);
report('tokenize_speedup', huggingFace.seconds / netlab.seconds);
report('tokenize_same_ids_documents', same);
report('tokenize_documents', texts.length);
