// `netlab models`: the registered networks with what a user needs to feed them.
import { getModelEntry, listModels, type ModelEntry } from '../models/registry.js';
import type { CommandSpec } from './args.js';

export const MODELS: CommandSpec = {
  name: 'models',
  summary: 'list the registered models: parameters, input size, expected normalisation, training preset',
  options: {
    json: { type: 'boolean', help: 'print the entries (with their configurations) as one JSON object on stdout' },
  },
};

type Values = Record<string, string | boolean | undefined>;

/** An entry without its builder: what JSON can carry. */
type ModelSummary = Omit<ModelEntry, 'build'>;

function normalizationLabel(entry: ModelSummary): string {
  if (entry.normalization === null) return 'raw [0, 1]';
  return `mean ${entry.normalization.mean.join('/')}, std ${entry.normalization.std.join('/')}`;
}

export function runModels(values: Values): { models: ModelSummary[] } {
  const models = listModels().map((name) => {
    const { build: _build, ...summary } = getModelEntry(name);
    return summary;
  });
  if (!values.json) {
    const rows = models.map((m) => [m.name, m.parameterCount.toLocaleString('en-US'), m.inputSize.join('×'), String(m.numClasses), m.recipe, normalizationLabel(m), m.description]);
    const header = ['name', 'parameters', 'input', 'classes', 'preset', 'input normalisation', 'description'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
    process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
  }
  return { models };
}
