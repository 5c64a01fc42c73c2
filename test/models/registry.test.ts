// The model registry: every entry states the parameter count of the model its
// builder makes, and the figures the papers and torchvision publish.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { getModel, getModelEntry, listModels, parameterCount, TASKS } from '../../src/models/registry.js';

// Building a model this large takes seconds and gigabytes; the count of these
// is checked from the same formulas against torchvision's own counts in
// vit.test.ts, swin.test.ts and mae.test.ts.
const BUILD_LIMIT = 100_000_000;

test('every entry states the parameter count of the model its builder makes', (t) => {
  const built: string[] = [];
  for (const name of listModels()) {
    const entry = getModelEntry(name);
    assert.ok(Number.isInteger(entry.parameterCount) && entry.parameterCount > 0, `${name}: parameterCount ${entry.parameterCount}`);
    if (entry.parameterCount > BUILD_LIMIT) continue;
    const model = getModel(name);
    try {
      assert.equal(parameterCount(model), entry.parameterCount, name);
    } finally {
      model.dispose();
    }
    built.push(name);
  }
  const large = listModels().filter((name) => !built.includes(name));
  t.diagnostic(`built ${built.length} models; not built (over ${BUILD_LIMIT.toLocaleString('en-US')} parameters): ${large.join(', ')}`);
  assert.deepEqual(large, ['bert_base_uncased', 'bert_large_uncased', 'mae_vit_base_patch16', 'mae_vit_huge_patch14', 'mae_vit_large_patch16', 'swin_l', 'transformer_big', 'vit_h_14', 'vit_l_16', 'vit_l_32']);
});

test("the counts equal the papers' and torchvision's", () => {
  const published: Record<string, number> = {
    resnet18: 11_689_512,
    resnet34: 21_797_672,
    resnet50: 25_557_032,
    resnet101: 44_549_160,
    resnet152: 60_192_808,
    // He et al., Table 6: 0.27M.
    resnet20: 269_722,
    // Carlini & Wagner's Table I network (train_models.py): convolutions 320 + 9,248 + 18,496 + 36,928, dense 205,000 + 40,200 + 2,010.
    'cw-mnist': 312_202,
    // Goodfellow et al.'s released mnist.yaml: 100→1200→1200→784, and 784→(240×5)→(240×5)→1.
    gan_mnist_generator: 2_503_984,
    gan_mnist_discriminator: 1_231_441,
    vit_b_16: 86_567_656,
    vit_l_16: 304_326_632,
    vit_h_14: 632_045_800,
    swin_t: 28_288_354,
    swin_s: 49_606_258,
    // The official models_mae.py, learnable parameters (the fixed position embeddings are not).
    mae_vit_base_patch16: 111_655_680,
    mae_vit_large_patch16: 329_239_296,
    mae_vit_huge_patch14: 656_613_964,
    // Vaswani et al., Table 3: 65M and 213M (with the shared 37,000-token vocabulary and tied matrices).
    transformer_base: 63_084_544,
    transformer_big: 214_249_472,
    // The G2P model: 71 tokens × 256 once (tied), 3 encoder layers of 789,760 and 3 decoder layers of 1,053,440, the two final norms.
    transformer_g2p: 5_548_800,
    // BertForPreTraining as Hugging Face counts it: BertModel's 109,482,240 (Devlin et al.: 110M) and 335,141,888 (340M), plus the heads.
    bert_base_uncased: 110_106_428,
    bert_large_uncased: 336_226_108,
  };
  for (const [name, count] of Object.entries(published)) assert.equal(getModelEntry(name).parameterCount, count, name);
});

test('every entry names its task, and the classifiers their configuration', () => {
  for (const name of listModels()) assert.ok((TASKS as readonly string[]).includes(getModelEntry(name).task), name);
  assert.deepEqual(listModels('image-generation'), ['gan_mnist_generator']);
  assert.deepEqual(listModels('real-fake-discrimination'), ['gan_mnist_discriminator']);
  assert.deepEqual(listModels('masked-image-modeling'), ['mae_vit_base_patch16', 'mae_vit_huge_patch14', 'mae_vit_large_patch16', 'mae_vit_tiny_mnist']);
  assert.deepEqual(listModels('sequence-to-sequence'), ['transformer_base', 'transformer_big', 'transformer_g2p']);
  assert.deepEqual(listModels('masked-language-modeling'), ['bert_base_uncased', 'bert_large_uncased', 'bert_medium', 'bert_mini', 'bert_small', 'bert_tiny']);
  assert.equal(getModelEntry('bert_base_uncased', 'masked-language-modeling').encoderParameterCount, 109_482_240);
  assert.throws(() => getModelEntry('gan_mnist_generator', 'image-classification'), /'gan_mnist_generator' is a model for image-generation, not image-classification/);
  for (const name of listModels('image-classification')) {
    const { config, inputSize, numClasses } = getModelEntry(name, 'image-classification');
    assert.equal(typeof config, 'object', name);
    assert.ok('numClasses' in config && config.numClasses === numClasses, `${name}: config ${JSON.stringify(config)} has not numClasses ${numClasses}`);
    assert.equal(inputSize.length, 3, name);
  }
  assert.deepEqual(getModelEntry('resnet50').config, { block: 'Bottleneck', layers: [3, 4, 6, 3], numClasses: 1000, inChannels: 3, zeroInitResidual: false });
  assert.equal((getModelEntry('plain56').config as { shortcut: string }).shortcut, 'none');
  assert.deepEqual((getModelEntry('swin_t').config as { depths: number[] }).depths, [2, 2, 6, 2]);
});
