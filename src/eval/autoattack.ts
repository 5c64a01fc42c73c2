// AutoAttack: Croce & Hein, "Reliable evaluation of adversarial robustness
// with an ensemble of diverse parameter-free attacks" (ICML 2020), the
// evaluation RobustBench ranks models by. Attacks run in a fixed order, each
// only on the examples every earlier one failed to break, so the robust
// accuracy after each stage can only fall; the result is the robust accuracy
// after the last. Versions as the reference (fra31/auto-attack):
//   standard: APGD-CE → APGD-T (9 targets) → FAB-T (9 targets) → Square (5,000 queries)
//   plus:     APGD-CE ×5 → APGD-DLR ×5 → FAB ×5 → Square → APGD-T → FAB-T
//   rand:     APGD-CE and APGD-DLR with 20-sample expectation over transformation, for randomised models
import { enableGrad, grad, noGrad } from '../tensor/autograd.js';
import { manualSeed, tensor } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';
import { APGD, APGDT } from '../attacks/apgd.js';
import { FAB, FABT } from '../attacks/fab.js';
import { Square } from '../attacks/square.js';
import type { Attack, Classifier, Norm } from '../attacks/attack.js';
import type { RobustnessRow } from './robustness.js';

export const AUTOATTACK_VERSIONS = ['standard', 'plus', 'rand'] as const;
export type AutoAttackVersion = (typeof AUTOATTACK_VERSIONS)[number];

export interface AutoAttackOptions {
  norm?: Norm;
  /** The budget ε in `norm`. */
  eps: number;
  version?: AutoAttackVersion;
  /** Each attack starts from this seed of the global generator, as the reference does (default 0). */
  seed?: number;
  /** Examples attacked at once (default 500). */
  batchSize?: number;
  /** The valid input range (default [0, 1]). */
  box?: [number, number];
  /** Called before each attack with the number of examples it will attack. */
  onAttack?: (attack: string, total: number) => void;
  /** Called after each attack with its stage. */
  onStage?: (stage: AutoAttackStage) => void;
  /** Called after each batch of an attack. */
  onBatch?: (attack: string, done: number, total: number) => void;
}

export interface AutoAttackStage {
  attack: string;
  /** Robust accuracy after this attack (over all examples). */
  robustAccuracy: number;
  /** Examples this attack broke. */
  broken: number;
  seconds: number;
}

export interface AutoAttackResult {
  n: number;
  norm: Norm;
  eps: number;
  version: AutoAttackVersion;
  cleanAccuracy: number;
  robustAccuracy: number;
  stages: AutoAttackStage[];
  /** Per example: 'misclassified' (wrong on the clean input), the attack that broke it, or null (robust). */
  brokenBy: (string | null)[];
  /** The adversarial batch: the breaking point where an attack succeeded, the clean input elsewhere. */
  adversarial: Tensor;
  /** What the checks before attacking found (see `preflight`). */
  preflight: Preflight;
  /** Warnings about the evaluation itself (gradient masking, randomness), from `preflight` and the stages. */
  diagnostics: string[];
  seconds: number;
  dispose(): void;
}

/** The attacks of a version, in order, with the reference's settings. */
export function autoAttackStages(version: AutoAttackVersion, norm: Norm, eps: number, box: [number, number] = [0, 1]): { name: string; attack: Attack }[] {
  const common = { norm, eps, box };
  switch (version) {
    case 'standard':
      return [
        { name: 'APGD-CE', attack: new APGD({ ...common, loss: 'ce' }) },
        { name: 'APGD-T', attack: new APGDT({ ...common, targetClasses: 9 }) },
        { name: 'FAB-T', attack: new FABT({ ...common, targetClasses: 9 }) },
        { name: 'Square', attack: new Square({ ...common, queries: 5000 }) },
      ];
    case 'plus':
      return [
        { name: 'APGD-CE', attack: new APGD({ ...common, loss: 'ce', restarts: 5 }) },
        { name: 'APGD-DLR', attack: new APGD({ ...common, loss: 'dlr', restarts: 5 }) },
        { name: 'FAB', attack: new FAB({ ...common, restarts: 5 }) },
        { name: 'Square', attack: new Square({ ...common, queries: 5000 }) },
        { name: 'APGD-T', attack: new APGDT({ ...common, targetClasses: 9 }) },
        { name: 'FAB-T', attack: new FABT({ ...common, targetClasses: 9 }) },
      ];
    case 'rand':
      return [
        { name: 'APGD-CE', attack: new APGD({ ...common, loss: 'ce', eotIter: 20 }) },
        { name: 'APGD-DLR', attack: new APGD({ ...common, loss: 'dlr', eotIter: 20 }) },
      ];
    default:
      throw new TypeError(`AutoAttack: unknown version '${String(version)}'; choose one of ${AUTOATTACK_VERSIONS.join(', ')}`);
  }
}

