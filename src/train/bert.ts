// BERT's pre-training (Devlin et al. 2019, §3.1, Appendix A.2): batches of
// sentence pairs, masked afresh every time a batch is drawn (dynamic masking)
// or once for good (static), the loss the masked-LM cross-entropy over the
// selected positions plus the next-sentence cross-entropy, AdamW with weight
// decay 0.01 off the biases and LayerNorm weights, a linear warm-up then a
// linear decay. The loop is the shared `fit`, so checkpoints, exact
// resumption and budgets behave as in every other training.
import { noGrad } from '../tensor/autograd.js';
import { tensor } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { DataLoader, type Dataset } from '../data/dataset.js';
import { Random } from '../data/random.js';
import type { BertForPreTraining, BertForSequenceClassification } from '../models/bert.js';
import { maskTokens, type MaskingOptions, type SentencePair } from '../text/pretraining-data.js';
import { AdamW } from '../optim/adam.js';
import { weightDecayGroups } from './mae.js';
import { recipeSchedule } from './recipes.js';
import { fit, type FitResult, type LossFn, type StepInfo } from './trainer.js';

/** The special ids a batch is built with. */
export interface SpecialIds {
  cls: number;
  sep: number;
  pad: number;
  mask: number;
}

/** Ignored by the masked-LM loss: every position that was not selected. */
export const IGNORE = -100;

/** NSP labels as Hugging Face's: 0 when B follows A, 1 when B is random. */
export const IS_NEXT = 0;
export const NOT_NEXT = 1;

// One pair as a masked row: [CLS] A [SEP] B [SEP], its segment ids, its labels (−100 off the selected positions), its NSP label.
interface MaskedRow {
  inputIds: number[];
  tokenTypeIds: number[];
  labels: number[];
  next: number;
}

function maskPair(pair: SentencePair, ids: SpecialIds, masking: Omit<MaskingOptions, 'maskId' | 'specialIds'>, rng: Random): MaskedRow {
  const row = [ids.cls, ...pair.a, ids.sep, ...pair.b, ids.sep];
  const m = maskTokens(row, rng, { ...masking, maskId: ids.mask, specialIds: [ids.cls, ids.sep, ids.pad] });
  const labels: number[] = Array(row.length).fill(IGNORE);
  m.positions.forEach((p, k) => (labels[p] = m.labels[k]));
  return { inputIds: m.inputIds, tokenTypeIds: [...Array(pair.a.length + 2).fill(0), ...Array(pair.b.length + 1).fill(1)], labels, next: pair.isRandomNext ? NOT_NEXT : IS_NEXT };
}

interface Sequence {
  inputIds: readonly number[];
  tokenTypeIds: readonly number[];
}

// One per-token value of each sequence as int64 [B, L], right-padded with `fill` to the longest sequence.
function padTokens<T extends Sequence>(rows: readonly T[], values: (row: T) => readonly number[], fill: number): Tensor {
  const length = Math.max(...rows.map((r) => r.inputIds.length));
  return tensor(
    rows.flatMap((r) => [...values(r), ...Array(length - r.inputIds.length).fill(fill)]),
    { dtype: 'int64', shape: [rows.length, length] },
  );
}

// The encoder's inputs for sequences right-padded to the longest: input_ids, token_type_ids, attention_mask [B, L].
function encoderInputs(rows: readonly Sequence[], pad: number): Tensor[] {
  return [padTokens(rows, (r) => r.inputIds, pad), padTokens(rows, (r) => r.tokenTypeIds, 0), padTokens(rows, (r) => r.inputIds.map(() => 1), 0)];
}

// Masked rows right-padded to the longest: input_ids, token_type_ids, attention_mask, mlm_labels [B, L], nsp_labels [B].
function pretrainingTensors(rows: readonly MaskedRow[], pad: number): Tensor[] {
  return [...encoderInputs(rows, pad), padTokens(rows, (r) => r.labels, IGNORE), tensor(rows.map((r) => r.next), { dtype: 'int64' })];
}

/**
 * A pre-training batch: input_ids, token_type_ids, attention_mask [B, L],
 * mlm_labels [B, L] (the original id at each selected position, −100
 * elsewhere) and nsp_labels [B], each pair masked in turn with `rng`.
 */
