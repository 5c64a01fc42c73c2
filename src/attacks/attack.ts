// The base every attack stands on. It owns what users of other libraries keep
// getting wrong: the model runs in evaluation mode during the attack (and gets
// its mode back after), inputs live in a stated box and normalisation belongs
// inside the model, labels default to the model's own predictions, targets can
// be given, random or least likely, the caller's tensors are never touched,
// and every result is re-checked against the attack's constraints.
import { enableGrad, grad, noGrad } from '../tensor/autograd.js';
import { full, randint, tensor, zeros } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import { describeValue, Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';

/** Anything differentiable that maps a batch [N, …] to logits [N, classes]. */
export type Classifier = Module | ((x: Tensor) => Tensor);

export type Norm = 'linf' | 'l2';

/** Who the attack aims at: away from the true label, or towards a target. */
export type TargetMode = 'untargeted' | 'given' | 'random' | 'least-likely';

export interface AttackOptions {
  /** The valid input range; [0, 1] for images as the papers use them. */
  box?: [number, number];
  /**
   * Round results to the 256 levels of 8-bit images (the box in 255 steps)
   * and repair examples the rounding broke by a greedy search that moves one
   * pixel one level at a time (Carlini & Wagner, §VI), so every success is
   * a valid image. For the minimum-distortion attacks, whose results have no bound to keep.
   */
  discretize?: boolean;
}

export interface RunOptions {
  /** True labels (int64 [N]); the model's own predictions when omitted. */
  labels?: Tensor;
  /** 'untargeted' (default), 'given' (with `targets`), 'random' (a uniformly drawn wrong class) or 'least-likely' (Kurakin et al.). */
  targetMode?: TargetMode;
  /** Target classes for targetMode 'given' (int64 [N]). */
  targets?: Tensor;
}

export interface AttackResult {
  /** The adversarial batch, same shape as the input, inside the box. */
  adversarial: Tensor;
  /** The labels the attack was measured against (given or predicted). */
  labels: Tensor;
  /** The targets of a targeted attack, else null. */
  targets: Tensor | null;
  /** Per example: did the model's prediction change (untargeted) or reach the target (targeted)? bool [N]. */
  success: Tensor;
  /** Per-example distances of adversarial − input: L0 (changed elements), L2 and L∞. float32 [N]. */
  l0: Tensor;
  l2: Tensor;
  linf: Tensor;
  /** Per-example attack loss at the returned point, float32 [N]. */
  loss: Tensor;
  /** Gradient steps taken (over all restarts). */
  iterations: number;
  /** Iterative attacks with recordLoss: the loss of every example before each step and at the end, [restarts, steps + 1, N]. */
  lossHistory: Tensor | null;
  /** Score-based attacks: the model evaluations spent on each example, float32 [N]; else null. */
  queries: Tensor | null;
  /** Frees every tensor of the result. */
  dispose(): void;
}

/** What a concrete attack computes; the base adds the bookkeeping. */
export interface AttackCore {
  adversarial: Tensor;
  iterations: number;
  lossHistory?: Tensor;
  queries?: Tensor;
  /** Per-example success and attack loss at `adversarial`, when the attack already knows them (saves a forward pass). */
  success?: Tensor;
  loss?: Tensor;
}

// Row sums within this of 1 with every entry in [0, 1] look like softmax output.
const PROBABILITY_TOLERANCE = 1e-4;
// Inputs may stray from the box by float rounding of the data pipeline.
const BOX_TOLERANCE = 1e-6;

export abstract class Attack {
  readonly box: [number, number];
  readonly discretize: boolean;
  /** False only for attacks told not to clip (FGSM as Goodfellow et al. ran it); the box is then not enforced on results. */
  protected clipsToBox = true;

  constructor(readonly name: string, options: AttackOptions = {}) {
    const box = options.box ?? [0, 1];
    if (!Array.isArray(box) || box.length !== 2 || !(box[0] < box[1]) || !box.every(Number.isFinite))
      throw new RangeError(`${name}: box must be [low, high] with low < high, got ${JSON.stringify(box)}`);
    this.box = [box[0], box[1]];
    this.discretize = options.discretize ?? false;
    if (typeof this.discretize !== 'boolean') throw new TypeError(`${name}: discretize must be true or false, got ${describeValue(options.discretize)}`);
  }

  /**
   * The attack proper: returns the adversarial batch for inputs `x` (a copy
   * the attack may use freely) and `goal` labels, towards them if `targeted`;
   * `labels` are the true labels (equal to `goal` when untargeted), for
   * losses that need both. Runs inside a scope with the model in evaluation mode.
   */
  protected abstract perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean, labels: Tensor): AttackCore;

  /** The largest distance the attack promises, or null if it is unbounded; checked on every result. */
  protected abstract bound(): { norm: Norm; eps: number } | null;

  /** Attacks the batch `x` (inside the box, [N, …]); see RunOptions. */
  run(model: Classifier, x: Tensor, options: RunOptions = {}): AttackResult {
    const forward = asFunction(this.name, model);
    if (!(x instanceof Tensor)) throw new TypeError(`${this.name}: the input must be a Tensor, got ${describeValue(x)}`);
    if (!x.dtype.startsWith('float')) throw new TypeError(`${this.name}: the input must be a floating-point tensor, got ${x.describe()}`);
    if (x.ndim < 2 || x.shape[0] === 0) throw new RangeError(`${this.name}: expected a non-empty batch [N, …], got ${x.describe()}`);
    if (this.discretize && this.bound() !== null) throw new TypeError(`${this.name}: discretize is for the minimum-distortion attacks; rounding could carry a result of an ε-bounded attack past ε`);
    const wasTraining = model instanceof Module ? model.training : false;
    // The attack needs gradients for the input alone: frozen parameters spare
    // the weight gradients' work (a fifth of a C&W step) and leave their .grad untouched.
    const learning = model instanceof Module ? model.parameters().filter((p) => p.requiresGrad) : [];
    if (model instanceof Module) model.eval();
    for (const p of learning) p.requiresGrad_(false);
    try {
      return scope(() => {
        this.checkBox(x);
        const n = x.shape[0];
        const mode = options.targetMode ?? (options.targets !== undefined ? 'given' : 'untargeted');
        // The whole batch's logits are needed only for predicted labels or
        // least-likely targets; otherwise one example shows the class count
        // and whether the model returns logits.
        const needsAll = options.labels === undefined || mode === 'least-likely';
        const logits = noGrad(() => forward(needsAll ? x : x.narrow(0, 0, 1)));
        checkLogits(this.name, logits, needsAll ? n : 1);
        const classes = logits.shape[1];
        const labels = options.labels === undefined ? logits.argmax(1) : checkLabels(this.name, 'labels', options.labels, n, classes).clone();
        const targets = chooseTargets(this.name, mode, options.targets, logits, labels, classes);
        const targeted = targets !== null;
        const goal = targets ?? labels;
        const input = x.detach().clone();
        const core = this.perturb(forward, input, goal, targeted, labels);
        const adversarial = this.discretize ? toLattice(forward, core.adversarial.detach(), goal, targeted, this.box) : core.adversarial.detach();
        const [success, loss] =
          !this.discretize && core.success !== undefined && core.loss !== undefined
            ? [core.success, core.loss]
            : noGrad(() => {
                const out = forward(adversarial);
                return [reached(out, goal, targeted), attackLoss(out, goal, targeted)];
              });
        const distances = noGrad(() => perExampleDistances(adversarial, input));
        const result = { adversarial, labels, targets, success, loss, iterations: core.iterations, lossHistory: core.lossHistory ?? null, queries: core.queries ?? null, ...distances };
        checkConstraints(this.name, result, input, this.clipsToBox ? this.box : null, this.bound());
        return { ...result, dispose: () => disposeResult(result) };
      });
    } finally {
      for (const p of learning) p.requiresGrad_(true);
      if (model instanceof Module) model.train(wasTraining);
    }
  }

  private checkBox(x: Tensor): void {
    const [lo, hi] = this.box;
    const [min, max] = noGrad(() => [x.min().item(), x.max().item()]);
    if (Number.isNaN(min) || Number.isNaN(max)) throw new RangeError(`${this.name}: the input contains NaN`);
    if (min < lo - BOX_TOLERANCE || max > hi + BOX_TOLERANCE)
      throw new RangeError(
        `${this.name}: inputs must lie in the box [${lo}, ${hi}], but range over [${min}, ${max}]; ` +
          'give the box your data uses, or move normalisation into the model (withNormalization)',
      );
  }
}

