// Shared assertions: tensors compared elementwise with stated tolerances.
import assert from 'node:assert/strict';

import { Tensor, tensor } from '../src/index.js';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| everywhere, shapes equal. */
export function assertClose(actual: Tensor, expected: Tensor | number | readonly unknown[], tol: Tolerance = {}, message = ''): void {
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  const exp = expected instanceof Tensor ? expected : tensor(expected as number, { dtype: 'float64' });
  try {
    assert.deepEqual([...actual.shape], [...exp.shape], `${message} shape ${actual.describe()} vs ${exp.describe()}`);
    const a = Array.from(actual.toTypedArray() as ArrayLike<number | bigint>, Number);
    const b = Array.from(exp.toTypedArray() as ArrayLike<number | bigint>, Number);
    let worst = -1;
    let worstExcess = 0;
    for (let i = 0; i < a.length; i++) {
      const diff = Math.abs(a[i] - b[i]);
      const bound = atol + rtol * Math.abs(b[i]);
      const bothNaN = Number.isNaN(a[i]) && Number.isNaN(b[i]);
      if (!bothNaN && !(diff <= bound) && !(a[i] === b[i]) && diff - bound >= worstExcess) {
        worst = i;
        worstExcess = diff - bound;
      }
    }
    if (worst >= 0)
      assert.fail(`${message} element ${worst}: ${a[worst]} vs expected ${b[worst]} (rtol ${rtol}, atol ${atol})`);
  } finally {
    if (exp !== expected) exp.dispose();
  }
}

/** Asserts that `fn` throws an Error whose message matches every pattern. */
export function assertThrowsWith(fn: () => unknown, ...patterns: RegExp[]): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof Error, `expected an Error to be thrown, got ${String(thrown)}`);
  for (const p of patterns) assert.match(thrown.message, p);
}