export function pretrainingBatch(pairs: readonly SentencePair[], ids: SpecialIds, masking: Omit<MaskingOptions, 'maskId' | 'specialIds'>, rng: Random): Tensor[] {
  if (pairs.length === 0) throw new RangeError('pretrainingBatch: no pairs');
  return pretrainingTensors(pairs.map((p) => maskPair(p, ids, masking, rng)), ids.pad);
}

/** The pairs as a dataset of their indices: the loader draws which pairs make a batch, its transform masks them. */
class PairIndices implements Dataset<number> {
  constructor(readonly length: number) {}
  get(i: number): number {
    return i;
  }
}

/**
 * A loader of pre-training batches. Dynamic masking draws every batch's
 * masks from the loader's generator for that batch (each epoch masks the
 * pairs anew, and a resumed run masks as the uninterrupted one would); static
 * masking gives each pair one mask for good, drawn from (seed, pair), as
 * create_pretraining_data.py writes them (its dupe factor is more pairs made
 * from the same documents).
 */
export function pretrainingLoader(
  pairs: readonly SentencePair[],
  ids: SpecialIds,
  masking: Omit<MaskingOptions, 'maskId' | 'specialIds'>,
  options: { batchSize: number; seed: number; shuffle?: boolean; masking: 'dynamic' | 'static' },
): DataLoader<number> {
  if (options.masking !== 'dynamic' && options.masking !== 'static') throw new RangeError(`pretrainingLoader: masking must be 'dynamic' or 'static', got '${String(options.masking)}'`);
  return new DataLoader(new PairIndices(pairs.length), {
    batchSize: options.batchSize,
    shuffle: options.shuffle ?? true,
    seed: options.seed,
    collate: (items) => [tensor(items, { dtype: 'int64' })],
    transform: ([indices], rng) => {
      const drawn = indices.toArray() as number[];
      const rows = drawn.map((i) => maskPair(pairs[i], ids, masking, options.masking === 'dynamic' ? rng : new Random(options.seed, 1, i)));
      return pretrainingTensors(rows, ids.pad);
    },
  });
}

/**
 * Both heads' logits, the masked-LM head's only at the selected positions
 * ([S, V] for S selected tokens, not [B, L, V]: the same values, without the
 * decoder's work on the 85% of positions no loss reads).
 */
function pretrainingLogits(model: BertForPreTraining, inputIds: Tensor, tokenTypeIds: Tensor, attentionMask: Tensor, selected: Tensor): { mlm: Tensor; nsp: Tensor } {
  return scope(() => {
    const { lastHiddenState, poolerOutput } = model.bert.forward({ inputIds, tokenTypeIds, attentionMask });
    return { mlm: model.cls.predictions.forward(lastHiddenState.index(selected)), nsp: model.cls.seq_relationship.forward(poolerOutput!) };
  });
}

/** The pre-training loss: masked-LM cross-entropy over the selected positions plus next-sentence cross-entropy. */
export const pretrainingLoss: LossFn = (model, inputIds, tokenTypeIds, attentionMask, mlmLabels, nspLabels) =>
  scope(() => {
    const selected = mlmLabels.ne(IGNORE);
    const { mlm, nsp } = pretrainingLogits(model as BertForPreTraining, inputIds, tokenTypeIds, attentionMask, selected);
    return F.crossEntropy(mlm, mlmLabels.maskedSelect(selected)).add(F.crossEntropy(nsp, nspLabels));
  });

export interface PretrainingEvaluation {
  /** Masked-LM: loss and accuracy over the selected positions. */
  mlmLoss: number;
  mlmAccuracy: number;
  /** The accuracy of always predicting the most frequent label among the selected positions (the baseline). */
  mlmMajorityAccuracy: number;
  /** Next-sentence prediction: loss and accuracy. */
  nspLoss: number;
  nspAccuracy: number;
  /** The share of the more frequent next-sentence label (Google's pairs are not balanced: a one-sentence chunk always takes a random B). */
  nspMajorityAccuracy: number;
  predictions: number;
  pairs: number;
}

