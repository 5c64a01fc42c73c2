// The paper's Transformer (Vaswani et al., 2017), transformer_base (N 6,
// d_model 512, d_ff 2048, h 8, dropout 0.1, all three matrices tied) with a
// shared vocabulary of 8,000 tokens: NetLab's (src/models/transformer.ts)
// against the same composition of torch.nn.Transformer in PyTorch
// (bench/transformer.py), on the weights NetLab drew. Two measurements:
//   train   one training step on 16 sources and 16 targets of 32 tokens:
//           teacher-forced forward (the decoder reads the target's first 31
//           tokens and predicts its last 31), cross-entropy with label
//           smoothing 0.1, backward, one Adam step (β 0.9, 0.98, ε 1e-9);
//   decode  greedy decoding of 32 tokens for the 16 sources with the
//           incremental decoder (the encoder once, then one decoder call per
//           token with the keys and values of earlier tokens cached), which
//           the PyTorch side does with the same scheme on torch.nn's modules.
// Prints the median ms of each side and the ratio NetLab/PyTorch, and the
// tokens each side generated (the same work on both sides).
// NETLAB_BENCH_QUICK=1 runs batch 2, once per side: its figures mean nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { getNumThreads, manualSeed, scope, tensor } from '../src/index.js';
import { saveSafetensors } from '../src/io/safetensors.js';
import { greedyDecode, type Hypothesis } from '../src/models/decoding.js';
import { transformerModel } from '../src/models/transformer.js';
import { Adam } from '../src/optim/adam.js';
import { sequenceLoss } from '../src/train/seq2seq.js';
import { compare, PyTorchWorker, QUICK, report, reportComparison, reportThreads, warnIfBusy, type CompareOptions } from './common.js';

const VOCAB = 8000;
const BATCH = QUICK ? 2 : 16;
const LENGTH = 32;
const NEW_TOKENS = 32;
const [BOS, EOS] = [1, 2];
const TRAIN: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 1, calls: 1 } : { warmupBlocks: 1, blocks: 7, calls: 1 };
const DECODE: CompareOptions = QUICK ? { warmupBlocks: 0, blocks: 1, calls: 1 } : { warmupBlocks: 1, blocks: 7, calls: 1 };

/** Token ids both sides compute (bench/transformer.py too): 3 + (k·7919 + offset) mod (V − 3) at flat index k, never padding, bos or eos. */
function tokens(offset: number): number[] {
  return Array.from({ length: BATCH * LENGTH }, (_, k) => 3 + ((k * 7919 + offset) % (VOCAB - 3)));
}

const threads = getNumThreads();
warnIfBusy(threads);
manualSeed(0);
const model = transformerModel('transformer_base', { srcVocab: VOCAB, tgtVocab: VOCAB });
const optimizer = new Adam(model.parameters(), { lr: 1e-4, betas: [0.9, 0.98], eps: 1e-9 });
const loss = sequenceLoss({ labelSmoothing: 0.1, padIdx: 0 });
const src = tensor(tokens(0), { dtype: 'int64' }).view(BATCH, LENGTH).keep();
const tgt = tensor(tokens(1), { dtype: 'int64' }).view(BATCH, LENGTH).keep();
const folder = mkdtempSync(join(tmpdir(), 'netlab-bench-transformer-'));
const weights = join(folder, 'transformer_base.safetensors');
scope(() => saveSafetensors(weights, model.stateDict()));

const train = (calls: number) => {
  model.train();
  for (let i = 0; i < calls; i++) {
    scope(() => {
      optimizer.zeroGrad();
      loss(model, src, tgt).backward();
      optimizer.step();
    });
  }
};

let decoded: Hypothesis[] = [];
const decode = (calls: number) => {
  for (let i = 0; i < calls; i++) decoded = greedyDecode(model, src, { bos: BOS, eos: EOS, maxLength: NEW_TOKENS });
};

const worker = new PyTorchWorker('transformer.py', [String(threads), weights, String(BATCH), String(LENGTH), String(VOCAB), String(NEW_TOKENS)]);
try {
  reportThreads(threads);
  report('batch', BATCH);
  report('tokens_per_sequence', LENGTH);
  // Decoding first, while both sides hold the same weights (training changes them on each side).
  const decodeTimes = await compare(worker, 'decode', decode, DECODE);
  const [pytorchTokens, pytorchAgree] = await worker.measure('tokens', 0);
  const netlabTokens = decoded.reduce((n, h) => n + h.tokens.length, 0);
  reportComparison('decode', decodeTimes);
  report('decode_netlab_tokens', netlabTokens);
  report('decode_pytorch_tokens', pytorchTokens);
  // The PyTorch side's outputs, as a checksum of their tokens, against NetLab's.
  report('decode_same_tokens', Number(pytorchAgree === checksum(decoded.map((h) => h.tokens))));
  const trainTimes = await compare(worker, 'train', train, TRAIN);
  reportComparison('train', trainTimes);
} finally {
  worker.close();
  optimizer.dispose();
  model.dispose();
  rmSync(folder, { recursive: true, force: true });
}

/** Σ over sequences i and positions j of token·(j + 1)·(i + 1), mod 1,000,003: bench/transformer.py computes the same. */
function checksum(sequences: number[][]): number {
  let sum = 0;
  sequences.forEach((s, i) => s.forEach((t, j) => (sum = (sum + t * (j + 1) * (i + 1)) % 1_000_003)));
  return sum;
}
