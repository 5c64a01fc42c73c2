// Robustness evaluation the way the literature reports it: clean accuracy,
// and robust accuracy = (examples the model gets right AND the attack fails
// on) / (all examples), so a clean error counts as not robust. Every attack's
// output is re-checked against its constraints by the attack base.
import { noGrad } from '../tensor/autograd.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { asFunction, type Attack, type AttackResult, type Classifier } from '../attacks/attack.js';

export interface AttackSpec {
  /** A short name for tables, e.g. 'PGD-40'. */
  name: string;
  attack: Attack;
  /** Shown in tables: the norm, ε, steps and restarts. */
  norm: string;
  eps: number;
  steps: number;
  restarts: number;
}

export interface RobustnessRow {
  attack: string;
  norm: string;
  eps: number;
  steps: number;
  restarts: number;
  /** Examples evaluated. */
  n: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Fraction of the clean-correct examples the attack fooled. */
  successRate: number;
  /** Mean distances over the examples the attack fooled (NaN if none). */
  meanL2: number;
  meanLinf: number;
  meanL0: number;
  seconds: number;
}

export interface RobustnessOptions {
  /** Examples attacked at once. */
  batchSize?: number;
  /** Called after every batch with the examples done so far. */
  onBatch?: (done: number, total: number) => void;
  /** Called with every batch's attack result (its tensors live until the call returns) and the batch's first index. */
  onResult?: (result: AttackResult, start: number) => void;
}

/** Clean accuracy of `model` on (x, y), in evaluation mode. */
export function cleanAccuracy(model: Classifier, x: Tensor, y: Tensor, batchSize = 1000): number {
  const forward = asFunction('cleanAccuracy', model);
  const wasTraining = model instanceof Module ? model.training : false;
  if (model instanceof Module) model.eval();
  try {
    let correct = 0;
    for (let i = 0; i < x.shape[0]; i += batchSize) {
      correct += noGrad(() => scope(() => forward(x.narrow(0, i, Math.min(batchSize, x.shape[0] - i))).argmax(1).eq(y.narrow(0, i, Math.min(batchSize, x.shape[0] - i))).sum().item()));
    }
    return correct / x.shape[0];
  } finally {
    if (model instanceof Module) model.train(wasTraining);
  }
}

/** Evaluates one attack over (x, y) in batches; see RobustnessRow. */
export function evaluateAttack(model: Classifier, x: Tensor, y: Tensor, spec: AttackSpec, options: RobustnessOptions = {}): RobustnessRow {
  const n = x.shape[0];
  if (y.ndim !== 1 || y.shape[0] !== n) throw new RangeError(`evaluateAttack: labels ${y.describe()} do not match the ${n} inputs`);
  const batchSize = options.batchSize ?? 500;
  const forward = asFunction('evaluateAttack', model);
  const tally: Tally = { n, clean: 0, robust: 0, sumL2: 0, sumLinf: 0, sumL0: 0 };
  const started = performance.now();
  for (let i = 0; i < n; i += batchSize) {
    const size = Math.min(batchSize, n - i);
    scope(() => {
      const xb = x.narrow(0, i, size);
      const yb = y.narrow(0, i, size);
      const result = spec.attack.run(model, xb, { labels: yb });
      options.onResult?.(result, i);
      noGrad(() => {
        const wasTraining = model instanceof Module ? model.training : false;
        if (model instanceof Module) model.eval();
        try {
          const right = forward(xb).argmax(1).eq(yb);
          const broken = right.logicalAnd(result.success);
          tally.clean += right.sum().item();
          tally.robust += right.logicalAnd(result.success.logicalNot()).sum().item();
          tally.sumL2 += result.l2.maskedSelect(broken).sum().item();
          tally.sumLinf += result.linf.maskedSelect(broken).sum().item();
          tally.sumL0 += result.l0.maskedSelect(broken).sum().item();
        } finally {
          if (model instanceof Module) model.train(wasTraining);
        }
      });
    });
    options.onBatch?.(i + size, n);
  }
  const head = { attack: spec.name, norm: spec.norm, eps: spec.eps, steps: spec.steps, restarts: spec.restarts };
  return toRow(head, tally, (performance.now() - started) / 1000);
}

