// Defensive distillation: the temperature objective, the teacher's soft
// labels, and the whole procedure on a small problem, where the student
// deployed at T = 1 keeps the teacher's accuracy with a saturated softmax.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { F, liveTensors, manualSeed, nn, noGrad, rand, randn, scope, tensor } from '../../src/index.js';
import { DataLoader, TensorDataset } from '../../src/data/index.js';
import { Adam } from '../../src/optim/adam.js';
import { fit } from '../../src/train/index.js';
import { softLabels, softmaxOutput, temperatureLoss } from '../../src/defenses/index.js';
import { DeepFool, FGSM, LBFGSAttack } from '../../src/attacks/index.js';
import { assertClose, assertThrowsWith } from '../helpers.js';

test('temperatureLoss is the cross-entropy of z / T, for class indices and for probabilities', () => {
  scope(() => {
    manualSeed(0);
    const model = new nn.Linear(4, 3);
    const x = randn([5, 4]);
    const y = tensor([0, 1, 2, 1, 0], { dtype: 'int64' });
    const soft = F.softmax(randn([5, 3]), 1);
    const z = model.forward(x);
    assertClose(temperatureLoss(20)(model, x, y), F.crossEntropy(z.div(20), y), { rtol: 1e-6 });
    // With probabilities: −Σ p·log softmax(z / T), averaged over the batch.
    assertClose(temperatureLoss(20)(model, x, soft), F.logSoftmax(z.div(20), 1).mul(soft).sum(1).mean().neg(), { rtol: 1e-6 });
    model.dispose();
  });
});

test('softLabels: softmax(z / T) row by row, in evaluation mode, any batch size', () => {
  scope(() => {
    manualSeed(1);
    const teacher = new nn.Sequential(new nn.Linear(4, 8), new nn.Dropout(0.5), new nn.Linear(8, 3));
    const x = randn([7, 4]);
    teacher.train();
    const labels = softLabels(teacher, x, 10, 3);
    assert.equal(teacher.training, true, 'the mode is restored');
    teacher.eval();
    assertClose(labels, F.softmax(noGrad(() => teacher.forward(x)).div(10), 1), { rtol: 1e-6 });
    assertClose(labels.sum(1), tensor(Array(7).fill(1)), { atol: 1e-6 });
    // A higher temperature flattens the labels.
    assert.ok(softLabels(teacher, x, 1000).amax(1).max().item() < labels.amax(1).min().item() + 1e-6);
    teacher.dispose();
  });
});

test('distillation at T = 20: the student keeps the teacher\'s accuracy, and at T = 1 its softmax saturates', () => {
  const before = liveTensors();
  scope(() => {
    manualSeed(2);
    // Three Gaussian classes in 2-D.
    const centres = tensor([[2, 0], [-1, 1.7], [-1, -1.7]]);
    const y = tensor(Array.from({ length: 600 }, (_, i) => i % 3), { dtype: 'int64' });
    const x = centres.indexSelect(0, y).add(randn([600, 2]).mul(0.6));
    const T = 20;
    const train = (targets: typeof y) => {
      const model = new nn.Sequential(new nn.Linear(2, 32), new nn.ReLU(), new nn.Linear(32, 3));
      const optimizer = new Adam(model.parameters(), { lr: 0.05 });
      fit({ model, loader: new DataLoader(new TensorDataset(x, targets), { batchSize: 50, shuffle: true, seed: 0 }), optimizer, epochs: 30, loss: temperatureLoss(T) });
      optimizer.dispose();
      model.eval();
      return model;
    };
    const teacher = train(y);
    const student = train(softLabels(teacher, x, T));
    const accuracy = (m: nn.Module) => noGrad(() => (m.forward(x) as typeof x).argmax(1).eq(y).float().mean().item());
    assert.ok(accuracy(teacher) > 0.95, `teacher ${accuracy(teacher)}`);
    assert.ok(Math.abs(accuracy(student) - accuracy(teacher)) <= 0.02, `student ${accuracy(student)} against teacher ${accuracy(teacher)}`);
    // Trained at T, the logits grew about T-fold: at T = 1 the softmax is nearly one-hot.
    const confidence = noGrad(() => F.softmax(student.forward(x) as typeof x, 1).amax(1).sort().values.select(0, 300).item());
    assert.ok(confidence > 0.999, `median top probability at T = 1: ${confidence}`);
    teacher.dispose();
    student.dispose();
  });
  assert.equal(liveTensors(), before);
});

test('softmaxOutput: log F of a mild network equals log-softmax; of a saturated one, FGSM, DeepFool and L-BFGS through F get a zero gradient and fail, on the logits they do not', () => {
  scope(() => {
    manualSeed(2);
    const model = new nn.Linear(6, 3);
    const x = rand([8, 6]);
    const z = noGrad(() => model.forward(x));
    assertClose(noGrad(() => softmaxOutput(model)(x)), F.logSoftmax(z, 1), { atol: 1e-5 });
    // Logits 100,000 times larger (a distilled network's are about T times larger): float32's softmax is exactly one-hot.
    const saturated = (input: typeof x) => model.forward(input).mul(1e5);
    const labels = noGrad(() => saturated(x).argmax(1));
    // Targeted, the cross-entropy on the logits keeps a gradient (softmax − one-hot of the target); through F it does not.
    const targets = labels.add(1).remainder(3);
    const throughF = new FGSM({ eps: 0.5 }).run(softmaxOutput(saturated), x, { labels, targets });
    assert.ok(throughF.adversarial.equal(x), 'a zero gradient leaves every input where it was');
    assert.equal(throughF.success.any().item(), false, 'no success through F');
    const onLogits = new FGSM({ eps: 0.5 }).run(saturated, x, { labels, targets });
    assert.ok(onLogits.adversarial.sub(x).abs().sum(1).gt(0).all().item(), 'on the logits the gradient moves every input');
    // The other attacks of the distillation table: nothing through F, every target on the logits.
    for (const attack of [new DeepFool(), new LBFGSAttack({ searchSteps: 3 })]) {
      assert.equal(attack.run(softmaxOutput(saturated), x, { labels, targets }).success.any().item(), false, `${attack.name} through F`);
      assert.ok(attack.run(saturated, x, { labels, targets }).success.all().item(), `${attack.name} on the logits`);
    }
    model.dispose();
  });
});

test('distillation refuses a temperature that is not > 0 and images that are not a batch', () => {
  for (const t of [0, -1, Number.NaN, Infinity]) assertThrowsWith(() => temperatureLoss(t), /temperatureLoss: the temperature must be a finite number > 0, got/);
  scope(() => {
    const teacher = new nn.Linear(2, 3);
    assertThrowsWith(() => softLabels(teacher, randn([4, 2]), 0), /softLabels: the temperature must be a finite number > 0, got 0/);
    assertThrowsWith(() => softLabels(teacher, randn([0, 2]), 10), /softLabels: expected a non-empty batch of images/);
    assertThrowsWith(() => softLabels(teacher, randn([4, 2]), 10, 0), /softLabels: batchSize must be a positive integer, got 0/);
    teacher.dispose();
  });
});
