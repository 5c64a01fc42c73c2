// Learning-rate schedules, as torch.optim.lr_scheduler in PyTorch 1.13: each
// writes `lr` into the optimizer's parameter groups when stepped, and saves
// and restores its progress through stateDict/loadStateDict.
//
// Call order, as in PyTorch: optimizer.step() then scheduler.step(). A new
// schedule sets the lr for epoch 0 at once (PyTorch's initial step).
import { Tensor } from '../tensor/index.js';
import { describeValue } from '../tensor/tensor.js';
import { Optimizer } from './optimizer.js';

/** A schedule's state: its options and its progress, under PyTorch's names. */
export type SchedulerStateDict = Record<string, unknown>;

// The optimizer as schedules see it: groups with an lr, whatever the optimizer.
export type AnyOptimizer = Optimizer<any, any>;

function checkOptimizer(where: string, optimizer: unknown): AnyOptimizer {
  if (!(optimizer instanceof Optimizer)) throw new TypeError(`${where}: expected an Optimizer, got ${describeValue(optimizer)}`);
  return optimizer;
}

function checkOptionsObject(where: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new TypeError(`${where}: options must be an object, got ${describeValue(options)}`);
  for (const key of Object.keys(options))
    if (!known.includes(key)) throw new TypeError(`${where}: unknown option '${key}'; expected ${known.join(', ')}`);
  return options as Record<string, unknown>;
}

