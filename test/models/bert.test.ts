// BERT (src/models/bert.ts) against the same model in PyTorch, written in
// Hugging Face's layout (fixtures from test/fixtures/make_bert_fixtures.py):
// every head, forward and gradient, training and evaluation mode, with
// padding; loading Hugging Face's files (tied copies, the position-id buffer,
// a bare encoder into a classifier); the presets' parameter counts; bad input.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { grad, liveTensors, noGrad, scope, tensor, Tensor, zeros } from '../../src/index.js';
import {
  BERT_PRESETS,
  bertConfig,
  BertForMaskedLM,
  BertForPreTraining,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  bertParameterCount,
  type BertConfig,
  type BertPreTrainedModel,
} from '../../src/models/bert.js';
import { assertClose, assertThrowsWith, fixtureFile, maxAbs } from '../helpers.js';

const file = fixtureFile('models/bert.safetensors', 'make_bert_fixtures.py');
const { get: fixture, prefixed } = file;

// The fixture's configuration (make_bert_fixtures.py CONFIG), dropout 0 so training mode is deterministic.
const SMALL: BertConfig = bertConfig(
  { hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 32 },
  { vocabSize: 40, maxPositionEmbeddings: 12, hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 },
);

const inputs = () => ({ inputIds: fixture('input_ids'), tokenTypeIds: fixture('token_type_ids'), attentionMask: fixture('attention_mask') });

type Outputs = Record<string, Tensor>;
const CASES: [string, () => BertPreTrainedModel, (m: BertPreTrainedModel) => Outputs][] = [
  [
    'pretraining',
    () => new BertForPreTraining(SMALL),
    (m) => {
      const out = (m as BertForPreTraining).forward(inputs());
      return { prediction_logits: out.predictionLogits, seq_relationship_logits: out.seqRelationshipLogits };
    },
  ],
  ['sequence', () => new BertForSequenceClassification(SMALL, 3), (m) => ({ logits: (m as BertForSequenceClassification).forward(inputs()) })],
  ['token', () => new BertForTokenClassification(SMALL, 4), (m) => ({ logits: (m as BertForTokenClassification).forward(inputs()) })],
];

describe('BERT equals the Hugging Face layout written in PyTorch', () => {
  for (const [name, make, run] of CASES) {
    test(`${name}: outputs and every gradient in training mode, outputs in evaluation mode, padding masked`, () => {
      const before = liveTensors();
      const model = make();
      // Hugging Face's file: tied copies and the position-id buffer load without complaint.
      const loaded = model.loadStateDict(prefixed(`${name}/sd/`));
      assert.deepEqual(loaded, { missingKeys: [], unexpectedKeys: [] });
      scope(() => {
        model.train();
        const outputs = run(model);
        let loss: Tensor = zeros([]);
        for (const [key, out] of Object.entries(outputs)) {
          const expected = fixture(`${name}/train/${key}`);
          assertClose(out, expected, { rtol: 1e-4, atol: 1e-4 * maxAbs(expected) }, `train-mode ${key}`);
          loss = loss.add(out.mul(fixture(`${name}/cot/${key}`)).sum());
        }
        const params = model.namedParameters();
        const grads = grad(loss, params.map(([, p]) => p));
        // The key biases' gradients are 0 in exact arithmetic (softmax ignores a shift shared by all keys), float rounding on
        // either side: every gradient also gets an absolute tolerance of 1e-6 of the largest.
        const largest = Math.max(...params.map(([key]) => maxAbs(fixture(`${name}/grad/${key}`))));
        params.forEach(([key], i) => {
          const expected = fixture(`${name}/grad/${key}`);
          assertClose(grads[i]!, expected, { rtol: 1e-4, atol: 1e-4 * maxAbs(expected) + 1e-6 * largest }, `grad of ${key}`);
        });
        assert.equal(params.length, [...file.tensors.keys()].filter((k) => k.startsWith(`${name}/grad/`)).length, 'PyTorch counts the same distinct parameters');
        model.eval();
        for (const [key, out] of Object.entries(noGrad(() => run(model)))) {
          const expected = fixture(`${name}/eval/${key}`);
          assertClose(out, expected, { rtol: 1e-4, atol: 1e-4 * maxAbs(expected) }, `eval-mode ${key}`);
        }
      });
      model.dispose();
      assert.equal(liveTensors(), before, 'no tensor leaked');
    });
  }

  test('padding changes nothing at the other positions: a padded batch gives each sequence its unpadded outputs', () => {
    const model = new BertForPreTraining(SMALL);
    model.loadStateDict(prefixed('pretraining/sd/'));
    model.eval();
    scope(() => {
      const batch = noGrad(() => model.forward(inputs()));
      const ids = fixture('input_ids');
      const types = fixture('token_type_ids');
      // Sequence 2 has 3 real tokens of 7.
      const alone = noGrad(() => model.forward({ inputIds: ids.narrow(0, 2, 1).narrow(1, 0, 3), tokenTypeIds: types.narrow(0, 2, 1).narrow(1, 0, 3) }));
      assertClose(batch.predictionLogits.narrow(0, 2, 1).narrow(1, 0, 3), alone.predictionLogits, { rtol: 1e-5, atol: 1e-4 }, 'masked-LM logits');
      assertClose(batch.seqRelationshipLogits.narrow(0, 2, 1), alone.seqRelationshipLogits, { rtol: 1e-5, atol: 1e-4 }, 'NSP logits');
    });
    model.dispose();
  });
});