// The reference's threshold for Square lowering the robust accuracy after the white-box attacks.
const SQUARE_ALARM = 0.002;

/** Runs AutoAttack on (x, y); see AutoAttackResult. The caller's tensors are not changed. */
export function autoAttack(model: Classifier, x: Tensor, y: Tensor, options: AutoAttackOptions): AutoAttackResult {
  const version = options.version ?? 'standard';
  if (!(AUTOATTACK_VERSIONS as readonly string[]).includes(version))
    throw new TypeError(`AutoAttack: unknown version '${String(version)}'; choose one of ${AUTOATTACK_VERSIONS.join(', ')}`);
  const norm = options.norm ?? 'linf';
  if (norm !== 'linf' && norm !== 'l2') throw new TypeError(`AutoAttack: norm must be 'linf' or 'l2', got '${String(norm)}'`);
  if (!(options.eps > 0) || !Number.isFinite(options.eps)) throw new RangeError(`AutoAttack: eps must be a finite number > 0, got ${options.eps}`);
  const n = x.shape[0];
  if (y.dtype !== 'int64' || y.ndim !== 1 || y.shape[0] !== n) throw new RangeError(`AutoAttack: labels must be int64 [${n}], got ${y.describe()}`);
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`AutoAttack: batchSize must be an integer >= 1, got ${batchSize}`);
  const seed = options.seed ?? 0;
  const stages = autoAttackStages(version, norm, options.eps, options.box);
  const forward = model instanceof Module ? (t: Tensor) => model.forward(t) as Tensor : model;
  const wasTraining = model instanceof Module ? model.training : false;
  if (model instanceof Module) model.eval();
  const started = performance.now();
  const adversarial = noGrad(() => x.clone());
  try {
    const brokenBy: (string | null)[] = [];
    for (let i = 0; i < n; i += batchSize) {
      const size = Math.min(batchSize, n - i);
      const right = noGrad(() => scope(() => forward(x.narrow(0, i, size)).argmax(1).eq(y.narrow(0, i, size)).toArray() as boolean[]));
      for (const r of right) brokenBy.push(r ? null : 'misclassified');
    }
    const robustCount = () => brokenBy.filter((b) => b === null).length;
    const cleanAccuracy = robustCount() / n;
    const checks = scope(() => preflight(forward, x.narrow(0, 0, Math.min(batchSize, n)), y.narrow(0, 0, Math.min(batchSize, n)), version));
    const done: AutoAttackStage[] = [];
    for (const { name, attack } of stages) {
      const robust = brokenBy.flatMap((b, i) => (b === null ? [i] : []));
      if (robust.length === 0) break;
      const stageStart = performance.now();
      options.onAttack?.(name, robust.length);
      manualSeed(seed);
      let broken = 0;
      for (let b = 0; b < robust.length; b += batchSize) {
        const batch = robust.slice(b, b + batchSize);
        scope(() => {
          const idx = indexTensor(batch);
          const [xb, yb] = [x.indexSelect(0, idx), y.indexSelect(0, idx)];
          const result = attack.run(forward, xb, { labels: yb });
          const success = result.success.toArray() as boolean[];
          const hits = batch.filter((_, k) => success[k]);
          if (hits.length > 0) {
            const rows = indexTensor(success.flatMap((s, k) => (s ? [k] : [])));
            noGrad(() => adversarial.indexPut_([indexTensor(hits)], result.adversarial.indexSelect(0, rows)));
          }
          for (const i of hits) brokenBy[i] = name;
          broken += hits.length;
          result.dispose();
        });
        options.onBatch?.(name, Math.min(b + batchSize, robust.length), robust.length);
      }
      const stage = { attack: name, robustAccuracy: robustCount() / n, broken, seconds: (performance.now() - stageStart) / 1000 };
      done.push(stage);
      options.onStage?.(stage);
    }
    const robustAccuracy = robustCount() / n;
    const diagnostics = diagnose(checks, done, n);
    return { n, norm, eps: options.eps, version, cleanAccuracy, robustAccuracy, stages: done, brokenBy, adversarial, preflight: checks, diagnostics, seconds: (performance.now() - started) / 1000, dispose: () => adversarial.dispose() };
  } catch (error) {
    adversarial.dispose();
    throw error;
  } finally {
    if (model instanceof Module) model.train(wasTraining);
  }
}