function checkInteger(where: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${describeValue(value)}`);
  return value;
}

function checkNumber(where: string, name: string, value: unknown, test: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || !test(value)) throw new RangeError(`${where}: ${name} must be ${expected}, got ${describeValue(value)}`);
  return value;
}

function checkNumberList(where: string, name: string, value: unknown, length: number): number[] {
  if (!Array.isArray(value) || value.length !== length || value.some((v) => typeof v !== 'number' || Number.isNaN(v)))
    throw new RangeError(`${where}: ${name} must be a list of ${length} numbers (one per parameter group), got ${describeValue(value)}`);
  return [...value];
}

function checkStateObject(where: string, state: unknown): Record<string, unknown> {
  if (typeof state !== 'object' || state === null || Array.isArray(state))
    throw new TypeError(`${where}: expected the object stateDict() returns, got ${describeValue(state)}`);
  return state as Record<string, unknown>;
}

// A schedule's options must be the same as in the state it loads: a saved
// schedule resumes under the options it was saved with, or not at all.
function checkSameConfig(where: string, saved: Record<string, unknown>, own: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(own)) {
    if (!(key in saved)) throw new RangeError(`${where}: the state dict lacks '${key}'`);
    if (JSON.stringify(saved[key]) !== JSON.stringify(value))
      throw new RangeError(`${where}: ${key} is ${JSON.stringify(saved[key])} in the state dict but ${JSON.stringify(value)} in this schedule`);
  }
}

/**
 * The base of the epoch-counting schedules (PyTorch's `_LRScheduler`): each
 * `step()` advances `lastEpoch` by one and sets every group's lr from `getLr()`.
 */
export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  /** Each group's lr when the schedule was attached (PyTorch's `initial_lr`). */
  baseLrs: number[];
  /** Steps taken: 0 after construction, one more per `step()`. */
  lastEpoch = -1;
  private stepCount = 0;
  private lastLr: number[] = [];

  /** `name` is used in error messages. */
  protected constructor(protected readonly name: string, optimizer: AnyOptimizer) {
    this.optimizer = checkOptimizer(name, optimizer);
    for (const group of this.optimizer.paramGroups) group.initialLr ??= group.lr;
    this.baseLrs = this.optimizer.paramGroups.map((group) => group.initialLr!);
  }

  /** Every group's lr for the epoch `lastEpoch`. */
  protected abstract getLr(): number[];

  /** The options that define the schedule, under PyTorch's names, for the state dict. */
  protected abstract config(): Record<string, unknown>;

  /** Subclass constructors end with this: PyTorch's initial step, which sets the lr of epoch 0. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advances one epoch (or one iteration, for per-step schedules) and sets the groups' lr. */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const lrs = this.getLr();
    this.optimizer.paramGroups.forEach((group, i) => (group.lr = lrs[i]));
    this.lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** The lr of every group as last set by this schedule. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Options and progress, under PyTorch's names (base_lrs, last_epoch, _step_count, _last_lr, …). */
  stateDict(): SchedulerStateDict {
    return { ...this.config(), base_lrs: [...this.baseLrs], last_epoch: this.lastEpoch, _step_count: this.stepCount, _last_lr: [...this.lastLr] };
  }

  /**
   * Restores the progress saved by `stateDict()`; the schedule's options must
   * match the saved ones. The saved last lr is written back into the groups,
   * so the restored schedule holds whatever order the optimizer was restored in.
   */
  loadStateDict(stateDict: SchedulerStateDict): void {
    const where = `${this.name}.loadStateDict`;
    const saved = checkStateObject(where, stateDict);
    checkSameConfig(where, saved, this.config());
    const groups = this.optimizer.paramGroups.length;
    const baseLrs = checkNumberList(where, 'base_lrs', saved.base_lrs, groups);
    const lastLr = checkNumberList(where, '_last_lr', saved._last_lr, groups);
    const lastEpoch = checkInteger(where, 'last_epoch', saved.last_epoch, 0);
    const stepCount = checkInteger(where, '_step_count', saved._step_count, 1);
    this.baseLrs = baseLrs;
    this.lastEpoch = lastEpoch;
    this.stepCount = stepCount;
    this.lastLr = lastLr;
    this.optimizer.paramGroups.forEach((group, i) => (group.lr = lastLr[i]));
  }
}

/** Multiplies the lr by `gamma` every `stepSize` epochs (torch.optim.lr_scheduler.StepLR). */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  /** `stepSize`: epochs between decays; `gamma`: the factor (default 0.1). */
  constructor(optimizer: AnyOptimizer, options: { stepSize: number; gamma?: number }) {
    super('StepLR', optimizer);
    const o = checkOptionsObject('StepLR', options, ['stepSize', 'gamma']);
    this.stepSize = checkInteger('StepLR', 'stepSize', o.stepSize, 1);
    this.gamma = checkNumber('StepLR', 'gamma', o.gamma ?? 0.1, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
    this.initialStep();
  }

  // PyTorch's chainable form: it multiplies the current lr, so changes made
  // to the lr from outside the schedule carry on.
  protected override getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  protected override config(): Record<string, unknown> {
    return { step_size: this.stepSize, gamma: this.gamma };
  }
}

/**
 * Multiplies the lr by `gamma` at each milestone epoch, by `gamma`ᵏ where a
 * milestone is listed k times (torch.optim.lr_scheduler.MultiStepLR).
 */
export class MultiStepLR extends LRScheduler {
  readonly milestones: readonly number[];
  readonly gamma: number;
  private readonly counts = new Map<number, number>();

  /** `milestones`: epochs, non-decreasing; `gamma`: the factor (default 0.1). */
  constructor(optimizer: AnyOptimizer, options: { milestones: readonly number[]; gamma?: number }) {
    super('MultiStepLR', optimizer);
    const o = checkOptionsObject('MultiStepLR', options, ['milestones', 'gamma']);
    const milestones = o.milestones;
    if (!Array.isArray(milestones)) throw new TypeError(`MultiStepLR: milestones must be a list of epochs, got ${describeValue(milestones)}`);
    milestones.forEach((m: unknown, i: number) => {
      checkInteger('MultiStepLR', `milestones[${i}]`, m, 0);
      if (i > 0 && (m as number) < milestones[i - 1]) throw new RangeError(`MultiStepLR: milestones must be non-decreasing, got [${milestones.join(', ')}]`);
    });
    this.milestones = Object.freeze([...(milestones as number[])]);
    for (const m of this.milestones) this.counts.set(m, (this.counts.get(m) ?? 0) + 1);
    this.gamma = checkNumber('MultiStepLR', 'gamma', o.gamma ?? 0.1, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
    this.initialStep();
  }

  protected override getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const count = this.counts.get(this.lastEpoch);
    if (count === undefined) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma ** count);
  }

  protected override config(): Record<string, unknown> {
    return { milestones: [...this.milestones], gamma: this.gamma };
  }
}

/** A multiplier of the base lr as a function of the epoch. */
export type LrLambda = (epoch: number) => number;

/**
 * lr = base lr · lrLambda(epoch), with one function for all groups or one per
 * group (torch.optim.lr_scheduler.LambdaLR): the general form of a schedule.
 * Functions are not saved in the state dict (as PyTorch skips plain functions).
 */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: LrLambda[];

  constructor(optimizer: AnyOptimizer, options: { lrLambda: LrLambda | readonly LrLambda[] }) {
    super('LambdaLR', optimizer);
    const o = checkOptionsObject('LambdaLR', options, ['lrLambda']);
    const groups = this.optimizer.paramGroups.length;
    const list = Array.isArray(o.lrLambda) ? [...o.lrLambda] : Array.from({ length: groups }, () => o.lrLambda);
    if (list.length !== groups) throw new RangeError(`LambdaLR: expected ${groups} lrLambdas (one per parameter group), got ${list.length}`);
    list.forEach((f, i) => {
      if (typeof f !== 'function') throw new TypeError(`LambdaLR: lrLambda${Array.isArray(o.lrLambda) ? `[${i}]` : ''} must be a function of the epoch, got ${describeValue(f)}`);
    });
    this.lambdas = list as LrLambda[];
    this.initialStep();
  }

  protected override getLr(): number[] {
    return this.baseLrs.map((base, i) => base * this.lambdas[i](this.lastEpoch));
  }

  protected override config(): Record<string, unknown> {
    return { lr_lambdas: this.lambdas.map(() => null) };
  }
}

export interface CosineWarmupOptions {
  /** Steps of linear warm-up W (0: none). */
  warmupSteps: number;
  /** Steps in all, T ≥ W: the lr reaches minLr at step T and stays there. */
  totalSteps: number;
  /** The lr at step 0, the start of the warm-up (default 0). */
  warmupStartLr?: number;
  /** The lr at the end of the cosine (default 0). */
  minLr?: number;
}

/**
 * Linear warm-up, then cosine annealing, stepped once per iteration (the
 * schedule of Swin Transformer: timm's CosineLRScheduler with a warm-up prefix).
 * At step t, for each group with base lr b:
 * t < W: warmupStartLr + (b − warmupStartLr)·t/W;
 * W ≤ t < T: minLr + ½(b − minLr)(1 + cos(π (t − W)/(T − W)));
 * t ≥ T: minLr.
 */
export class CosineWarmupLR extends LRScheduler {
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly warmupStartLr: number;
  readonly minLr: number;

  constructor(optimizer: AnyOptimizer, options: CosineWarmupOptions) {
    super('CosineWarmupLR', optimizer);
    const where = 'CosineWarmupLR';
    const o = checkOptionsObject(where, options, ['warmupSteps', 'totalSteps', 'warmupStartLr', 'minLr']);
    this.warmupSteps = checkInteger(where, 'warmupSteps', o.warmupSteps, 0);
    this.totalSteps = checkInteger(where, 'totalSteps', o.totalSteps, Math.max(1, this.warmupSteps));
    const nonNegative = (v: number) => v >= 0 && Number.isFinite(v);
    this.warmupStartLr = checkNumber(where, 'warmupStartLr', o.warmupStartLr ?? 0, nonNegative, 'a finite number >= 0');
    this.minLr = checkNumber(where, 'minLr', o.minLr ?? 0, nonNegative, 'a finite number >= 0');
    this.initialStep();
  }

  protected override getLr(): number[] {
    const t = this.lastEpoch;
    const { warmupSteps: w, totalSteps: total, warmupStartLr: start, minLr } = this;
    return this.baseLrs.map((base) => {
      if (t < w) return start + ((base - start) * t) / w;
      if (t >= total) return minLr;
      const progress = (t - w) / (total - w);
      return minLr + 0.5 * (base - minLr) * (1 + Math.cos(Math.PI * progress));
    });
  }

  protected override config(): Record<string, unknown> {
    return { warmup_steps: this.warmupSteps, total_steps: this.totalSteps, warmup_start_lr: this.warmupStartLr, min_lr: this.minLr };
  }
}

export interface InverseSqrtOptions {
  /** The model width d_model. */
  dModel: number;
  /** Warm-up steps: the lr rises linearly for this many steps, then falls as step^-0.5. */
  warmupSteps: number;
  /** A constant multiplier (default 1). */
  factor?: number;
}

/**
 * The Transformer's schedule (Vaswani et al., §5.3; the "Noam" schedule),
 * stepped once per iteration: lr = factor · dModel^-0.5 · min(s^-0.5, s · warmup^-1.5),
 * with the step s counted from 1 (s = lastEpoch + 1, so the first update uses s = 1).
 * The rate is absolute: it replaces every group's lr, whatever the optimizer was given.
 */
export class InverseSqrtLR extends LRScheduler {
  readonly dModel: number;
  readonly warmupSteps: number;
  readonly factor: number;

  constructor(optimizer: AnyOptimizer, options: InverseSqrtOptions) {
    super('InverseSqrtLR', optimizer);
    const where = 'InverseSqrtLR';
    const o = checkOptionsObject(where, options, ['dModel', 'warmupSteps', 'factor']);
    this.dModel = checkInteger(where, 'dModel', o.dModel, 1);
    this.warmupSteps = checkInteger(where, 'warmupSteps', o.warmupSteps, 1);
    this.factor = checkNumber(where, 'factor', o.factor ?? 1, (v) => v > 0 && Number.isFinite(v), 'a finite number > 0');
    this.initialStep();
  }

  /** The rate of update `step` (counted from 1). */
  rateAt(step: number): number {
    return this.factor * this.dModel ** -0.5 * Math.min(step ** -0.5, step * this.warmupSteps ** -1.5);
  }

  protected override getLr(): number[] {
    const lr = this.rateAt(this.lastEpoch + 1);
    return this.baseLrs.map(() => lr);
  }

  protected override config(): Record<string, unknown> {
    return { d_model: this.dModel, warmup_steps: this.warmupSteps, factor: this.factor };
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min': reduce when the metric stops falling (a loss or an error); 'max': when it stops rising (an accuracy). */
  mode?: 'min' | 'max';
  /** new lr = lr · factor, with 0 ≤ factor < 1 (default 0.1: ResNet's "divide by 10"). */
  factor?: number;
  /** Epochs without improvement to tolerate; the lr falls on the next one (default 10). */
  patience?: number;
  /** How much better counts as better (default 1e-4). */
  threshold?: number;
  /** 'rel': better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold (default 'rel'). */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again (default 0). */
  cooldown?: number;
  /** A floor on the lr: one for all groups or one per group (default 0). */
  minLr?: number | readonly number[];
  /** Reductions smaller than this are skipped (default 1e-8). */
  eps?: number;
}

/**
 * Reduces the lr when a metric has stopped improving
 * (torch.optim.lr_scheduler.ReduceLROnPlateau): call `step(metric)` once per
 * epoch with, say, the validation error. Unlike PyTorch 1.13, `getLastLr()`
 * works before the first step (it gives the groups' lr then).
 */
export class ReduceLROnPlateau {
  readonly optimizer: AnyOptimizer;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: readonly number[];
  readonly eps: number;
  /** The best metric so far (±Infinity before the first step). */
  best: number;
  /** Epochs since the last improvement (reset by a reduction and during cooldown). */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Epochs stepped. */
  lastEpoch = 0;
  private lastLr: number[];

  constructor(optimizer: AnyOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const where = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(where, optimizer);
    const o = checkOptionsObject(where, options, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps']);
    const mode = o.mode ?? 'min';
    if (mode !== 'min' && mode !== 'max') throw new RangeError(`${where}: mode ${describeValue(mode)} is unknown; expected 'min' or 'max'`);
    const thresholdMode = o.thresholdMode ?? 'rel';
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') throw new RangeError(`${where}: threshold mode ${describeValue(thresholdMode)} is unknown; expected 'rel' or 'abs'`);
    this.mode = mode;
    this.thresholdMode = thresholdMode;
    this.factor = checkNumber(where, 'factor', o.factor ?? 0.1, (v) => v >= 0 && v < 1, 'in [0, 1) (new lr = lr · factor)');
    this.patience = checkInteger(where, 'patience', o.patience ?? 10, 0);
    this.threshold = checkNumber(where, 'threshold', o.threshold ?? 1e-4, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
    this.cooldown = checkInteger(where, 'cooldown', o.cooldown ?? 0, 0);
    this.eps = checkNumber(where, 'eps', o.eps ?? 1e-8, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
    const groups = this.optimizer.paramGroups.length;
    const minLr = o.minLr ?? 0;
    this.minLrs = Object.freeze(Array.isArray(minLr) ? checkNumberList(where, 'minLr', minLr, groups) : Array.from({ length: groups }, () => minLr as number));
    this.minLrs.forEach((v, i) => checkNumber(where, `minLr[${i}]`, v, (x) => x >= 0 && Number.isFinite(x), 'a finite number >= 0'));
    this.best = this.modeWorse;
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The worst possible metric for the mode: where `best` starts. */
  get modeWorse(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Whether a reduction happened less than `cooldown` epochs ago. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Records one epoch's metric (a number or a one-element tensor) and reduces the lr if it has plateaued. */
  step(metric: number | Tensor): void {
    const current = typeof metric === 'number' ? metric : this.readMetric(metric);
    this.lastEpoch += 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Options and progress, under PyTorch's names. */
  stateDict(): SchedulerStateDict {
    return {
      ...this.config(),
      best: this.best,
      num_bad_epochs: this.numBadEpochs,
      cooldown_counter: this.cooldownCounter,
      mode_worse: this.modeWorse,
      last_epoch: this.lastEpoch,
      _last_lr: [...this.lastLr],
    };
  }

  /** Restores the progress saved by `stateDict()`; the options must match the saved ones. */
  loadStateDict(stateDict: SchedulerStateDict): void {
    const where = 'ReduceLROnPlateau.loadStateDict';
    const saved = checkStateObject(where, stateDict);
    checkSameConfig(where, saved, this.config());
    // JSON writes ±Infinity as null: a best of null is the mode's worst value.
    const best = saved.best === null ? this.modeWorse : checkNumber(where, 'best', saved.best, () => true, 'a number');
    const numBadEpochs = checkInteger(where, 'num_bad_epochs', saved.num_bad_epochs, 0);
    const cooldownCounter = checkInteger(where, 'cooldown_counter', saved.cooldown_counter, 0);
    const lastEpoch = checkInteger(where, 'last_epoch', saved.last_epoch, 0);
    const lastLr = checkNumberList(where, '_last_lr', saved._last_lr, this.optimizer.paramGroups.length);
    this.best = best;
    this.numBadEpochs = numBadEpochs;
    this.cooldownCounter = cooldownCounter;
    this.lastEpoch = lastEpoch;
    this.lastLr = lastLr;
  }

  private config(): Record<string, unknown> {
    return {
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      threshold_mode: this.thresholdMode,
      cooldown: this.cooldown,
      min_lrs: [...this.minLrs],
      eps: this.eps,
    };
  }

  private readMetric(metric: unknown): number {
    if (!(metric instanceof Tensor) || metric.numel() !== 1)
      throw new TypeError(`ReduceLROnPlateau.step: metric must be a number or a one-element tensor, got ${describeValue(metric)}`);
    return metric.item();
  }

  private isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  private reduceLr(): void {
    this.optimizer.paramGroups.forEach((group, i) => {
      const oldLr = group.lr;
      const newLr = Math.max(oldLr * this.factor, this.minLrs[i]);
      if (oldLr - newLr > this.eps) group.lr = newLr;
    });
  }
}
