// The Transformer reproduction (Vaswani et al., 2017) on a sequence-to-sequence
// task that fits a 2-core machine: grapheme-to-phoneme conversion on CMUdict.
// It trains the paper's model with the paper's recipe (batches by token count,
// label smoothing 0.1, Adam β (0.9, 0.98), the warm-up schedule, residual
// dropout, the average of the last checkpoints), decodes the test split
// greedily and by beam search (beam 4, α 0.6), runs a small Table 3 (one head
// against eight, learned against sinusoidal positions, label smoothing against
// none) and records the training curves and encoder–decoder attention maps.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { manualSeed, scope } from '../tensor/index.js';
import { encodePhonemes, encodeWord, g2pScore, loadCmudict, type G2PEntry, type G2PScore } from '../data/cmudict.js';
import { Random } from '../data/random.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { pronounce } from '../models/g2p.js';
import { transformerModel, transformerParameterCount, TRANSFORMER_PRESETS, type TransformerModel, type TransformerModelConfig } from '../models/transformer.js';
import { padSequences, type SequencePair } from '../data/sequence.js';
import { sequencePerplexity, trainTransformer } from '../train/seq2seq.js';
import type { ExperimentCallbacks } from './experiment.js';

export const TRANSFORMER_G2P_DEFAULTS = {
  seed: 0,
  /** Wall-clock minutes of the main training (the whole run adds the Table 3 rows and the decoding). */
  minutes: 40,
  /** An upper bound on epochs; the budget usually ends training first. */
  epochs: 100,
  /** Padded source plus target tokens per batch (the paper: about 25,000 of each, on 8 GPUs). */
  maxTokens: 4096,
  /**
   * The paper's schedule lr = f · d^−0.5 · min(s^−0.5, s · w^−1.5) with its
   * warm-up of 4,000 steps scaled to a run of a few thousand steps.
   */
  warmupSteps: 800,
  /**
   * Half the paper's rate: measured over the first 10 minutes (one thread),
   * f = 0.5 reached 75.0% greedy validation WER and 28.1% PER where f = 1
   * reached 76.8% and 33.4%, and a run at f = 1 had phases of repeated
   * phonemes near its peak rate.
   */
  lrFactor: 0.5,
  labelSmoothing: 0.1,
  /** Checkpoint averaging (§6.1: the last 5, written at 10-minute intervals of a 12-hour run), scaled. */
  averageLast: 5,
  snapshotMinutes: 2,
  beamSize: 4,
  alpha: 0.6,
  /** Test words decoded (all 12,518 by default), for quick trial runs. */
  testCount: Infinity,
  /** Validation words (a fixed random subset) for perplexity, WER and PER during the run: checkpoint averaging, Table 3. */
  validationCount: 2000,
  /** Table 3: updates of training per row (the same for every row, as the paper's 100K), of the smaller model below. */
  ablationSteps: 700,
  ablationModel: { dModel: 128, nhead: 8, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 512 },
  /** Their warm-up, shorter so that a row of a few hundred steps gets past it. */
  ablationWarmupSteps: 300,
  /** Words whose encoder–decoder attention the report draws. */
  attentionWords: ['PHOENIX', 'KNIGHTS', 'THOUGHTFUL', 'XYLOPHONE', 'QUEUE', 'NETLAB'],
};

export type TransformerG2pOptions = typeof TRANSFORMER_G2P_DEFAULTS & { outDir: string; resume?: boolean; dictFile?: string };

export interface DecodingScore extends G2PScore {
  seconds: number;
}

export interface Table3Row {
  name: string;
  /** The change from the base row, as the paper's Table 3 names it. */
  change: string;
  config: Partial<TransformerModelConfig>;
  labelSmoothing: number;
  parameters: number;
  steps: number;
  /** Validation perplexity per phoneme (teacher-forced, no smoothing). */
  perplexity: number;
  /** Greedy decoding of the validation words. */
  wer: number;
  per: number;
}

export interface AttentionMap {
  word: string;
  /** The source tokens (letters, then </s>) and the output (phonemes, then </s>). */
  letters: string[];
  phonemes: string[];
  /** weights[i][j]: attention of output token i over source token j, averaged over heads, last decoder layer. */
  weights: number[][];
}

export interface TransformerG2pResult {
  options: TransformerG2pOptions;
  model: { preset: 'transformer_g2p'; config: TransformerModelConfig; parameters: number };
  data: { trainWords: number; trainPairs: number; validationWords: number; testWords: number };
  training: {
    steps: number;
    epochs: { epoch: number; loss: number; seconds: number }[];
    losses: number[];
    lrs: number[];
    seconds: number;
    /** The snapshots averaged, by step. */
    averagedSteps: number[];
    /** Validation figures of the last weights and of the average. */
    last: { perplexity: number; wer: number; per: number };
    averaged: { perplexity: number; wer: number; per: number };
  };
  test: { greedy: DecodingScore; beam: DecodingScore };
  published: { system: string; wer: number; per?: number; note: string }[];
  table3: Table3Row[];
  attention: AttentionMap[];
  examples: { word: string; references: string[][]; greedy: string[]; beam: string[] }[];
  totalSeconds: number;
}