// 8-bit images: the box in this many steps.
const LEVELS = 255;
// The repair's limit of one-level moves per example.
const REPAIR_STEPS = 1000;

/**
 * Rounds a batch to the 8-bit lattice of the box; examples that reached
 * the goal before rounding and not after are repaired greedily: each step
 * moves the one pixel (by one level, inside the box) whose move the
 * gradient of the goal margin says gains most, until the goal is reached.
 */
function toLattice(model: (x: Tensor) => Tensor, adversarial: Tensor, goal: Tensor, targeted: boolean, box: [number, number]): Tensor {
  const [lo, hi] = box;
  const level = (hi - lo) / LEVELS;
  let current = noGrad(() => scope(() => adversarial.sub(lo).div(level).round().mul(level).add(lo).clamp(lo, hi)));
  // Only what the rounding broke is repaired.
  let broken = noGrad(() => scope(() => reached(model(adversarial), goal, targeted).logicalAnd(reached(model(current), goal, targeted).logicalNot())));
  for (let step = 0; step < REPAIR_STEPS; step++) {
    const next = scope(() => {
      const idx = broken.nonzero().flatten();
      if (idx.shape[0] === 0) return null;
      const point = current.indexSelect(0, idx).requiresGrad_(true);
      const rowGoal = goal.indexSelect(0, idx);
      const [g] = grad(enableGrad(() => goalMargin(model(point), rowGoal, targeted).sum()), point);
      return noGrad(() => {
        const flat = point.detach().flatten(1);
        const gain = g!.flatten(1);
        // The first-order gain of one level up (where there is room) or down.
        const up = where(flat.add(level).le(hi + level / 2), gain, -Infinity);
        const down = where(flat.sub(level).ge(lo - level / 2), gain.neg(), -Infinity);
        const upBest = up.max(1);
        const downBest = down.max(1);
        const goUp = upBest.values.ge(downBest.values);
        const pixel = where(goUp, upBest.indices, downBest.indices).view(-1, 1);
        const moved = flat.gather(1, pixel).add(where(goUp, level, -level).view(-1, 1)).clamp(lo, hi);
        const updated = flat.scatter(1, pixel, moved).view(point.shape);
        const stillBroken = reached(model(updated), rowGoal, targeted).logicalNot();
        return putRows({ current, broken }, idx, { current: updated, broken: stillBroken });
      });
    });
    if (next === null) break;
    current.dispose();
    broken.dispose();
    ({ current, broken } = next);
  }
  broken.dispose();
  return current;
}

