// Reads test/fixtures/optim.json (written by test/fixtures/make_optim_fixtures.py with PyTorch 1.13).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { tensor, type Tensor } from '../../src/index.js';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export const fixture = JSON.parse(readFileSync(join(packageRoot(), 'test', 'fixtures', 'optim.json'), 'utf8'));

/** A tensor from the fixture's flat values. */
export function fromFlat(values: number[], shape: number[], dtype: 'float32' | 'float64' = 'float32', requiresGrad = false): Tensor {
  const data = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
  return tensor(data, { shape, requiresGrad });
}
