// Reads test/fixtures/optim.json (written by test/fixtures/make_optim_fixtures.py with PyTorch 1.13).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { tensor, type Tensor } from '../../src/index.js';

// Compiled to dist/test/optim/, three levels below the package root, like the other fixture readers.
export const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/fixtures/optim.json', import.meta.url)), 'utf8'));

/** A tensor from the fixture's flat values. */
export function fromFlat(values: number[], shape: number[], dtype: 'float32' | 'float64' = 'float32', requiresGrad = false): Tensor {
  const data = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
  return tensor(data, { shape, requiresGrad });
}