/**
 * The margin of the goal per example [N]: targeted, Z_t − max_{i≠t} Z_i;
 * untargeted, max_{i≠y} Z_i − Z_y. Positive when the goal is reached. The
 * goal's own logit is excluded from the max by masking with −∞, so the
 * margin is right for negative logits too.
 */
export function goalMargin(logits: Tensor, goal: Tensor, targeted: boolean): Tensor {
  return scope(() => {
    const index = goal.view(-1, 1);
    const own = logits.gather(1, index).view(-1);
    const others = logits.scatter(1, index, -Infinity).amax(1);
    return targeted ? own.sub(others) : others.sub(own);
  });
}

function disposeResult(result: Omit<AttackResult, 'dispose'>): void {
  for (const t of [result.adversarial, result.labels, result.targets, result.success, result.loss, result.l0, result.l2, result.linf, result.lossHistory, result.queries]) t?.dispose();
}

/** The classifier as a function from a batch to logits; `name` says who asked when it is neither a Module nor a function. */
export function asFunction(name: string, model: Classifier): (x: Tensor) => Tensor {
  if (model instanceof Module) return (x) => model.forward(x) as Tensor;
  if (typeof model === 'function') return model;
  throw new TypeError(`${name}: the model must be an nn.Module or a function from a batch to logits, got ${describeValue(model)}`);
}

