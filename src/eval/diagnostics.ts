// Signs that an evaluation is fooled by gradient masking, after Carlini et
// al., "On Evaluating Adversarial Robustness" (2019): a black-box attack that
// beats the white-box ones, an attack on cross-entropy far weaker than one on
// a scale-invariant loss, and robust accuracy that does not fall as the budget
// grows. Each flag is a sentence for a report; no flags means no sign found.
import type { AutoAttackResult } from './autoattack.js';
import type { RobustnessRow, SweepPoint } from './robustness.js';

/** PGD on cross-entropy leaving this much more robust accuracy than AutoAttack (5 points) is flagged. */
export const PGD_GAP_ALARM = 0.05;
/** Robust accuracy rising by more than this (2 points) as ε grows is flagged. */
export const SWEEP_RISE_ALARM = 0.02;

export interface MaskingEvidence {
  /** AutoAttack on the same examples as `pgd`; its own checks (Square, zero gradients, randomness) are included. */
  autoAttack?: AutoAttackResult;
  /** PGD rows on the same examples. */
  pgd?: RobustnessRow[];
  /** Robust accuracy against ε for one attack, ε increasing. */
  sweep?: { attack: string; points: SweepPoint[] };
}

export function gradientMaskingFlags(evidence: MaskingEvidence): string[] {
  const flags = [...(evidence.autoAttack?.diagnostics ?? [])];
  const aa = evidence.autoAttack;
  if (aa !== undefined && evidence.pgd !== undefined) {
    for (const row of evidence.pgd) {
      if (row.n === aa.n && row.robustAccuracy - aa.robustAccuracy > PGD_GAP_ALARM)
        flags.push(
          `${row.attack} on cross-entropy leaves ${pct(row.robustAccuracy)} robust where AutoAttack leaves ${pct(aa.robustAccuracy)} on the same ${aa.n} examples: ` +
            'the cross-entropy gradient misleads (gradient masking); judge this model by AutoAttack',
        );
    }
  }
  const points = evidence.sweep?.points ?? [];
  for (let i = 1; i < points.length; i++) {
    const best = Math.min(...points.slice(0, i).map((p) => p.robustAccuracy));
    if (points[i].robustAccuracy - best > SWEEP_RISE_ALARM)
      flags.push(
        `${evidence.sweep!.attack}: robust accuracy at ε = ${points[i].eps} (${pct(points[i].robustAccuracy)}) is higher than at a smaller ε (${pct(best)}); ` +
          'a larger budget can only help a working attack, so the attack is failing (gradient masking or too few steps)',
      );
  }
  return flags;
}

function pct(v: number): string {
  return `${(100 * v).toFixed(1)}%`;
}
