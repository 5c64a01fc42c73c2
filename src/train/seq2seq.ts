// Training the paper's model (Vaswani et al., 2017, §5): batches by token
// count, teacher-forced cross-entropy with label smoothing and padding
// ignored, Adam β (0.9, 0.98) ε 1e-9 under the warm-up then inverse-square-root
// schedule, and the averaging of the last checkpoints (§6.1). The loop is the
// shared `fit`, so checkpoints, resumption and budgets behave as elsewhere.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { noGrad } from '../tensor/autograd.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import type { StateDict } from '../nn/module.js';
import { Adam } from '../optim/adam.js';
import { InverseSqrtLR } from '../optim/lr-scheduler.js';
import { TokenBatchDataset, tokenBatchLoader, type SequencePair } from '../data/sequence.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { TransformerModel } from '../models/transformer.js';
import { fit, type FitResult, type LossFn, type StepInfo } from './trainer.js';

/**
 * The teacher-forced objective: the decoder reads tgt[:, :-1] and predicts
 * tgt[:, 1:]; cross-entropy per target token with label smoothing
 * (the true token's target is 1 − ε + ε/V), padding ignored.
 */
export function sequenceLoss(options: { labelSmoothing: number; padIdx: number }): LossFn {
  return (model, src, tgt) => {
    const T = tgt.shape[1];
    const logits = (model as TransformerModel).forward(src, tgt.narrow(1, 0, T - 1));
    return F.crossEntropy(logits.reshape(-1, logits.shape[2]), tgt.narrow(1, 1, T - 1).reshape(-1), { ignoreIndex: options.padIdx, labelSmoothing: options.labelSmoothing });
  };
}

export interface TrainTransformerOptions {
  model: TransformerModel;
  pairs: readonly SequencePair[];
  /** Padded source plus target tokens per batch. */
  maxTokens: number;
  epochs: number;
  /** Stops after the step during which this many seconds have passed. */
  maxSeconds?: number;
  /** Stops after this many updates in all (the paper's Table 3 trains every row for the same number of steps). */
  maxSteps?: number;
  /** The schedule's warm-up (the paper: 4,000 steps) and a constant factor on its rate (the paper: 1). */
  warmupSteps: number;
  lrFactor: number;
  labelSmoothing: number;
  seed: number;
  /** Writes a resumable checkpoint here every epoch and every `checkpointEvery` steps. */
  checkpointPath?: string;
  checkpointEvery?: number;
  resume?: boolean;
  /**
   * Checkpoint averaging (§6.1): a copy of the weights is written to this
   * folder every `snapshotSeconds` and at the end, the last `averageLast`
   * kept; after training the model holds their average.
   */
  snapshotDir?: string;
  snapshotSeconds?: number;
  averageLast?: number;
  onStep?: (info: StepInfo) => void;
}

export interface TrainTransformerResult extends FitResult {
  /** The learning rate of every step (of the whole run when resumed). */
  lrs: number[];
  /** The snapshot files averaged into the final weights (none without a snapshot folder). */
  averaged: string[];
}

/** Trains as the paper (§5.3, §5.4, §6.1); see TrainTransformerOptions. */
export function trainTransformer(o: TrainTransformerOptions): TrainTransformerResult {
  const { model } = o;
  const averageLast = o.averageLast ?? 5;
  if (!Number.isInteger(averageLast) || averageLast < 1) throw new RangeError(`trainTransformer: averageLast must be a positive integer, got ${averageLast}`);
  if (o.snapshotDir !== undefined && !(o.snapshotSeconds! > 0)) throw new RangeError(`trainTransformer: a snapshot folder needs snapshotSeconds > 0, got ${o.snapshotSeconds}`);
  const loader = tokenBatchLoader(new TokenBatchDataset(o.pairs, o.maxTokens, model.config.padIdx), o.seed);
  const optimizer = new Adam(model.parameters(), { lr: 0, betas: [0.9, 0.98], eps: 1e-9 });
  const schedule = new InverseSqrtLR(optimizer, { dModel: model.config.dModel, warmupSteps: o.warmupSteps, factor: o.lrFactor });
  const snapshots = o.snapshotDir === undefined ? null : new Snapshots(o.snapshotDir, averageLast);
  let lastSnapshot = performance.now();
  try {
    const result = fit({
      model,
      loader,
      optimizer,
      epochs: o.epochs,
      maxSeconds: o.maxSeconds,
      maxSteps: o.maxSteps,
      schedule,
      scheduleEvery: 'step',
      loss: sequenceLoss({ labelSmoothing: o.labelSmoothing, padIdx: model.config.padIdx }),
      checkpointPath: o.checkpointPath,
      checkpointEvery: o.checkpointEvery,
      resume: o.resume,
      onStep: (info) => {
        if (snapshots !== null && performance.now() - lastSnapshot >= o.snapshotSeconds! * 1000) {
          snapshots.write(model, info.globalStep + 1);
          lastSnapshot = performance.now();
        }
        o.onStep?.(info);
      },
    });
    let averaged: string[] = [];
    if (snapshots !== null) {
      snapshots.write(model, result.losses.length);
      averaged = snapshots.files();
      const mean = averageCheckpoints(averaged);
      try {
        model.loadStateDict(mean);
      } finally {
        for (const t of mean.values()) t.dispose();
      }
    }
    // The rate of every update, those before a resumption included.
    const lrs = result.losses.map((_, i) => schedule.rateAt(i + 1));
    return { ...result, lrs, averaged };
  } finally {
    optimizer.dispose();
  }
}

