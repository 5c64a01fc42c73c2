// Op parity against PyTorch: runs a table of NetLab expressions over the
// inputs in a fixture file written by test/fixtures/make_op_fixtures.py and
// compares outputs and gradients with PyTorch's (see that script for the
// naming of the tensors in the file).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { grad, scope, Tensor, type ValuesIndices } from '../src/index.js';
import { loadSafetensors } from '../src/io/safetensors.js';
import { assertClose, type Tolerance } from './helpers.js';

/** What an op under test returns: one tensor, several, or values with indices. */
export type OpResult = Tensor | readonly Tensor[] | ValuesIndices;

/** A NetLab expression over the case's inputs, in fixture order. */
export type OpFn = (...inputs: Tensor[]) => OpResult;

/**
 * Case name → expression, or [expression, float32 tolerance, why it is looser].
 * A fixture case "name.f64" runs the expression of "name" on float64 inputs.
 */
export type CaseTable = Record<string, OpFn | readonly [OpFn, Tolerance, string]>;

/** float32 single ops: a few units in the last place (float32 epsilon is 1.2e-7). */
const F32: Tolerance = { rtol: 1e-5, atol: 1e-6 };
// Both sides run the same libtorch kernels; in float64 only summation order
// (thread count) can differ, which moves results by ~1e-15 relative on these sizes.
const F64: Tolerance = { rtol: 1e-10, atol: 1e-12 };

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/ops/', import.meta.url));

function asList(result: OpResult): Tensor[] {
  if (result instanceof Tensor) return [result];
  if (Array.isArray(result)) return [...result];
  const { values, indices } = result as ValuesIndices;
  return [values, indices];
}

function numbered(tensors: Map<string, Tensor>, prefix: string): Tensor[] {
  const out: Tensor[] = [];
  for (let i = 0; tensors.has(`${prefix}${i}`); i++) out.push(tensors.get(`${prefix}${i}`)!);
  return out;
}

function isFloat(t: Tensor): boolean {
  return t.dtype === 'float32' || t.dtype === 'float64';
}

function compare(actual: Tensor, expected: Tensor, tol: Tolerance, what: string): void {
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  // Integer and boolean results (indices, masks, comparisons) must match exactly.
  assertClose(actual, expected, isFloat(expected) ? tol : { rtol: 0, atol: 0 }, what);
}

function runCase(tensors: Map<string, Tensor>, name: string, fn: OpFn, tol: Tolerance, why: string): void {
  scope(() => {
    const fixtureInputs = numbered(tensors, `${name}/in`);
    const differentiable = fixtureInputs.map((_, i) => tensors.has(`${name}/grad${i}`));
    // Fresh leaves on the fixture's data, so the loaded tensors never require grad themselves.
    const inputs = fixtureInputs.map((x, i) => (differentiable[i] ? x.detach().requiresGrad_(true) : x.detach()));
    const outputs = asList(fn(...inputs));
    const expected = numbered(tensors, `${name}/out`);
    assert.equal(outputs.length, expected.length, `${name}: number of outputs`);
    const label = why === '' ? name : `${name} (tolerance ${JSON.stringify(tol)}: ${why})`;
    outputs.forEach((out, j) => compare(out, expected[j], tol, `${label} out${j}`));

    const tracked = outputs.map((_, j) => j).filter((j) => tensors.has(`${name}/cot${j}`));
    const wrt = inputs.filter((_, i) => differentiable[i]);
    if (tracked.length === 0 || wrt.length === 0) return;
    const grads = grad(
      tracked.map((j) => outputs[j]),
      wrt,
      { gradOutputs: tracked.map((j) => tensors.get(`${name}/cot${j}`)!), allowUnused: true },
    );
    let k = 0;
    differentiable.forEach((d, i) => {
      if (!d) return;
      const expectedGrad = tensors.get(`${name}/grad${i}`)!;
      const g = grads[k++];
      // PyTorch's unused gradient is written as zeros; NetLab reports it as null.
      if (g === null) assert.equal(expectedGrad.abs().max().item(), 0, `${label} grad${i}: NetLab has none, PyTorch's is not zero`);
      else compare(g, expectedGrad, tol, `${label} grad${i}`);
    });
  });
}

/**
 * Registers one test per case of test/fixtures/ops/<file>.safetensors, plus a
 * test that the fixture's cases and the table name the same ops.
 */
export function parity(file: string, table: CaseTable): void {
  const { tensors, metadata } = loadSafetensors(`${FIXTURES}${file}.safetensors`);
  const cases = JSON.parse(metadata.cases) as string[];
  const base = (name: string) => name.replace(/\.f64$/, '');

  describe(`${file} ops match PyTorch 1.13`, () => {
    test('the fixture and the table cover the same cases', () => {
      assert.deepEqual([...new Set(cases.map(base))].sort(), Object.keys(table).sort());
    });
    for (const name of cases) {
      const entry = table[base(name)];
      if (entry === undefined) continue;
      const [fn, tol, why] = typeof entry === 'function' ? [entry, F32, ''] : entry;
      const f64 = name.endsWith('.f64');
      test(name, () => runCase(tensors, name, fn, f64 ? F64 : tol, f64 ? '' : why));
    }
  });
}
