// nn modules against torch.nn: the same weights (PyTorch's state dict, loaded
// by key) give the same outputs, running statistics and gradients. Fixtures
// come from test/fixtures/make_nn_fixtures.py.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { grad, nn, noGrad, ones, scope, tensor, Tensor } from '../../src/index.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { assertClose, type Tolerance } from '../helpers.js';

const file = loadSafetensors(fileURLToPath(new URL('../../../test/fixtures/nn/modules.safetensors', import.meta.url)));
const keys = JSON.parse(file.metadata.keys) as Record<string, string[]>;

// float32 modules: reductions over a few dozen terms in either library's order.
const TOL: Tolerance = { rtol: 1e-5, atol: 1e-5 };

function entries(prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of file.tensors) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), t);
  return out;
}

function numbered(name: string, kind: 'in' | 'out' | 'cot'): Tensor[] {
  const out: Tensor[] = [];
  for (let i = 0; file.tensors.has(`${name}/${kind}${i}`); i++) out.push(file.tensors.get(`${name}/${kind}${i}`)!);
  return out;
}

interface Case {
  make: () => nn.Module;
  train?: boolean;
  steps?: number;
  call?: (m: any, ...xs: Tensor[]) => Tensor | (Tensor | null)[];
}

const CASES: Record<string, Case> = {
  linear: { make: () => new nn.Linear(5, 3) },
  linear_nobias: { make: () => new nn.Linear(5, 3, { bias: false }) },
  conv2d: { make: () => new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1 }) },
  conv2d_groups: { make: () => new nn.Conv2d(4, 6, 3, { dilation: 2, groups: 2, bias: false }) },
  conv_transpose2d: { make: () => new nn.ConvTranspose2d(4, 3, 4, { stride: 2, padding: 1 }) },
  batchnorm2d_train: { make: () => new nn.BatchNorm2d(3), steps: 3 },
  batchnorm2d_eval: { make: () => new nn.BatchNorm2d(3), train: false },
  batchnorm1d_cumulative: { make: () => new nn.BatchNorm1d(4, { momentum: null }), steps: 3 },
  batchnorm1d_3d: { make: () => new nn.BatchNorm1d(4, { affine: false }) },
  layernorm: { make: () => new nn.LayerNorm([4, 5], { eps: 1e-6 }) },
  embedding: { make: () => new nn.Embedding(10, 4, { paddingIdx: 2 }) },
  mha: {
    make: () => new nn.MultiheadAttention(8, 2),
    // Query i may not see keys j >= i + 3; the last key of the first sequence is padding.
    call: (m: nn.MultiheadAttention, q, k, v) =>
      m.forward(q, k, v, {
        keyPaddingMask: tensor([[false, false, false, false, false, false, true], [false, false, false, false, false, false, false]]),
        attnMask: ones([5, 7], { dtype: 'bool' }).triu(3),
      }),
  },
  mha_batch_first: {
    make: () => new nn.MultiheadAttention(8, 4, { batchFirst: true }),
    call: (m: nn.MultiheadAttention, x) => m.forward(x, x, x, { averageAttnWeights: false }),
  },
  sequential: {
    make: () => new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 4 * 4, 10)),
  },
  sequential_bn: {
    make: () => new nn.Sequential(new nn.Linear(6, 5), new nn.BatchNorm1d(5), new nn.GELU(), new nn.Dropout(0), new nn.Linear(5, 2), new nn.Tanh()),
  },
};

describe('nn modules equal torch.nn', () => {
  for (const [name, spec] of Object.entries(CASES)) {
    test(name, () => {
      scope(() => {
        const module = spec.make();
        // State-dict keys are exactly PyTorch's, in PyTorch's order.
        assert.deepEqual([...module.stateDict().keys()], keys[name]);
        module.loadStateDict(entries(`${name}/init/`));
        module.train(spec.train ?? true);
        const inputs = numbered(name, 'in').map((x) => (x.dtype === 'float32' ? x.detach().requiresGrad_(true) : x));
        const call = spec.call ?? ((m: nn.Module, ...xs: Tensor[]) => m.forward(...xs));
        for (let i = 1; i < (spec.steps ?? 1); i++) noGrad(() => call(module, ...inputs));
        const result = call(module, ...inputs);
        const outputs = (Array.isArray(result) ? result : [result]).filter((o): o is Tensor => o !== null);
        const expected = numbered(name, 'out');
        assert.equal(outputs.length, expected.length);
        outputs.forEach((o, j) => assertClose(o, expected[j], TOL, `${name} out${j}`));
        // Running statistics (and everything else in the state dict) after the passes.
        for (const [key, t] of module.stateDict()) assertClose(t, file.tensors.get(`${name}/sd/${key}`)!, TOL, `${name} ${key}`);
        const cots = numbered(name, 'cot');
        const loss = outputs.map((o, j) => o.mul(cots[j]).sum()).reduce((a, b) => a.add(b));
        const params = module.namedParameters();
        const wrt = [...inputs.filter((x) => x.requiresGrad), ...params.map(([, p]) => p)];
        const names = [...inputs.flatMap((x, i) => (x.requiresGrad ? [`in${i}`] : [])), ...params.map(([k]) => k)];
        const grads = grad(loss, wrt, { allowUnused: true });
        grads.forEach((g, i) => {
          const want = file.tensors.get(`${name}/grad/${names[i]}`);
          if (want === undefined) assert.equal(g, null, `${name}: PyTorch has no gradient for ${names[i]}`);
          else assertClose(g!, want, TOL, `${name} d/d${names[i]}`);
        });
        module.dispose();
      });
    });
  }
});