// Weight snapshots in a folder, step-numbered, the newest `keep` kept.
class Snapshots {
  constructor(
    readonly dir: string,
    readonly keep: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  files(): string[] {
    return readdirSync(this.dir)
      .filter((f) => /^step-\d+\.safetensors$/.test(f))
      .sort((a, b) => Number(a.slice(5, -12)) - Number(b.slice(5, -12)))
      .map((f) => join(this.dir, f));
  }

  write(model: TransformerModel, step: number): void {
    const path = join(this.dir, `step-${step}.safetensors`);
    if (!existsSync(path)) scope(() => saveSafetensors(path, model.stateDict(), { step: String(step) }));
    for (const old of this.files().slice(0, -this.keep)) rmSync(old);
  }
}

/**
 * The element-wise mean of the tensors of several weight files (fairseq's
 * average_checkpoints): every file must hold the same names and shapes.
 * Floating-point tensors are averaged in float64 and returned in their dtype.
 */
export function averageCheckpoints(paths: readonly string[]): StateDict {
  if (paths.length === 0) throw new RangeError('averageCheckpoints: no checkpoint files');
  const sum = new Map<string, Tensor>();
  let names: string[] | null = null;
  try {
    for (const path of paths) {
      const { tensors } = loadSafetensors(path);
      try {
        const here = [...tensors.keys()].sort();
        if (names === null) names = here;
        else if (here.join('\n') !== names.join('\n')) throw new Error(`averageCheckpoints: ${path} holds other tensors than ${paths[0]}`);
        for (const [name, t] of tensors) {
          const previous = sum.get(name);
          if (previous !== undefined && previous.shape.join() !== t.shape.join()) throw new Error(`averageCheckpoints: '${name}' is ${t.describe()} in ${path} but ${previous.describe()} before`);
          sum.set(name, scope(() => (previous === undefined ? t.double() : previous.add(t.double()))).keep());
          previous?.dispose();
        }
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
    }
    const { tensors: first } = loadSafetensors(paths[0]);
    try {
      return new Map([...sum].map(([name, t]) => [name, scope(() => t.div(paths.length).to(first.get(name)!.dtype)).keep()]));
    } finally {
      for (const t of first.values()) t.dispose();
    }
  } finally {
    for (const t of sum.values()) t.dispose();
  }
}

/**
 * Perplexity of the targets under teacher forcing: exp of the mean negative
 * log-likelihood per target token (eos included, padding not, no smoothing),
 * in evaluation mode without gradients.
 */
export function sequencePerplexity(model: TransformerModel, pairs: readonly SequencePair[], maxTokens: number): { perplexity: number; nll: number; tokens: number } {
  const dataset = new TokenBatchDataset(pairs, maxTokens, model.config.padIdx);
  const wasTraining = model.training;
  model.eval();
  let total = 0;
  let tokens = 0;
  try {
    noGrad(() => {
      for (let i = 0; i < dataset.length; i++) {
        scope(() => {
          const [src, tgt] = dataset.get(i);
          const T = tgt.shape[1];
          const logits = model.forward(src, tgt.narrow(1, 0, T - 1));
          const target = tgt.narrow(1, 1, T - 1).reshape(-1);
          total += F.crossEntropy(logits.reshape(-1, logits.shape[2]), target, { ignoreIndex: model.config.padIdx, reduction: 'sum' }).item();
          tokens += target.ne(model.config.padIdx).sum().item();
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { perplexity: Math.exp(total / tokens), nll: total / tokens, tokens };
}