/** Evaluates on held-out pairs, masked once from `seed` (the same masks for every model evaluated). */
export function evaluatePretraining(model: Module, pairs: readonly SentencePair[], ids: SpecialIds, masking: Omit<MaskingOptions, 'maskId' | 'specialIds'>, options: { batchSize: number; seed: number }): PretrainingEvaluation {
  const wasTraining = model.training;
  model.eval();
  const rng = new Random(options.seed);
  let [mlmLoss, mlmCorrect, predictions, nspLoss, nspCorrect, notNext] = [0, 0, 0, 0, 0, 0];
  const labelCounts = new Map<number, number>();
  try {
    noGrad(() => {
      for (let i = 0; i < pairs.length; i += options.batchSize) {
        scope(() => {
          const [inputIds, tokenTypeIds, attentionMask, mlmLabels, nspLabels] = pretrainingBatch(pairs.slice(i, i + options.batchSize), ids, masking, rng);
          const selected = mlmLabels.ne(IGNORE);
          const { mlm: logits, nsp } = pretrainingLogits(model as BertForPreTraining, inputIds, tokenTypeIds, attentionMask, selected);
          const labels = mlmLabels.maskedSelect(selected);
          mlmLoss += F.crossEntropy(logits, labels, { reduction: 'sum' }).item();
          mlmCorrect += logits.argmax(1).eq(labels).sum().item();
          predictions += labels.shape[0];
          for (const label of labels.toArray() as number[]) labelCounts.set(label, (labelCounts.get(label) ?? 0) + 1);
          nspLoss += F.crossEntropy(nsp, nspLabels, { reduction: 'sum' }).item();
          nspCorrect += nsp.argmax(1).eq(nspLabels).sum().item();
          notNext += nspLabels.eq(NOT_NEXT).sum().item();
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const majority = Math.max(0, ...labelCounts.values());
  return {
    mlmLoss: mlmLoss / predictions,
    mlmAccuracy: mlmCorrect / predictions,
    mlmMajorityAccuracy: majority / predictions,
    nspLoss: nspLoss / pairs.length,
    nspAccuracy: nspCorrect / pairs.length,
    nspMajorityAccuracy: Math.max(notNext, pairs.length - notNext) / pairs.length,
    predictions,
    pairs: pairs.length,
  };
}

export interface PretrainBertOptions {
  model: BertForPreTraining;
  pairs: readonly SentencePair[];
  ids: SpecialIds;
  masking: Omit<MaskingOptions, 'maskId' | 'specialIds'>;
  /** 'dynamic' masks every batch afresh; 'static' masks each pair once for good. */
  maskingMode: 'dynamic' | 'static';
  batchSize: number;
  epochs: number;
  /** Peak learning rate (BERT: 1e-4 at batch 256). */
  lr: number;
  /** Fraction of the steps spent warming up (BERT: 10,000 of 1,000,000). */
  warmup: number;
  /** Decoupled weight decay, off the biases and LayerNorm weights (BERT: 0.01). */
  weightDecay?: number;
  seed: number;
  maxSeconds?: number;
  maxSteps?: number;
  checkpointPath?: string;
  checkpointEvery?: number;
  resume?: boolean;
  onStep?: (info: StepInfo) => void;
}

// BERT's optimiser, for pre-training and fine-tuning alike (Appendix A.2): AdamW β = (0.9, 0.999), ε = 1e-6,
// weight decay off the biases and LayerNorm weights; a linear warm-up over `warmup` of `steps`, then a linear decay.
function bertOptimizer(model: Module, lr: number, weightDecay: number, warmup: number, steps: number) {
  const optimizer = new AdamW(weightDecayGroups(model, weightDecay), { lr, betas: [0.9, 0.999], eps: 1e-6 });
  return { optimizer, ...recipeSchedule(optimizer, { schedule: 'linear', warmup, milestones: [], gamma: 1 }, 1, steps) };
}

/** Pre-trains with BERT's recipe (Appendix A.2): AdamW β = (0.9, 0.999), ε = 1e-6, linear warm-up and decay; see PretrainBertOptions. */
export function pretrainBert(o: PretrainBertOptions): FitResult {
  const loader = pretrainingLoader(o.pairs, o.ids, o.masking, { batchSize: o.batchSize, seed: o.seed, masking: o.maskingMode });
  // The schedule spans the run that will happen: the step budget when it is the shorter.
  const { optimizer, schedule, every } = bertOptimizer(o.model, o.lr, o.weightDecay ?? 0.01, o.warmup, Math.min(o.epochs * loader.length, o.maxSteps ?? Infinity));
  try {
    return fit({
      model: o.model,
      loader,
      optimizer,
      epochs: o.epochs,
      loss: pretrainingLoss,
      schedule,
      scheduleEvery: every,
      maxSeconds: o.maxSeconds,
      maxSteps: o.maxSteps,
      checkpointPath: o.checkpointPath,
      checkpointEvery: o.checkpointEvery,
      resume: o.resume,
      onStep: o.onStep,
    });
  } finally {
    optimizer.dispose();
  }
}

/** One example of sequence classification, encoded ([CLS] … [SEP]), with its class. */
export interface ClassificationExample {
  inputIds: readonly number[];
  tokenTypeIds: readonly number[];
  label: number;
}

// Examples right-padded to the longest: input_ids, token_type_ids, attention_mask [B, L], labels [B].
function classificationTensors(examples: readonly ClassificationExample[], pad: number): Tensor[] {
  return [...encoderInputs(examples, pad), tensor(examples.map((e) => e.label), { dtype: 'int64' })];
}

function checkExamples(examples: readonly ClassificationExample[], numLabels: number, where: string): void {
  if (examples.length === 0) throw new RangeError(`${where}: no examples`);
  examples.forEach((e, i) => {
    if (e.inputIds.length === 0 || e.inputIds.length !== e.tokenTypeIds.length) throw new RangeError(`${where}: example ${i} has ${e.inputIds.length} input ids and ${e.tokenTypeIds.length} token type ids (expected as many, at least 1)`);
    if (!Number.isInteger(e.label) || e.label < 0 || e.label >= numLabels) throw new RangeError(`${where}: example ${i} has label ${e.label}, outside 0…${numLabels - 1}`);
  });
}

/** The fine-tuning loss: cross-entropy of the classifier's logits. */
export const sequenceClassificationLoss: LossFn = (model, inputIds, tokenTypeIds, attentionMask, labels) =>
  scope(() => F.crossEntropy((model as BertForSequenceClassification).forward({ inputIds, tokenTypeIds, attentionMask }), labels));

export interface FineTuneBertOptions {
  model: BertForSequenceClassification;
  examples: readonly ClassificationExample[];
  /** The [PAD] id batches are padded with. */
  padId: number;
  batchSize: number;
  epochs: number;
  /** Peak learning rate (the paper's grid: 5e-5, 3e-5, 2e-5; small BERTs take up to 1e-4 and more). */
  lr: number;
  /** Fraction of the steps spent warming up (the paper's fine-tuning: 0.1). */
  warmup?: number;
  weightDecay?: number;
  seed: number;
  maxSeconds?: number;
  onStep?: (info: StepInfo) => void;
}

/**
 * Fine-tunes every parameter of a sequence classifier (Devlin et al. 2019,
 * §4 and Appendix A.3): AdamW with weight decay 0.01 off the biases and
 * LayerNorm weights, a linear warm-up over the first tenth of the steps then
 * a linear decay to zero, batches padded to their longest example.
 */
export function fineTuneBert(o: FineTuneBertOptions): FitResult {
  checkExamples(o.examples, o.model.numLabels, 'fineTuneBert');
  const examples = o.examples;
  const loader = new DataLoader(new PairIndices(examples.length), {
    batchSize: Math.min(o.batchSize, examples.length),
    shuffle: true,
    seed: o.seed,
    collate: (items) => classificationTensors(items.map((i) => examples[i]), o.padId),
  });
  const { optimizer, schedule, every } = bertOptimizer(o.model, o.lr, o.weightDecay ?? 0.01, o.warmup ?? 0.1, o.epochs * loader.length);
  try {
    return fit({ model: o.model, loader, optimizer, epochs: o.epochs, loss: sequenceClassificationLoss, schedule, scheduleEvery: every, maxSeconds: o.maxSeconds, onStep: o.onStep });
  } finally {
    optimizer.dispose();
  }
}

/** The predicted class of each example (eval mode, batches sorted by length so little is padding). */
export function classifySequences(model: BertForSequenceClassification, examples: readonly ClassificationExample[], padId: number, batchSize = 64): number[] {
  checkExamples(examples, model.numLabels, 'classifySequences');
  const order = examples.map((_, i) => i).sort((i, j) => examples[i].inputIds.length - examples[j].inputIds.length);
  const predictions: number[] = Array(examples.length);
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (let start = 0; start < order.length; start += batchSize) {
        const chunk = order.slice(start, start + batchSize);
        scope(() => {
          const [inputIds, tokenTypeIds, attentionMask] = encoderInputs(chunk.map((i) => examples[i]), padId);
          const predicted = model.forward({ inputIds, tokenTypeIds, attentionMask }).argmax(1).toArray() as number[];
          chunk.forEach((i, k) => (predictions[i] = predicted[k]));
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return predictions;
}
