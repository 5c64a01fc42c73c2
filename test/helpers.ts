// Shared assertions (tensors compared elementwise with stated tolerances) and
// the small trained MNIST CNN the attack tests share.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { F, manualSeed, nn, scope, Tensor, tensor } from '../src/index.js';
import { DataLoader } from '../src/data/dataset.js';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';
import { loadMnist } from '../src/data/mnist.js';
import { Adam } from '../src/optim/adam.js';

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

/** The fixed CNN of the attack fixtures (test/fixtures/make_attack_fixtures.py's Net) on 8×8 inputs, 5 classes; its weights come from the fixture file. */
export class AttackFixtureNet extends nn.Module {
  conv = new nn.Conv2d(1, 4, 3, { padding: 1 });
  fc = new nn.Linear(16 * 4, 5);
  forward(z: Tensor): Tensor {
    return scope(() => this.fc.forward(F.maxPool2d(this.conv.forward(z).relu(), 2).flatten(1)));
  }

  /** The net with the weights a fixture file stores under net/<key>. */
  static fromFixture(tensors: Map<string, Tensor>): AttackFixtureNet {
    const net = new AttackFixtureNet();
    net.loadStateDict(new Map([...tensors].filter(([k]) => k.startsWith('net/')).map(([k, v]) => [k.slice(4), v])));
    return net;
  }
}

/** A small MNIST CNN (conv 8 × 5×5, 4×4 max-pool, linear), for tests that need a model worth attacking. */
export class SmallCnn extends nn.Module {
  conv = new nn.Conv2d(1, 8, 5, { padding: 2 });
  fc = new nn.Linear(8 * 7 * 7, 10);
  forward(x: Tensor): Tensor {
    return scope(() => this.fc.forward(F.maxPool2d(this.conv.forward(x).relu(), 4).flatten(1)));
  }
}

/** SmallCnn trained from seed 0 for 200 Adam steps of 100 MNIST training images: about 95% test accuracy. */
export function trainedSmallCnn(): SmallCnn {
  manualSeed(0);
  const model = new SmallCnn();
  const train = loadMnist({ split: 'train' });
  const optimizer = new Adam(model.parameters(), { lr: 5e-3 });
  let steps = 0;
  for (const [xb, yb] of new DataLoader(train, { batchSize: 100, shuffle: true, seed: 0 })) {
    scope(() => {
      optimizer.zeroGrad();
      F.crossEntropy(model.forward(xb), yb).backward();
      optimizer.step();
      xb.dispose();
      yb.dispose();
    });
    if (++steps === 200) break;
  }
  optimizer.dispose();
  train.dispose();
  return model;
}

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export type CliRun = { code: number | null; stdout: string; stderr: string };

/** A function that runs the netlab command as a user would, in a child process, and gives its exit code and output (`timeout` in ms, 5 minutes by default). */
export function netlabRunner(options: { timeout?: number; env?: NodeJS.ProcessEnv } = {}): (...args: string[]) => CliRun {
  return (...args) => {
    const run = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: options.timeout ?? 300_000, env: options.env ?? process.env });
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  };
}

/** Runs the netlab command with this process's environment. */
export const netlab = netlabRunner();

/** A fixture file of test/fixtures/ (relative path) and lookups that name the script to rerun when a tensor is missing. */
export function fixtureFile(
  path: string,
  script: string,
): { tensors: Map<string, Tensor>; metadata: Record<string, string>; get: (name: string) => Tensor; prefixed: (prefix: string) => Map<string, Tensor> } {
  const { tensors, metadata } = loadSafetensors(fileURLToPath(new URL(`../../test/fixtures/${path}`, import.meta.url)));
  return {
    tensors,
    metadata,
    get: (name) => {
      const t = tensors.get(name);
      assert.ok(t !== undefined, `fixture tensor '${name}' is missing; rerun ${script}`);
      return t;
    },
    /** The tensors whose names start with `prefix`, by the rest of their names. */
    prefixed: (prefix) => new Map([...tensors].filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), t])),
  };
}

/** max |t|. */
export function maxAbs(t: Tensor): number {
  return scope(() => t.abs().max().item());
}

/** Writes named tensors to `dir`/input.safetensors (a `netlab predict` input), disposes them, and returns the path. */
export function writeInputFile(dir: string, tensors: Record<string, Tensor>): string {
  const path = join(dir, 'input.safetensors');
  scope(() => saveSafetensors(path, tensors));
  for (const t of Object.values(tensors)) t.dispose();
  return path;
}