// What a row is made of: examples, those classified right (clean), those
// right and not broken (robust), and the distance sums over the broken ones
// (clean − robust of them), which add up over parts of an evaluation.
interface Tally {
  n: number;
  clean: number;
  robust: number;
  sumL2: number;
  sumLinf: number;
  sumL0: number;
}

function toRow(head: Pick<RobustnessRow, 'attack' | 'norm' | 'eps' | 'steps' | 'restarts'>, t: Tally, seconds: number): RobustnessRow {
  const fooled = t.clean - t.robust;
  return {
    ...head,
    n: t.n,
    cleanAccuracy: t.clean / t.n,
    robustAccuracy: t.robust / t.n,
    successRate: t.clean ? fooled / t.clean : NaN,
    meanL2: fooled ? t.sumL2 / fooled : NaN,
    meanLinf: fooled ? t.sumLinf / fooled : NaN,
    meanL0: fooled ? t.sumL0 / fooled : NaN,
    seconds,
  };
}

/**
 * One row from the rows of consecutive parts of an evaluation with the same
 * attack: counts and distance sums add up. (Rows that crossed JSON have null
 * for NaN.)
 */
export function mergeRows(rows: RobustnessRow[]): RobustnessRow {
  if (rows.length === 0) throw new RangeError('mergeRows: no rows to merge');
  const tally: Tally = { n: 0, clean: 0, robust: 0, sumL2: 0, sumLinf: 0, sumL0: 0 };
  for (const row of rows) {
    const clean = Math.round(row.cleanAccuracy * row.n);
    const robust = Math.round(row.robustAccuracy * row.n);
    const fooled = clean - robust;
    tally.n += row.n;
    tally.clean += clean;
    tally.robust += robust;
    if (fooled > 0) {
      tally.sumL2 += row.meanL2 * fooled;
      tally.sumLinf += row.meanLinf * fooled;
      tally.sumL0 += row.meanL0 * fooled;
    }
  }
  const { attack, norm, eps, steps, restarts } = rows[0];
  return toRow({ attack, norm, eps, steps, restarts }, tally, rows.reduce((sum, row) => sum + row.seconds, 0));
}

/** Evaluates a list of attacks (Madry et al.'s Table 1 layout). */
export function evaluateSuite(model: Classifier, x: Tensor, y: Tensor, specs: AttackSpec[], options: RobustnessOptions & { onAttack?: (spec: AttackSpec) => void } = {}): RobustnessRow[] {
  return specs.map((spec) => {
    options.onAttack?.(spec);
    return evaluateAttack(model, x, y, spec, options);
  });
}

export interface SweepPoint {
  eps: number;
  robustAccuracy: number;
}

/** Robust accuracy as a function of ε, for accuracy-versus-ε curves. */
export function epsSweep(model: Classifier, x: Tensor, y: Tensor, epsilons: number[], makeAttack: (eps: number) => AttackSpec, options: RobustnessOptions = {}): SweepPoint[] {
  return epsilons.map((eps) => {
    if (eps === 0) return { eps, robustAccuracy: cleanAccuracy(model, x, y, options.batchSize) };
    return { eps, robustAccuracy: evaluateAttack(model, x, y, makeAttack(eps), options).robustAccuracy };
  });
}

function percent(v: number): string {
  return Number.isNaN(v) ? '—' : `${(100 * v).toFixed(1)}%`;
}

function fixed(v: number, digits: number): string {
  return Number.isNaN(v) ? '—' : v.toFixed(digits);
}

/** A plain-text table of evaluation rows. */
export function formatTable(rows: RobustnessRow[], title = ''): string {
  const header = ['attack', 'norm', 'ε', 'steps', 'restarts', 'n', 'clean', 'robust', 'mean L2', 'mean L∞', 'time'];
  const body = rows.map((r) => [r.attack, r.norm, fixed(r.eps, 3), String(r.steps), String(r.restarts), String(r.n), percent(r.cleanAccuracy), percent(r.robustAccuracy), fixed(r.meanL2, 3), fixed(r.meanLinf, 3), `${r.seconds.toFixed(1)} s`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [title, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].filter((l) => l !== '').join('\n');
}