function checkLogits(name: string, logits: unknown, n: number): void {
  if (!(logits instanceof Tensor) || logits.ndim !== 2 || logits.shape[0] !== n)
    throw new TypeError(`${name}: the model must return logits [batch, classes]; for a batch of ${n} it returned ${logits instanceof Tensor ? logits.describe() : describeValue(logits)}`);
  if (logits.shape[1] < 2) throw new RangeError(`${name}: the model must return at least 2 classes, got ${logits.describe()}`);
  const looksLikeProbabilities = noGrad(() =>
    scope(() => logits.min().item() >= 0 && logits.max().item() <= 1 && logits.sum(1).sub(1).abs().max().item() < PROBABILITY_TOLERANCE),
  );
  if (looksLikeProbabilities)
    throw new TypeError(`${name}: the model seems to return probabilities (every row is non-negative and sums to 1); attacks need logits, so remove the final softmax`);
}

/** Checks an int64 class tensor [n] with values in [0, classes). */
export function checkLabels(name: string, what: string, labels: Tensor, n: number, classes: number): Tensor {
  if (!(labels instanceof Tensor)) throw new TypeError(`${name}: ${what} must be an int64 Tensor, got ${describeValue(labels)}`);
  if (labels.dtype !== 'int64') throw new TypeError(`${name}: ${what} must be int64, got ${labels.describe()}`);
  if (labels.ndim !== 1 || labels.shape[0] !== n) throw new RangeError(`${name}: ${what} must have shape [${n}] (one per input), got ${labels.describe()}`);
  const [min, max] = noGrad(() => [labels.min().item(), labels.max().item()]);
  if (min < 0 || max >= classes) throw new RangeError(`${name}: ${what} must be class indices in [0, ${classes - 1}], got values from ${min} to ${max}`);
  return labels;
}

function chooseTargets(name: string, mode: TargetMode, given: Tensor | undefined, logits: Tensor, labels: Tensor, classes: number): Tensor | null {
  if (mode !== 'given' && given !== undefined) throw new TypeError(`${name}: targets were given but targetMode is '${mode}'`);
  switch (mode) {
    case 'untargeted':
      return null;
    case 'given': {
      if (given === undefined) throw new TypeError(`${name}: targetMode 'given' needs targets`);
      const targets = checkLabels(name, 'targets', given, labels.shape[0], classes);
      if (noGrad(() => targets.eq(labels).any().item()))
        throw new RangeError(`${name}: some targets equal the true labels; a targeted attack needs a different class`);
      return targets.clone();
    }
    case 'random':
      // label + U{1 … C−1} mod C is uniform over the wrong classes.
      return noGrad(() => labels.add(randint(1, classes, labels.shape)).remainder(classes));
    case 'least-likely':
      return noGrad(() => logits.argmin(1));
    default:
      throw new TypeError(`${name}: unknown targetMode '${String(mode)}'; expected 'untargeted', 'given', 'random' or 'least-likely'`);
  }
}

/**
 * The loss an attack ascends, per example: cross-entropy of the label
 * (untargeted), or minus cross-entropy of the target (targeted).
 */
export function attackLoss(logits: Tensor, goal: Tensor, targeted: boolean): Tensor {
  const ce = F.crossEntropy(logits, goal, { reduction: 'none' });
  return targeted ? ce.neg() : ce;
}

/** Whether each example currently reaches the attack's goal. */
export function reached(logits: Tensor, goal: Tensor, targeted: boolean): Tensor {
  const pred = logits.argmax(1);
  return targeted ? pred.eq(goal) : pred.ne(goal);
}

