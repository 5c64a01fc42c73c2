import { test } from 'node:test';
import assert from 'node:assert/strict';

import { liveTensors, manualSeed, nn, ones, randn, scope, tensor, zeros } from '../../src/index.js';
import { assertThrowsWith } from '../helpers.js';

class Net extends nn.Module {
  conv1 = new nn.Conv2d(1, 2, 3);
  bn1 = new nn.BatchNorm2d(2);
  head = new nn.Sequential(new nn.Flatten(), new nn.Linear(8, 3));
  forward(x: any) {
    return this.head.forward(this.bn1.forward(this.conv1.forward(x)));
  }
}

test('parameters, buffers and state-dict keys follow PyTorch', () => {
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([k]) => k), ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'head.1.weight', 'head.1.bias']);
  assert.deepEqual(net.namedBuffers().map(([k]) => k), ['bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
  assert.deepEqual(
    [...net.stateDict().keys()],
    ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked', 'head.1.weight', 'head.1.bias'],
  );
  assert.deepEqual(net.namedModules().map(([k]) => k), ['', 'conv1', 'bn1', 'head', 'head.0', 'head.1']);
  assert.equal(net.bn1.num_batches_tracked!.dtype, 'int64');
  // Linear weights are [out, in] as in PyTorch.
  assert.deepEqual((net.head[1] as nn.Linear).weight.shape, [3, 8]);
  net.dispose();
});

test('train/eval, requiresGrad_, apply and zeroGrad', () => {
  const net = new Net();
  net.eval();
  assert.ok(net.modules().every((m) => !m.training));
  net.train();
  assert.ok(net.modules().every((m) => m.training));
  net.requiresGrad_(false);
  assert.ok(net.parameters().every((p) => !p.requiresGrad));
  net.requiresGrad_(true);
  const visited: string[] = [];
  net.apply((m) => visited.push(m.constructor.name));
  assert.deepEqual(visited, ['Conv2d', 'BatchNorm2d', 'Flatten', 'Linear', 'Sequential', 'Net']); // post-order, as PyTorch
  scope(() => net.forward(randn([2, 1, 4, 4])).sum().backward());
  assert.ok(net.parameters().every((p) => p.grad !== null));
  net.zeroGrad();
  // PyTorch 1.13's default zeroes in place; setToNone drops the gradients.
  assert.ok(net.parameters().every((p) => scope(() => p.grad !== null && p.grad.abs().sum().item() === 0)));
  net.zeroGrad({ setToNone: true });
  assert.ok(net.parameters().every((p) => p.grad === null));
  net.dispose();
});

test('loadStateDict copies values, reports keys by name and changes nothing on error', () => {
  manualSeed(0);
  const a = new Net();
  const b = new Net();
  scope(() => {
    b.loadStateDict(a.stateDict());
    for (const [key, t] of b.stateDict()) assert.ok(t.equal(a.stateDict().get(key)!), key);
  });
  const before = scope(() => b.conv1.weight.clone().keep());
  scope(() => {
    const sd = a.stateDict();
    sd.set('conv1.weight', zeros([2, 1, 5, 5]));
    sd.delete('bn1.running_var');
    sd.set('extra.weight', ones([1]));
    assertThrowsWith(
      () => b.loadStateDict(sd),
      /size mismatch for 'conv1\.weight': copying a param with shape \[2, 1, 5, 5\], the shape in the current model is \[2, 1, 3, 3\]/,
      /missing keys: 'bn1\.running_var'/,
      /unexpected keys: 'extra\.weight'/,
    );
    assert.ok(b.conv1.weight.equal(before), 'a failed load must not copy anything');
    sd.set('conv1.weight', zeros([2, 1, 3, 3]));
    const result = b.loadStateDict(sd, { strict: false });
    assert.deepEqual(result, { missingKeys: ['bn1.running_var'], unexpectedKeys: ['extra.weight'] });
    assert.equal(b.conv1.weight.abs().sum().item(), 0);
  });
  before.dispose();
  a.dispose();
  b.dispose();
});