describe("loading Hugging Face's files", () => {
  test('a pre-training file in BertForMaskedLM gives the same masked-LM logits; the heads it lacks are named as unexpected', () => {
    const model = new BertForMaskedLM(SMALL);
    const loaded = model.loadStateDict(prefixed('pretraining/sd/'), { strict: false });
    assert.deepEqual(loaded.missingKeys, []);
    assert.deepEqual(loaded.unexpectedKeys.sort(), ['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'cls.seq_relationship.bias', 'cls.seq_relationship.weight']);
    model.eval();
    scope(() => assertClose(noGrad(() => model.forward(inputs())), fixture('pretraining/eval/prediction_logits'), { rtol: 1e-4, atol: 1e-4 }, 'masked-LM logits'));
    model.dispose();
  });

  test('a bare BertModel file in a classifier loads the encoder and leaves only the new head initialised, and says so', () => {
    const encoder = new BertModel(SMALL);
    encoder.loadStateDict(prefixed('pretraining/sd/'), { strict: false });
    const bare = encoder.stateDict();
    assert.ok(bare.has('embeddings.word_embeddings.weight') && !bare.has('bert.embeddings.word_embeddings.weight'), 'a bare BertModel has no prefix');
    const classifier = new BertForSequenceClassification(SMALL, 2);
    assertThrowsWith(() => classifier.loadStateDict(bare), /missing keys: 'classifier.weight', 'classifier.bias'/);
    const loaded = classifier.loadStateDict(bare, { strict: false });
    assert.deepEqual(loaded, { missingKeys: ['classifier.weight', 'classifier.bias'], unexpectedKeys: [] });
    scope(() => assert.ok(classifier.bert.embeddings.word_embeddings.weight.equal(fixture('pretraining/sd/bert.embeddings.word_embeddings.weight'))));
    for (const t of bare.values()) t.dispose();
    encoder.dispose();
    classifier.dispose();
  });

  test('our state dict lists the tied copies under each name, as PyTorch does, and loads back', () => {
    const model = new BertForPreTraining(SMALL);
    const sd = model.stateDict();
    assert.ok(sd.get('cls.predictions.decoder.weight')!.equal(sd.get('bert.embeddings.word_embeddings.weight')!));
    assert.ok(sd.has('cls.predictions.bias') && sd.has('cls.predictions.decoder.bias'));
    assert.deepEqual(new BertForPreTraining(SMALL).loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] });
    for (const t of sd.values()) t.dispose();
    model.dispose();
  });

  test('tied copies that disagree are refused by name', () => {
    const model = new BertForPreTraining(SMALL);
    const sd = prefixed('pretraining/sd/');
    const changed = new Map(sd);
    changed.set('cls.predictions.decoder.weight', scope(() => sd.get('cls.predictions.decoder.weight')!.add(1)));
    assertThrowsWith(() => model.loadStateDict(changed), /'cls.predictions.decoder.weight' is tied to 'bert.embeddings.word_embeddings.weight'/);
    changed.get('cls.predictions.decoder.weight')!.dispose();
    model.dispose();
  });
});