/**
 * ∇ₓ of the attack loss at x, with the per-example loss and logits there
 * (detached). Summing the per-example losses keeps each example's gradient its own.
 */
export function inputGradient(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean): { grad: Tensor; loss: Tensor; logits: Tensor } {
  return scope(() => {
    const xr = x.detach().requiresGrad_(true);
    const logits = enableGrad(() => model(xr));
    const loss = enableGrad(() => attackLoss(logits, goal, targeted));
    const [g] = grad(enableGrad(() => loss.sum()), xr);
    return { grad: g!, loss: loss.detach(), logits: logits.detach() };
  });
}

function perExampleDistances(adversarial: Tensor, input: Tensor): { l0: Tensor; l2: Tensor; linf: Tensor } {
  const delta = adversarial.sub(input).flatten(1).float();
  return { l0: delta.ne(0).sum(1).float(), l2: delta.norm(2, 1), linf: delta.abs().amax(1) };
}

// Float32 rounding of x + δ and of the projection leaves δ within a few ulps
// of the bound: ε·1e-5 plus an absolute 1e-6 for inputs of magnitude ~1.
const NORM_RTOL = 1e-5;
const NORM_ATOL = 1e-6;

/**
 * Re-checks a result: finite, inside the box, and within the promised
 * distance. A violation is a bug in the attack, so it throws.
 */
export function checkConstraints(name: string, result: { adversarial: Tensor; l2: Tensor; linf: Tensor }, input: Tensor, box: [number, number] | null, bound: { norm: Norm; eps: number } | null): void {
  noGrad(() =>
    scope(() => {
      const adv = result.adversarial;
      if (adv.ndim !== input.ndim || adv.shape.some((d, i) => d !== input.shape[i]))
        throw new Error(`${name}: the adversarial batch ${adv.describe()} does not have the input's shape ${input.describe()}`);
      if (!adv.isfinite().all().item()) throw new Error(`${name}: the adversarial batch contains NaN or infinite values`);
      const [min, max] = [adv.min().item(), adv.max().item()];
      if (box !== null && (min < box[0] || max > box[1])) throw new Error(`${name}: the adversarial batch leaves the box [${box[0]}, ${box[1]}] (range [${min}, ${max}])`);
      if (bound !== null) {
        const worst = (bound.norm === 'linf' ? result.linf : result.l2).max().item();
        if (worst > bound.eps * (1 + NORM_RTOL) + NORM_ATOL)
          throw new Error(`${name}: a perturbation has ${bound.norm === 'linf' ? 'L∞' : 'L2'} norm ${worst}, more than ε = ${bound.eps}`);
      }
    }),
  );
}

/** Wraps a model that expects normalised inputs so attacks can work in the [0, 1] pixel box: model((x − mean) / std). */
export function withNormalization(model: Classifier, mean: readonly number[], std: readonly number[]): (x: Tensor) => Tensor {
  const forward = asFunction('withNormalization', model);
  if (mean.length === 0 || mean.length !== std.length || std.some((s) => !(s > 0)))
    throw new RangeError('withNormalization: mean and std need the same (non-zero) length and std > 0');
  return (x) =>
    scope(() => {
      if (x.ndim < 2 || x.shape[1] !== mean.length)
        throw new RangeError(`withNormalization: expected ${mean.length} channels in dimension 1, got ${x.describe()}`);
      const shape = [1, mean.length, ...Array<number>(x.ndim - 2).fill(1)];
      const m = tensor([...mean], { dtype: x.dtype, shape });
      const s = tensor([...std], { dtype: x.dtype, shape });
      return forward(x.sub(m).div(s));
    });
}

/** A per-example tensor [N] viewed as [N, 1, …] so it broadcasts over a batch with `ndim` dimensions. */
export function perExample(t: Tensor, ndim: number): Tensor {
  return t.view(t.shape[0], ...Array<number>(ndim - 1).fill(1));
}

/** Each example's norm of a batch [N, …]: L∞ (largest magnitude) or L2. float [N]. */
export function exampleNorm(t: Tensor, norm: Norm): Tensor {
  return scope(() => (norm === 'linf' ? t.flatten(1).abs().amax(1) : t.flatten(1).norm(2, 1)));
}