/** An int64 index tensor. */
function indexTensor(indices: number[]): Tensor {
  return tensor(indices, { dtype: 'int64' });
}

function pct(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

/** The reference's checks before attacking, on the first batch. */
export interface Preflight {
  /** Examples checked. */
  checked: number;
  /** The outputs differed between two passes over the same inputs (a randomised model; versions other than 'rand' only). */
  randomised: boolean;
  /** Examples whose cross-entropy has an exactly zero input gradient. */
  zeroGradient: number;
}

/**
 * A model whose outputs change between two passes is randomised (and needs
 * version 'rand'), and examples whose cross-entropy has an exactly zero
 * input gradient give gradient-based attacks nothing to follow.
 */
function preflight(forward: (x: Tensor) => Tensor, x: Tensor, y: Tensor, version: AutoAttackVersion): Preflight {
  return scope(() => {
    let randomised = false;
    if (version !== 'rand') {
      const [a, b] = noGrad(() => [forward(x), forward(x)]);
      randomised = !a.allclose(b, { rtol: 1e-5, atol: 1e-6 });
    }
    const xr = x.detach().requiresGrad_(true);
    const loss = enableGrad(() => F.crossEntropy(forward(xr), y, { reduction: 'sum' }));
    const [g] = grad(loss, xr);
    const zeroGradient = noGrad(() => g!.flatten(1).abs().sum(1).eq(0).sum().item());
    return { checked: x.shape[0], randomised, zeroGradient };
  });
}

/** The warnings of an AutoAttack run, from its preflight checks and its stages over n examples. */
function diagnose(checks: Preflight, stages: AutoAttackStage[], n: number): string[] {
  const notes: string[] = [];
  if (checks.randomised)
    notes.push("the model's outputs differ between two passes over the same inputs: it is randomised, and its evaluation needs --version rand (expectation over transformation)");
  if (checks.zeroGradient > 0)
    notes.push(
      `${checks.zeroGradient} of ${checks.checked} examples have an exactly zero input gradient of the cross-entropy (a saturated softmax): ` +
        'attacks on that loss (FGSM, PGD, APGD-CE) cannot move them; trust the DLR-loss and black-box stages (gradient masking)',
    );
  const square = stages.findIndex((s) => s.attack === 'Square');
  if (square > 0 && stages[square].broken / n > SQUARE_ALARM)
    notes.push(
      `Square, a black-box attack, broke ${stages[square].broken} examples every white-box attack before it missed ` +
        `(robust accuracy ${pct(stages[square - 1].robustAccuracy)} → ${pct(stages[square].robustAccuracy)}), more than the reference's 0.2-point alarm: ` +
        'the gradients may mislead (gradient masking, Carlini et al. 2019); check with more Square queries and restarts, or an adaptive attack',
    );
  return notes;
}

/** An AutoAttack result without its tensors: what ranks exchange, as JSON, when they evaluate shards. */
export type AutoAttackSummary = Omit<AutoAttackResult, 'adversarial' | 'dispose'>;

/**
 * One result from the results of consecutive parts of an evaluation (in
 * order), and the adversarial batch of all of them: counts add up, stages
 * line up by name, and the diagnostics are made again for the whole.
 */
export function mergeAutoAttack(parts: AutoAttackSummary[], adversarial: Tensor): AutoAttackResult {
  if (parts.length === 0) throw new RangeError('mergeAutoAttack: no parts to merge');
  const { norm, eps, version } = parts[0];
  const brokenBy = parts.flatMap((p) => p.brokenBy);
  const n = brokenBy.length;
  if (adversarial.shape[0] !== n) throw new RangeError(`mergeAutoAttack: the adversarial batch has ${adversarial.shape[0]} rows for ${n} examples`);
  const clean = brokenBy.filter((b) => b !== 'misclassified').length;
  const names = autoAttackStages(version, norm, eps).map((s) => s.name);
  let left = clean;
  const stages: AutoAttackStage[] = [];
  for (const name of names) {
    const ran = parts.flatMap((p) => p.stages.filter((s) => s.attack === name));
    if (ran.length === 0) continue;
    const broken = ran.reduce((sum, s) => sum + s.broken, 0);
    left -= broken;
    stages.push({ attack: name, robustAccuracy: left / n, broken, seconds: ran.reduce((sum, s) => sum + s.seconds, 0) });
  }
  const checks: Preflight = {
    checked: parts.reduce((sum, p) => sum + p.preflight.checked, 0),
    randomised: parts.some((p) => p.preflight.randomised),
    zeroGradient: parts.reduce((sum, p) => sum + p.preflight.zeroGradient, 0),
  };
  return {
    n,
    norm,
    eps,
    version,
    cleanAccuracy: clean / n,
    robustAccuracy: left / n,
    stages,
    brokenBy,
    adversarial,
    preflight: checks,
    diagnostics: diagnose(checks, stages, n),
    seconds: parts.reduce((sum, p) => sum + p.seconds, 0),
    dispose: () => adversarial.dispose(),
  };
}

/** AutoAttack's result as a row of a robustness table, beside PGD's. */
export function autoAttackRow(result: AutoAttackResult, x: Tensor): RobustnessRow {
  const broken = result.brokenBy.flatMap((b, i) => (b !== null && b !== 'misclassified' ? [i] : []));
  const [meanL2, meanLinf, meanL0] = noGrad(() =>
    scope(() => {
      if (broken.length === 0) return [NaN, NaN, NaN];
      const idx = indexTensor(broken);
      const delta = result.adversarial.indexSelect(0, idx).sub(x.indexSelect(0, idx)).flatten(1);
      return [delta.norm(2, 1).mean().item(), delta.abs().amax(1).mean().item(), delta.ne(0).sum(1).float().mean().item()];
    }),
  );
  const clean = result.cleanAccuracy * result.n;
  return {
    attack: 'AutoAttack',
    norm: result.norm === 'linf' ? 'L∞' : 'L2',
    eps: result.eps,
    steps: 100,
    restarts: 1,
    n: result.n,
    cleanAccuracy: result.cleanAccuracy,
    robustAccuracy: result.robustAccuracy,
    successRate: clean ? broken.length / clean : NaN,
    meanL2,
    meanLinf,
    meanL0,
    seconds: result.seconds,
  };
}

/** A plain-text table of AutoAttack's stages, as the reference prints them (its diagnostics are left to the caller). */
export function formatStages(result: AutoAttackResult): string {
  const lines = [`AutoAttack (${result.version}), ${result.norm === 'linf' ? 'L∞' : 'L2'} ε = ${result.eps}, ${result.n} examples`, `clean accuracy: ${pct(result.cleanAccuracy)}`];
  for (const s of result.stages) lines.push(`robust accuracy after ${s.attack.padEnd(8)}: ${pct(s.robustAccuracy).padStart(7)}  (${s.broken} broken, ${s.seconds.toFixed(1)} s)`);
  lines.push(`robust accuracy: ${pct(result.robustAccuracy)}  (${result.seconds.toFixed(1)} s in all)`);
  return lines.join('\n');
}
