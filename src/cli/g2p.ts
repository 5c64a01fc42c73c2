// `netlab g2p`: pronunciations of words with a trained G2P Transformer
// (`netlab reproduce transformer` writes one), given on the command line or as
// a file of words, one per line, converted to `word<TAB>phonemes` lines.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { setNumThreads } from '../tensor/index.js';
import { encodeWord } from '../data/cmudict.js';
import { writeFileAtomic } from '../io/atomic.js';
import { pronounce } from '../models/g2p.js';
import type { TransformerModel } from '../models/transformer.js';
import { numberOption, UsageError, type CommandSpec } from './args.js';
import { buildWithWeights } from './model-files.js';

type Values = Record<string, string | boolean | undefined>;

const ARCH = 'transformer_g2p';

export const G2P: CommandSpec = {
  name: 'g2p',
  summary: 'pronounce words with a trained grapheme-to-phoneme Transformer (netlab reproduce transformer writes one)',
  positionals: { value: 'WORD…', help: 'words to pronounce (letters, apostrophes, periods, hyphens), or use --input' },
  options: {
    weights: { type: 'string', value: 'FILE', help: `model weights (.safetensors, ${ARCH})` },
    beam: { type: 'string', value: 'K', help: 'beam size; 1 decodes greedily', default: '4' },
    input: { type: 'string', value: 'FILE', help: 'a text file of words, one per line (blank lines are skipped)' },
    output: { type: 'string', value: 'FILE', help: 'write word<TAB>phonemes lines here instead of to stdout' },
    'batch-size': { type: 'string', value: 'N', help: 'words decoded together', default: '256' },
    threads: { type: 'string', value: 'N', help: 'libtorch threads (default: all cores)' },
    json: { type: 'boolean', help: 'print the pronunciations as one JSON object on stdout instead of lines' },
  },
  notes: 'Phonemes are the 39 of CMUdict without stress, separated by spaces.',
};

export interface G2POutput {
  words: string[];
  pronunciations: string[][];
  output?: string;
}

export function runG2p(values: Values, positionals: string[]): G2POutput {
  const beamSize = numberOption('g2p', 'beam', values.beam, { min: 1, integer: true });
  const batchSize = numberOption('g2p', 'batch-size', values['batch-size'], { min: 1, integer: true });
  if (values.threads !== undefined) setNumThreads(numberOption('g2p', 'threads', values.threads, { min: 1, integer: true }));
  const input = typeof values.input === 'string' ? resolve(values.input) : undefined;
  const output = typeof values.output === 'string' ? resolve(values.output) : undefined;
  if (input !== undefined && positionals.length > 0) throw new UsageError('g2p: give words or --input FILE, not both');
  if (input === undefined && positionals.length === 0) throw new UsageError('g2p: no words; give them as arguments (netlab g2p --weights W.safetensors HELLO WORLD) or in a file with --input FILE');
  if (output !== undefined && output === input) throw new UsageError(`g2p: --output ${output} would overwrite the --input file`);
  const entries = input === undefined ? positionals.map((word, i) => ({ word, where: `word ${i + 1}` })) : readWords(input);
  // Every word is checked before the model loads, so a typo costs nothing.
  for (const { word, where } of entries) {
    try {
      encodeWord(word);
    } catch (error) {
      throw new Error(`g2p: ${where}: ${(error as Error).message}`);
    }
  }
  const words = entries.map((e) => e.word);
  const { model } = buildWithWeights('g2p', ARCH, values.weights, {});
  try {
    const pronunciations = pronounce(model as TransformerModel, words, { beamSize, batchSize });
    const lines = words.map((w, i) => `${w.trim()}\t${pronunciations[i].join(' ')}\n`).join('');
    if (output !== undefined) {
      writeFileAtomic(output, lines);
      process.stderr.write(`g2p: ${words.length} words → ${output}\n`);
    } else if (!values.json) {
      process.stdout.write(lines);
    }
    return { words, pronunciations, ...(output === undefined ? {} : { output }) };
  } finally {
    model.dispose();
  }
}

// The non-blank lines of a word file, each with where it stands.
function readWords(path: string): { word: string; where: string }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`g2p: cannot read --input ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const entries = text.split(/\r?\n/).flatMap((line, i) => (line.trim() === '' ? [] : [{ word: line, where: `${path}, line ${i + 1}` }]));
  if (entries.length === 0) throw new Error(`g2p: --input ${path} holds no words`);
  return entries;
}
