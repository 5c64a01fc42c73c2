// Carlini & Wagner's evaluation of targeted attacks (IEEE S&P 2017, §VI and
// Table IV): each example is attacked towards every class other than its
// label, and the results are summarised three ways: the best case (the
// easiest target of each example), the average case (every target) and the
// worst case (the hardest target). An example counts in the best case if
// some target succeeded and in the worst case only if every target did;
// distances are averaged over the successes counted.
import { noGrad } from '../tensor/autograd.js';
import { arange } from '../tensor/creation.js';
import { where } from '../tensor/ops.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkLabels, type Attack, type AttackResult, type Classifier } from './attack.js';

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
  const forward = typeof model === 'function' ? model : (z: Tensor) => model.forward(z) as Tensor;
  const { rows, labels, targets, classes } = noGrad(() =>
    scope(() => {
      const wasTraining = typeof model === 'function' ? false : model.training;
      if (typeof model !== 'function') model.eval();
      const logits = forward(x.narrow(0, 0, 1));
      if (typeof model !== 'function') model.train(wasTraining);
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
  try {
    const inputs = scope(() => x.indexSelect(0, rows));
    const result = attack.run(model, inputs, { labels, targets });
    inputs.dispose();
    const summaries = noGrad(() => summarise(result, x.shape[0], classes - 1, options.norm));
    return { result, ...summaries, dispose: () => result.dispose() };
  } finally {
    for (const t of [rows, labels, targets]) t.dispose();
  }
}

function summarise(result: AttackResult, n: number, others: number, norm: DistortionNorm): { best: DistortionSummary; average: DistortionSummary; worst: DistortionSummary } {
  return scope(() => {
    const success = result.success.view(n, others);
    const distances = { l0: result.l0.view(n, others), l2: result.l2.view(n, others), linf: result.linf.view(n, others) };
    const ranking = distances[norm];
    const pick = (column: Tensor, counted: Tensor): DistortionSummary => {
      const chosen = (d: Tensor) => d.gather(1, column.view(-1, 1)).view(-1).maskedSelect(counted);
      const count = counted.sum().item();
      return {
        successRate: counted.float().mean().item(),
        meanL0: count === 0 ? NaN : chosen(distances.l0).mean().item(),
        meanL2: count === 0 ? NaN : chosen(distances.l2).mean().item(),
        meanLinf: count === 0 ? NaN : chosen(distances.linf).mean().item(),
        successes: count,
      };
    };
    const best = pick(where(success, ranking, Infinity).argmin(1), success.any(1));
    const worst = pick(where(success, ranking, -Infinity).argmax(1), success.all(1));
    const count = success.sum().item();
    const over = (d: Tensor) => (count === 0 ? NaN : d.maskedSelect(success).mean().item());
    const average: DistortionSummary = { successRate: success.float().mean().item(), meanL0: over(distances.l0), meanL2: over(distances.l2), meanLinf: over(distances.linf), successes: count };
    return { best, average, worst };
  });
}
