// `netlab models`: the registered networks with what a user needs to feed them.
import { getModelEntry, listModels, type ModelEntry } from '../models/registry.js';
import type { CommandSpec } from './args.js';

export const MODELS: CommandSpec = {
  name: 'models',
  summary: 'list the registered models: task, parameters, input and output, expected normalisation, training preset',
  options: {
    json: { type: 'boolean', help: 'print the entries (with their configurations) as one JSON object on stdout' },
  },
};

type Values = Record<string, string | boolean | undefined>;

/** An entry without its builder: what JSON can carry. */
type ModelSummary = ModelEntry extends infer E ? (E extends ModelEntry ? Omit<E, 'build'> : never) : never;

/** What the model takes and gives, in a few words. */
function inputOutput(m: ModelSummary): { input: string; output: string; preset: string; normalization: string } {
  if (m.task === 'image-generation') return { input: `z ${m.latentDim}`, output: `image ${m.outputSize.join('×')}`, preset: 'gan', normalization: '—' };
  if (m.task === 'real-fake-discrimination') return { input: m.inputSize.join('×'), output: 'real/fake', preset: 'gan', normalization: 'raw [0, 1]' };
  if (m.task === 'sequence-to-sequence') return { input: `src ids < ${m.srcVocab}, tgt ids < ${m.tgtVocab}`, output: `${m.tgtVocab}-way logits per target position`, preset: '—', normalization: '—' };
  if (m.task === 'masked-language-modeling') return { input: `input_ids < ${m.vocabSize}, token_type_ids, attention_mask (≤ ${m.maxLength} tokens)`, output: 'prediction_logits, seq_relationship_logits (or a head’s logits)', preset: '—', normalization: '—' };
  if (m.task === 'masked-image-modeling') return { input: m.inputSize.join('×'), output: `loss, pred, mask (${m.patchSize}×${m.patchSize} patches)`, preset: 'mae', normalization: 'as pretrained' };
  const normalization = m.normalization === null ? 'raw [0, 1]' : `mean ${m.normalization.mean.join('/')}, std ${m.normalization.std.join('/')}`;
  return { input: m.inputSize.join('×'), output: `${m.numClasses} classes`, preset: m.recipe, normalization };
}

export function runModels(values: Values): { models: ModelSummary[] } {
  const models = listModels().map((name) => {
    const { build: _build, ...summary } = getModelEntry(name);
    return summary;
  });
  if (!values.json) {
    const rows = models.map((m) => {
      const io = inputOutput(m);
      return [m.name, m.task, m.parameterCount.toLocaleString('en-US'), io.input, io.output, io.preset, io.normalization, m.description];
    });
    const header = ['name', 'task', 'parameters', 'input', 'output', 'preset', 'input normalisation', 'description'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
    process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
  }
  return { models };
}