/** Rows `at` (int64 indices) of every field of the record `from`, as new tensors. */
export function takeRows<T extends { [K in keyof T]: Tensor }>(from: T, at: Tensor): T {
  return noGrad(() => Object.fromEntries(Object.entries<Tensor>(from).map(([key, t]) => [key, t.indexSelect(0, at)]))) as T;
}

/**
 * A copy of the record `into` in which rows `at` (int64 indices) of each field
 * named in `rows` are replaced by `rows`' field; the other fields are `into`'s
 * own tensors. `into` is unchanged, so `advance(into, putRows(into, at, rows))`
 * updates a loop's state.
 */
export function putRows<T extends { [K in keyof T]: Tensor }>(into: T, at: Tensor, rows: Partial<T>): T {
  return noGrad(() => {
    const next = { ...into };
    for (const key of Object.keys(rows) as (keyof T)[]) next[key] = into[key].clone().indexPut_([at], rows[key]!) as T[keyof T];
    return next;
  });
}

/** Replaces the tensors of a loop's state (a record of tensors, not a bare tensor): disposes every old tensor the new state does not reuse. */
export function advance<T extends object>(old: Exclude<T, Tensor>, next: T): T {
  const kept = new Set(Object.values(next));
  for (const t of Object.values(old)) if (t instanceof Tensor && !kept.has(t)) t.dispose();
  return next;
}

/** One run of an attack over some examples: its points, which reach the goal, and a score (higher is better). */
export interface Run {
  x: Tensor;
  success: Tensor;
  score: Tensor;
}

/**
 * Runs `attempt` up to `times` times: first on every example of `x`
 * (`idx` null), then each time only on the examples no run has broken yet
 * (`idx` their positions). Keeps per example the first success, or else the
 * best-scoring point. Stops early once every example is broken.
 */
export function bestOfRuns(x: Tensor, attempt: (idx: Tensor | null, run: number) => Run, times: number): Run & { runs: number } {
  const n = x.shape[0];
  let best: Run = noGrad(() => ({ x: x.clone(), success: zeros([n], { dtype: 'bool' }), score: full([n], -Infinity) }));
  let runs = 0;
  for (let r = 0; r < times; r++) {
    const next = scope(() => {
      const idx = r === 0 ? null : best.success.logicalNot().nonzero().flatten();
      if (idx !== null && idx.shape[0] === 0) return null;
      const run = attempt(idx, r);
      return noGrad((): Run => {
        if (idx === null) return run;
        const old = { x: best.x.indexSelect(0, idx), score: best.score.indexSelect(0, idx) };
        const better = run.success.logicalOr(run.score.gt(old.score));
        return putRows(best, idx, { x: where(perExample(better, x.ndim), run.x, old.x), success: run.success, score: where(better, run.score, old.score) });
      });
    });
    if (next === null) break;
    runs++;
    best = advance(best, next);
  }
  return { ...best, runs };
}

/**
 * The classes the model ranks highest on the clean inputs, best first,
 * int64 [N, C], for attacks that aim in turn at the 2nd, 3rd, … of them
 * (APGD-T, FAB-T). Checks that the model has the `minimum` classes `what`
 * needs, and more than `targetClasses`.
 */
export function targetRanking(name: string, model: (x: Tensor) => Tensor, x: Tensor, targetClasses: number, minimum: { classes: number; what: string }): Tensor {
  const ranking = noGrad(() => scope(() => model(x).argsort({ dim: 1, descending: true })));
  const classes = ranking.shape[1];
  if (classes < minimum.classes) {
    ranking.dispose();
    throw new RangeError(`${name}: ${minimum.what} needs at least ${minimum.classes} classes, the model has ${classes}`);
  }
  if (targetClasses > classes - 1) {
    ranking.dispose();
    throw new RangeError(`${name}: targetClasses ${targetClasses} is more than the ${classes - 1} classes other than the true one`);
  }
  return ranking;
}
