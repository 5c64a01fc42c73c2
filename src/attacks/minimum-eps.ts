// The smallest ε of an ε-bounded attack: Carlini & Wagner (IEEE S&P 2017,
// §VI) compare their L∞ attack with the fast and the iterative gradient
// sign methods run this way: "we search over ε to find the smallest one
// that is adversarial". The bounded attack runs at each ε of a grid in
// increasing order; each example keeps its result at the first ε where the
// attack reaches the goal and takes no further part. A scan rather than a
// bisection, because FGSM's success is not monotone in ε: the scan finds the
// smallest ε of the grid that succeeds.
import { noGrad } from '../tensor/autograd.js';
import { arange } from '../tensor/creation.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { advance, Attack, type AttackCore, type AttackOptions } from './attack.js';

export interface MinimumEpsOptions extends AttackOptions {
  /** The ε tried, increasing; by default the 255 steps of the 8-bit lattice, (hi − lo)·k/255 for k = 1 … 255. */
  grid?: readonly number[];
}

export class MinimumEps extends Attack {
  readonly grid: readonly number[];
  readonly attackAt: (eps: number) => Attack;

  /**
   * `attackAt(ε)` makes the bounded attack at ε (FGSM, BIM, PGD with
   * `norm: 'linf'` and the same box), e.g. `(eps) => new BIM({ eps })`.
   */
  constructor(attackAt: (eps: number) => Attack, options: MinimumEpsOptions = {}) {
    if (typeof attackAt !== 'function') throw new TypeError('MinimumEps: attackAt must be a function from ε to an attack, e.g. (eps) => new FGSM({ eps })');
    const first = options.grid?.[0] ?? 1 / 255;
    const sample = attackAt(first);
    if (!(sample instanceof Attack)) throw new TypeError('MinimumEps: attackAt(ε) must return an Attack');
    super(`${sample.name} (minimum ε)`, options);
    this.attackAt = attackAt;
    const [lo, hi] = this.box;
    this.grid = options.grid ?? Array.from({ length: 255 }, (_, k) => ((hi - lo) * (k + 1)) / 255);
    if (!Array.isArray(this.grid) || this.grid.length === 0 || this.grid.some((e, i) => !(e > 0) || !Number.isFinite(e) || (i > 0 && !(e > this.grid[i - 1]))))
      throw new RangeError(`${this.name}: grid must be a non-empty list of increasing finite ε > 0, got ${JSON.stringify(options.grid)}`);
    if (sample.box[0] !== lo || sample.box[1] !== hi) throw new RangeError(`${this.name}: the attack's box [${sample.box}] differs from this search's [${this.box}]`);
  }

  protected bound(): null {
    return null;
  }

  protected perturb(model: (x: Tensor) => Tensor, x: Tensor, goal: Tensor, targeted: boolean, labels: Tensor): AttackCore {
    let adversarial = x.clone();
    // The examples no ε has broken yet.
    let open = arange(x.shape[0], { dtype: 'int64' });
    let iterations = 0;
    for (const eps of this.grid) {
      if (open.shape[0] === 0) break;
      const attack = this.attackAt(eps);
      const rows = (t: Tensor) => t.indexSelect(0, open);
      const result = scope(() => attack.run(model, rows(x), targeted ? { labels: rows(labels), targets: rows(goal) } : { labels: rows(goal) }));
      iterations += result.iterations;
      const next = noGrad(() =>
        scope(() => {
          const found = result.success.nonzero().flatten();
          return {
            adversarial: adversarial.clone().indexPut_([open.indexSelect(0, found)], result.adversarial.indexSelect(0, found)),
            open: open.indexSelect(0, result.success.logicalNot().nonzero().flatten()),
          };
        }),
      );
      result.dispose();
      ({ adversarial, open } = advance({ adversarial, open }, next));
    }
    open.dispose();
    return { adversarial, iterations };
  }
}
