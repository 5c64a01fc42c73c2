// `netlab predict`: runs any registered model with given weights on a tensor
// file, so weights exported from PyTorch can be used directly.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { cat, noGrad, scope, setNumThreads, Tensor } from '../tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { getModelEntry, listModels } from '../models/registry.js';
import { buildWithWeights } from './mnist-models.js';
import { numberOption, UsageError, type CommandSpec } from './args.js';

export const PREDICT: CommandSpec = {
  name: 'predict',
  summary: 'run a registered model with given weights on a tensor file and write its logits',
  options: {
    arch: { type: 'string', value: 'NAME', help: `model architecture (${listModels().join(', ')})` },
    weights: { type: 'string', value: 'FILE', help: 'weights (.safetensors) with PyTorch state-dict keys' },
    input: { type: 'string', value: 'FILE', help: 'input batch (.safetensors), [N, C, H, W] floating point' },
    key: { type: 'string', value: 'NAME', help: 'which tensor of the input file (default: the only one, or "input")' },
    output: { type: 'string', value: 'FILE', help: 'where to write "logits" and "predictions" (.safetensors)' },
    'batch-size': { type: 'string', value: 'N', help: 'images per forward pass', default: '256' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print a summary as one JSON object on stdout' },
  },
};

function fileOption(name: string, value: string | boolean | undefined, mustExist: boolean): string {
  if (typeof value !== 'string') throw new UsageError(`predict: --${name} FILE is required`);
  const path = resolve(value);
  if (!path.endsWith('.safetensors')) throw new UsageError(`predict: --${name} must name a .safetensors file, got '${value}'`);
  if (mustExist && !existsSync(path)) throw new Error(`predict: ${name} file not found: ${path}`);
  return path;
}

export function runPredict(values: Record<string, string | boolean | undefined>): { n: number; classes: number; output: string } {
  const arch = typeof values.arch === 'string' ? values.arch : '';
  if (!listModels().includes(arch)) throw new UsageError(`predict: --arch must name a registered model (${listModels().join(', ')}), got '${arch}'`);
  if (typeof values.weights === 'string') fileOption('weights', values.weights, true);
  const input = fileOption('input', values.input, true);
  const output = fileOption('output', values.output, false);
  const batchSize = numberOption('predict', 'batch-size', values['batch-size'], { min: 1, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption('predict', 'threads', values.threads, { min: 1, integer: true }));
  const { model, options, path: weights } = buildWithWeights('predict', arch, values.weights, {});
  const inputs = loadSafetensors(input);
  try {
    const x = pickInput(inputs.tensors, typeof values.key === 'string' ? values.key : undefined, input);
    const [c, h, w] = getModelEntry(arch).inputSize;
    const channels = typeof options.inChannels === 'number' ? options.inChannels : c;
    if (x.ndim !== 4 || x.shape[1] !== channels) throw new Error(`predict: '${arch}' expects [N, ${channels}, H, W] inputs (${channels}×${h}×${w}), got ${x.describe()} from ${input}`);
    if (!x.dtype.startsWith('float')) throw new Error(`predict: inputs must be floating point, got ${x.describe()} from ${input}`);
    model.eval();
    const logits = noGrad(() =>
      scope(() => {
        const parts: Tensor[] = [];
        for (let i = 0; i < x.shape[0]; i += batchSize) parts.push(model.forward(x.narrow(0, i, Math.min(batchSize, x.shape[0] - i)).float()) as Tensor);
        return cat(parts);
      }),
    );
    scope(() => saveSafetensors(output, { logits, predictions: logits.argmax(1) }, { arch, weights }));
    const summary = { n: logits.shape[0], classes: logits.shape[1], output };
    logits.dispose();
    process.stderr.write(`predict: ${summary.n} inputs → ${output}\n`);
    return summary;
  } finally {
    model.dispose();
    for (const t of inputs.tensors.values()) t.dispose();
  }
}

function pickInput(tensors: Map<string, Tensor>, key: string | undefined, file: string): Tensor {
  if (key !== undefined) {
    const t = tensors.get(key);
    if (t === undefined) throw new Error(`predict: ${file} has no tensor '${key}'; it has ${[...tensors.keys()].join(', ')}`);
    return t;
  }
  if (tensors.size === 1) return [...tensors.values()][0];
  const t = tensors.get('input');
  if (t === undefined) throw new Error(`predict: ${file} holds ${tensors.size} tensors (${[...tensors.keys()].join(', ')}); name one with --key`);
  return t;
}