describe('presets', () => {
  test('bert_base_uncased 109,482,240 and bert_large_uncased 335,141,888 parameters in BertModel; the small BERTs as built', () => {
    assert.equal(bertParameterCount(bertConfig(BERT_PRESETS.bert_base_uncased)), 109_482_240);
    assert.equal(bertParameterCount(bertConfig(BERT_PRESETS.bert_large_uncased)), 335_141_888);
    for (const preset of ['bert_tiny', 'bert_mini'] as const) {
      const model = new BertModel(bertConfig(BERT_PRESETS[preset]));
      assert.equal(model.parameters().reduce((n, p) => n + p.numel(), 0), bertParameterCount(model.config), preset);
      model.dispose();
    }
    // Turc et al.'s BERT-Tiny: 4.4M parameters.
    assert.equal(bertParameterCount(bertConfig(BERT_PRESETS.bert_tiny)), 4_385_920);
  });

  test('initialisation as BERT: N(0, 0.02) weights, zero biases, unit LayerNorm, a zero padding row', () => {
    const model = new BertForPreTraining(bertConfig(BERT_PRESETS.bert_tiny));
    scope(() => {
      const words = model.bert.embeddings.word_embeddings.weight;
      assert.ok(Math.abs(words.std().item() - 0.02) < 0.001, `word embeddings std ${words.std().item()}`);
      assert.equal(words.select(0, 0).abs().sum().item(), 0, 'the [PAD] row');
      const query = model.bert.encoder.layer[0] as unknown as { attention: { self: { query: { weight: Tensor; bias: Tensor } } } };
      assert.ok(Math.abs(query.attention.self.query.weight.std().item() - 0.02) < 0.002);
      assert.equal(query.attention.self.query.bias.abs().sum().item(), 0);
      assert.equal(model.cls.predictions.bias.abs().sum().item(), 0);
      assert.ok(model.bert.embeddings.LayerNorm.weight!.eq(1).all().item());
    });
    model.dispose();
  });
});

describe('bad input gets clear errors', () => {
  const model = new BertForSequenceClassification(SMALL, 2);
  const ids = tensor([[2, 5, 7]], { dtype: 'int64' });
  const cases: [string, () => unknown, RegExp][] = [
    ['ids outside the vocabulary', () => model.forward({ inputIds: tensor([[2, 40]], { dtype: 'int64' }) }), /input_ids holds values in \[2, 40\]; token ids must lie in the vocabulary of 40/],
    ['negative ids', () => model.forward({ inputIds: tensor([[-1, 3]], { dtype: 'int64' }) }), /input_ids holds values in \[-1, 3\]/],
    ['float ids', () => model.forward({ inputIds: tensor([[1, 2]]) }), /input_ids must hold integers \(int64\)/],
    ['ids of one dimension', () => model.forward({ inputIds: tensor([1, 2], { dtype: 'int64' }) }), /input_ids must be \[N, L\]/],
    ['a sequence longer than the position table', () => model.forward({ inputIds: zeros([1, 13], { dtype: 'int64' }) }), /13 tokens per sequence; the position embeddings cover 12/],
    ['a mask of the wrong shape', () => model.forward({ inputIds: ids, attentionMask: tensor([[1, 1]], { dtype: 'int64' }) }), /attention_mask must be \[1, 3\], the shape of input_ids/],
    ['a mask with values other than 0 and 1', () => model.forward({ inputIds: ids, attentionMask: tensor([[1, 2, 1]], { dtype: 'int64' }) }), /attention_mask must hold only 1 \(attend\) and 0 \(padding\)/],
    ['segment id 2 for a 2-type model', () => model.forward({ inputIds: ids, tokenTypeIds: tensor([[0, 1, 2]], { dtype: 'int64' }) }), /segment ids must be 0 … 1 for a model with 2 token types/],
    ['segment ids of the wrong shape', () => model.forward({ inputIds: ids, tokenTypeIds: tensor([[0, 1]], { dtype: 'int64' }) }), /token_type_ids must be \[1, 3\]/],
    ['a bare tensor instead of the inputs', () => model.forward(ids as never), /expected \{ inputIds, tokenTypeIds\?, attentionMask\? \}/],
    ['an unknown configuration field', () => bertConfig(BERT_PRESETS.bert_tiny, { hiddenSizes: 3 } as never), /unknown configuration field 'hiddenSizes'/],
    ['heads that do not divide the width', () => bertConfig({ ...BERT_PRESETS.bert_tiny, numAttentionHeads: 3 }), /hiddenSize 128 is not divisible by the 3 attention heads/],
    ['a dropout above 1', () => bertConfig(BERT_PRESETS.bert_tiny, { hiddenDropoutProb: 1.5 }), /hiddenDropoutProb must be in \[0, 1\]/],
    ['a padding id outside the vocabulary', () => bertConfig(BERT_PRESETS.bert_tiny, { padTokenId: 30522 }), /padTokenId must be a token id/],
    ['no labels', () => new BertForSequenceClassification(SMALL, 0), /numLabels must be a positive integer, got number 0/],
    ['a state dict of another width', () => wider.loadStateDict(prefixed('pretraining/sd/')), /size mismatch for 'embeddings.word_embeddings.weight'/],
  ];
  const wider = new BertModel(bertConfig(BERT_PRESETS.bert_tiny, { vocabSize: 40, maxPositionEmbeddings: 12 }));
  for (const [what, run, message] of cases) test(what, () => assertThrowsWith(() => scope(run), message));
  after(() => [model, wider, ids].forEach((m) => m.dispose()));
});
