// Carlini & Wagner's evaluation of targeted attacks (IEEE S&P 2017, §VI and
// Table IV): each example is attacked towards every class other than its
// label, and the results are summarised three ways: the best case (the
// easiest target of each example), the average case (every target) and the
// worst case (the hardest target). An example counts in the best case if
// some target succeeded and in the worst case only if every target did;
// distances are averaged over the successes counted.
import { noGrad } from '../tensor/autograd.js';
import { arange } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { asFunction, checkLabels, type Attack, type AttackResult, type Classifier } from './attack.js';

export type DistortionNorm = 'l0' | 'l2' | 'linf';

export interface DistortionSummary {
  /** The fraction of examples (best, worst) or of example–target pairs (average) that succeeded. */
  successRate: number;
  /** Mean distances over the successes counted. */
  meanL0: number;
  meanL2: number;
  meanLinf: number;
  /** How many successes the means are over. */
  successes: number;
}

export interface AllTargetsResult {
  /** Every example against every other class, example-major: row i·(C−1) + j aims example i at class (label + 1 + j) mod C. */
  result: AttackResult;
  best: DistortionSummary;
  average: DistortionSummary;
  worst: DistortionSummary;
  dispose(): void;
}

/**
 * Attacks each example of `x` towards each class other than its label (given,
 * or the model's prediction), in one batch, and summarises the best,
 * average and worst case; `norm` ranks the targets (the attack's own norm).
 */
export function attackAllTargets(attack: Attack, model: Classifier, x: Tensor, options: { labels?: Tensor; norm: DistortionNorm }): AllTargetsResult {
  if (!['l0', 'l2', 'linf'].includes(options.norm)) throw new TypeError(`attackAllTargets: norm must be 'l0', 'l2' or 'linf', got '${String(options.norm)}'`);
  const forward = asFunction(attack.name, model);
  const module = typeof model === 'function' ? null : model;
  const wasTraining = module?.training ?? false;
  module?.eval();
  let expansion: { rows: Tensor; labels: Tensor; targets: Tensor; classes: number };
  try {
    expansion = noGrad(() =>
      scope(() => {
        const logits = forward(x.narrow(0, 0, 1));
        const classes = logits.shape[1];
        if (logits.ndim !== 2 || classes < 2) throw new TypeError(`${attack.name}: all targets needs a model that returns logits [batch, classes] with at least 2 classes, got ${logits.describe()}`);
        const n = x.shape[0];
        const labels = options.labels === undefined ? forward(x).argmax(1) : checkLabels(attack.name, 'labels', options.labels, n, classes);
        const others = classes - 1;
        const rows = arange(n, { dtype: 'int64' }).repeatInterleave(others);
        const offsets = arange(others, { dtype: 'int64' }).add(1).repeat([n]);
        const expanded = labels.indexSelect(0, rows);
        return { rows, labels: expanded, targets: expanded.add(offsets).remainder(classes), classes };
      }),
    );
  } finally {
    module?.train(wasTraining);
  }
  const { rows, labels, targets, classes } = expansion;
  try {
    const inputs = scope(() => x.indexSelect(0, rows));
    const result = attack.run(model, inputs, { labels, targets });
    inputs.dispose();
    const summaries = summariseAllTargets(rowOutcomes(result), classes - 1, options.norm);
    return { result, ...summaries, dispose: () => result.dispose() };
  } finally {
    for (const t of [rows, labels, targets]) t.dispose();
  }
}

/** Per-row outcomes of an attack, as plain numbers: success and the three distances. */
export interface RowOutcomes {
  success: boolean[];
  l0: number[];
  l2: number[];
  linf: number[];
}

/** The outcomes of a result's rows. */
export function rowOutcomes(result: AttackResult): RowOutcomes {
  return {
    success: result.success.toArray() as boolean[],
    l0: result.l0.toArray() as number[],
    l2: result.l2.toArray() as number[],
    linf: result.linf.toArray() as number[],
  };
}

/** Success rate and mean distances over the successful rows. */
export function summariseRows(rows: RowOutcomes): DistortionSummary {
  return summary(rows.success.length, rows.success.flatMap((ok, i) => (ok ? [i] : [])), rows);
}

function summary(total: number, chosen: number[], rows: RowOutcomes): DistortionSummary {
  const mean = (d: number[]) => (chosen.length === 0 ? NaN : chosen.reduce((sum, i) => sum + d[i], 0) / chosen.length);
  return { successRate: total === 0 ? NaN : chosen.length / total, meanL0: mean(rows.l0), meanL2: mean(rows.l2), meanLinf: mean(rows.linf), successes: chosen.length };
}

/**
 * The best, average and worst case of rows laid out example-major, `others`
 * targets per example, ranked by `norm`.
 */
export function summariseAllTargets(rows: RowOutcomes, others: number, norm: DistortionNorm): { best: DistortionSummary; average: DistortionSummary; worst: DistortionSummary } {
  const n = rows.success.length / others;
  if (!Number.isInteger(n)) throw new RangeError(`summariseAllTargets: ${rows.success.length} rows are not whole examples of ${others} targets`);
  const best: number[] = [];
  const worst: number[] = [];
  for (let i = 0; i < n; i++) {
    const mine = Array.from({ length: others }, (_, j) => i * others + j);
    const succeeded = mine.filter((r) => rows.success[r]);
    if (succeeded.length > 0) best.push(succeeded.reduce((a, b) => (rows[norm][b] < rows[norm][a] ? b : a)));
    if (succeeded.length === others) worst.push(succeeded.reduce((a, b) => (rows[norm][b] > rows[norm][a] ? b : a)));
  }
  return { best: summary(n, best, rows), average: summariseRows(rows), worst: summary(n, worst, rows) };
}