test('default initialisation matches PyTorch’s bounds and statistics', () => {
  manualSeed(0);
  const linear = new nn.Linear(400, 300);
  // kaiming_uniform(a=√5) gives U(±1/√fan_in); its variance is bound²/3.
  const bound = 1 / Math.sqrt(400);
  scope(() => {
    assert.ok(linear.weight.abs().max().item() <= bound);
    const variance = linear.weight.var().item();
    // 120,000 samples: the variance estimate is within ~1% (4 sigma ≈ 1.5%).
    assert.ok(Math.abs(variance / (bound * bound / 3) - 1) < 0.03, `variance ${variance}`);
    assert.ok(linear.bias!.abs().max().item() <= bound);
  });
  const conv = new nn.Conv2d(16, 8, 3);
  const convBound = 1 / Math.sqrt(16 * 9);
  scope(() => assert.ok(conv.weight.abs().max().item() <= convBound));
  const emb = new nn.Embedding(1000, 64, { paddingIdx: 0 });
  scope(() => {
    assert.equal(emb.weight.index(0).abs().sum().item(), 0);
    assert.ok(Math.abs(emb.weight.std().item() - 1) < 0.02); // N(0,1) over 64,000 samples
  });
  const t = scope(() => nn.init.truncNormal_(zeros([100000]), { std: 0.02, a: -0.04, b: 0.04 }).keep());
  scope(() => {
    assert.ok(t.abs().max().item() <= 0.04);
    // A normal truncated at ±2σ has standard deviation 0.88σ.
    assert.ok(Math.abs(t.std().item() / 0.02 - 0.8796) < 0.01, `std ${t.std().item()}`);
  });
  for (const m of [linear, conv, emb]) m.dispose();
  t.dispose();
});

test('to(dtype) converts parameters in place and keeps them trainable', () => {
  const net = new nn.Linear(3, 2);
  const weight = net.weight;
  net.to('float64');
  assert.equal(net.weight, weight); // the same object, as PyTorch's module.to keeps the Parameter
  assert.equal(net.weight.dtype, 'float64');
  assert.ok(net.weight.requiresGrad);
  scope(() => {
    const y = net.forward(tensor([[1, 2, 3]], { dtype: 'float64' }));
    assert.equal(y.dtype, 'float64');
  });
  net.dispose();
});

test('printout reads like PyTorch', () => {
  const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Linear(16, 2, { bias: false }), new nn.Dropout(0.5));
  assert.equal(
    model.toString(),
    [
      'Sequential(',
      '  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))',
      '  (1): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '  (2): ReLU()',
      '  (3): Linear(in_features=16, out_features=2, bias=False)',
      '  (4): Dropout(p=0.5, inplace=False)',
      ')',
    ].join('\n'),
  );
  model.dispose();
});

test('layers reject bad configurations and inputs with clear errors', () => {
  const before = liveTensors();
  assertThrowsWith(() => new nn.Linear(0, 3), /Linear: inFeatures must be a positive integer, got 0/);
  assertThrowsWith(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /groups=2 must divide inChannels=3/);
  assertThrowsWith(() => new nn.Dropout(1.5), /between 0 and 1/);
  assertThrowsWith(() => new nn.MultiheadAttention(10, 3), /numHeads \(3\) must be a positive integer dividing embedDim \(10\)/);
  assertThrowsWith(() => new nn.Sequential({} as nn.Module), /Sequential: argument 0 is not a Module/);
  const bn = new nn.BatchNorm2d(3);
  assertThrowsWith(() => scope(() => bn.forward(randn([2, 3, 4]))), /BatchNorm2d: expected a 4-D \[N, C, H, W\] input, got float32\[2, 3, 4\]/);
  const linear = new nn.Linear(4, 2);
  assertThrowsWith(() => scope(() => linear.forward(randn([2, 5]))), /linear: input float32\[2, 5\] has last dimension 5 but weight float32\[2, 4\] expects 4/);
  bn.dispose();
  linear.dispose();
  assert.equal(liveTensors(), before);
});