/** The published CMUdict G2P figures the issue names (WER and PER in %, test sets differ: see note). */
export const PUBLISHED_G2P = [
  { system: 'Phonetisaurus (WFST)', wer: 33.9, note: 'cmusphinx g2p-seq2seq README, latest CMUdict without stress' },
  { system: 'LSTM 2×512', wer: 31, note: 'cmusphinx g2p-seq2seq README, latest CMUdict without stress (about)' },
  { system: 'Transformer 3×256', wer: 30.2, note: 'cmusphinx g2p-seq2seq README, latest CMUdict without stress' },
  { system: 'Transformer (PRONALSYL split)', wer: 20, note: 'Yolchuyeva et al. (2019), older CMUdict split (about)' },
];

/** Training pairs of G2P entries: one per (word, pronunciation), the word's letters then eos → bos, phonemes, eos. */
export function g2pPairs(entries: readonly G2PEntry[]): SequencePair[] {
  return entries.flatMap((e) => {
    const src = encodeWord(e.word);
    return e.references.map((r) => ({ src, tgt: encodePhonemes(r) }));
  });
}

/** Runs the reproduction; writes transformer-g2p.safetensors and results.json to outDir (the report is the caller's). */
export function runTransformerG2p(options: TransformerG2pOptions, callbacks: ExperimentCallbacks = {}): TransformerG2pResult {
  const o = options;
  const log = callbacks.log ?? (() => {});
  const started = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  const train = loadCmudict({ split: 'train', file: o.dictFile });
  const validation = loadCmudict({ split: 'validation', file: o.dictFile });
  const test = loadCmudict({ split: 'test', file: o.dictFile }).slice(0, o.testCount);
  const trainPairs = g2pPairs(train);
  const validationWords = subset(validation, o.validationCount, o.seed);
  const validationPairs = g2pPairs(validationWords);
  log(`CMUdict: ${train.length} training words (${trainPairs.length} pronunciations), ${validation.length} validation, ${test.length} test`);

  // The main model.
  manualSeed(o.seed);
  const model = transformerModel('transformer_g2p');
  const parameters = transformerParameterCount(model.config);
  log(`transformer_g2p: ${parameters.toLocaleString('en-US')} parameters; training for ${o.minutes} min in batches of ${o.maxTokens} tokens`);
  const snapshotDir = join(o.outDir, 'snapshots');
  if (!o.resume) rmSync(snapshotDir, { recursive: true, force: true });
  const budget = o.minutes * 60;
  callbacks.phase?.({ name: 'training transformer_g2p', total: Math.round(budget), unit: 's' });
  const t0 = performance.now();
  const run = trainTransformer({
    model,
    pairs: trainPairs,
    maxTokens: o.maxTokens,
    epochs: o.epochs,
    maxSeconds: budget,
    warmupSteps: o.warmupSteps,
    lrFactor: o.lrFactor,
    labelSmoothing: o.labelSmoothing,
    seed: o.seed,
    checkpointPath: join(o.outDir, 'checkpoint.safetensors'),
    checkpointEvery: 200,
    resume: o.resume,
    snapshotDir,
    snapshotSeconds: o.snapshotMinutes * 60,
    averageLast: o.averageLast,
    onStep: (s) => callbacks.progress?.(Math.min(Math.round(budget), Math.round((performance.now() - t0) / 1000)), { epoch: String(s.epoch + 1), step: String(s.globalStep + 1), loss: s.loss.toFixed(3) }),
  });
  const seconds = (performance.now() - t0) / 1000;
  scope(() => saveSafetensors(join(o.outDir, 'transformer-g2p.safetensors'), model.stateDict(), { arch: 'transformer_g2p', framework: 'netlab', build_options: '{}' }));

  // The last weights against their average, on validation.
  const lastModel = transformerModel('transformer_g2p');
  const averagedSteps = run.averaged.map((f) => Number(/step-(\d+)/.exec(f)![1]));
  const { tensors } = loadSafetensors(run.averaged.at(-1)!);
  try {
    lastModel.loadStateDict(tensors);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  const validate = (m: TransformerModel) => ({ perplexity: sequencePerplexity(m, validationPairs, o.maxTokens).perplexity, ...scoreOf(m, validationWords, 1) });
  const last = validate(lastModel);
  lastModel.dispose();
  const averaged = validate(model);
  log(`trained ${run.losses.length} steps in ${(seconds / 60).toFixed(1)} min; validation greedy WER ${pct(last.wer)} → ${pct(averaged.wer)} averaging the last ${averagedSteps.length} checkpoints (steps ${averagedSteps.join(', ')})`);

  // The test split, greedy and beam.
  callbacks.phase?.({ name: 'decoding the test split', total: 2 * test.length, unit: 'words' });
  const decode = (beamSize: number, offset: number) => {
    const t = performance.now();
    const predictions = pronounce(model, test.map((e) => e.word), { beamSize, alpha: o.alpha, onBatch: (n) => callbacks.progress?.(offset + n) });
    return { predictions, score: { ...g2pScore(predictions, test.map((e) => e.references)), seconds: (performance.now() - t) / 1000 } };
  };
  const greedy = decode(1, 0);
  const beam = decode(o.beamSize, test.length);
  log(`test (${test.length} words): greedy WER ${pct(greedy.score.wer)} PER ${pct(greedy.score.per)}; beam ${o.beamSize} WER ${pct(beam.score.wer)} PER ${pct(beam.score.per)}`);
  const examples = test.slice(0, 40).map((e, i) => ({ word: e.word, references: e.references, greedy: greedy.predictions[i], beam: beam.predictions[i] }));
  const attention = o.attentionWords.map((w) => attentionMap(model, w));
  model.dispose();

  // Table 3 at this scale.
  const rows: { name: string; change: string; config: Partial<TransformerModelConfig>; labelSmoothing: number }[] = [
    { name: 'base', change: `h ${o.ablationModel.nhead}, sinusoidal positions, ε_ls ${o.labelSmoothing}`, config: {}, labelSmoothing: o.labelSmoothing },
    { name: '(A)', change: 'h 1 (one head of the full width)', config: { nhead: 1 }, labelSmoothing: o.labelSmoothing },
    { name: '(D)', change: 'ε_ls 0 (no label smoothing)', config: {}, labelSmoothing: 0 },
    { name: '(E)', change: 'learned positional embedding', config: { positionEncoding: 'learned' }, labelSmoothing: o.labelSmoothing },
  ];
  const table3 = (o.ablationSteps > 0 ? rows : []).map((row) => {
    manualSeed(o.seed);
    const m = transformerModel('transformer_g2p', { ...o.ablationModel, ...row.config });
    callbacks.phase?.({ name: `Table 3 ${row.name}`, total: o.ablationSteps, unit: 'steps' });
    try {
      const r = trainTransformer({
        model: m, pairs: trainPairs, maxTokens: o.maxTokens, epochs: o.epochs, maxSteps: o.ablationSteps, warmupSteps: o.ablationWarmupSteps, lrFactor: o.lrFactor, labelSmoothing: row.labelSmoothing, seed: o.seed,
        onStep: (info) => callbacks.progress?.(info.globalStep + 1),
      });
      const score = scoreOf(m, validationWords, 1);
      const result: Table3Row = { ...row, parameters: transformerParameterCount(m.config), steps: r.losses.length, perplexity: sequencePerplexity(m, validationPairs, o.maxTokens).perplexity, wer: score.wer, per: score.per };
      log(`Table 3 ${row.name} ${row.change}: ${result.steps} steps, validation perplexity ${result.perplexity.toFixed(3)}, WER ${pct(result.wer)}, PER ${pct(result.per)}`);
      return result;
    } finally {
      m.dispose();
    }
  });

  const result: TransformerG2pResult = {
    options: o,
    model: { preset: 'transformer_g2p', config: TRANSFORMER_PRESETS.transformer_g2p, parameters },
    data: { trainWords: train.length, trainPairs: trainPairs.length, validationWords: validation.length, testWords: test.length },
    training: {
      steps: run.losses.length,
      epochs: run.epochs.map((e) => ({ epoch: e.epoch + 1, loss: e.trainLoss, seconds: e.seconds })),
      losses: run.losses,
      lrs: run.lrs,
      seconds,
      averagedSteps,
      last,
      averaged,
    },
    test: { greedy: greedy.score, beam: beam.score },
    published: PUBLISHED_G2P,
    table3,
    attention,
    examples,
    totalSeconds: (performance.now() - started) / 1000,
  };
  writeFileAtomic(join(o.outDir, 'results.json'), JSON.stringify(result, null, 1));
  return result;
}

function pct(rate: number): string {
  return `${(100 * rate).toFixed(2)}%`;
}

// `count` entries drawn without replacement (a fixed draw per seed), in dictionary order.
function subset(entries: readonly G2PEntry[], count: number, seed: number): G2PEntry[] {
  if (count >= entries.length) return [...entries];
  const chosen = [...new Random(seed, 2).permutation(entries.length).subarray(0, count)].sort((a, b) => a - b);
  return chosen.map((i) => entries[i]);
}

function scoreOf(model: TransformerModel, entries: readonly G2PEntry[], beamSize: number): G2PScore {
  const predictions = pronounce(model, entries.map((e) => e.word), { beamSize });
  return g2pScore(predictions, entries.map((e) => e.references));
}

// The greedy pronunciation of a word and the last decoder layer's attention over its letters while producing it.
function attentionMap(model: TransformerModel, word: string): AttentionMap {
  const [phonemes] = pronounce(model, [word], { beamSize: 1 });
  return scope(() => {
    const src = padSequences([encodeWord(word)], 0);
    const tgt = padSequences([encodePhonemes(phonemes).slice(0, -1)], 0); // bos and the phonemes: their rows predict the phonemes, then eos
    const weights = model.crossAttention(src, tgt).squeeze(0).toArray() as number[][];
    return { word, letters: [...word.toUpperCase(), '</s>'], phonemes: [...phonemes, '</s>'], weights };
  });
}
