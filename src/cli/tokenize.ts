// `netlab tokenize`: BERT's WordPiece tokenization of a text file, line by
// line, with a vocab.txt; and `netlab tokenize train`, which trains such a
// vocabulary on the corpora that ship with NetLab.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { CORPORA, loadCorpus, type CorpusName } from '../data/corpora.js';
import { writeFileAtomic } from '../io/atomic.js';
import { BertTokenizer } from '../text/bert-tokenizer.js';
import { trainWordPiece } from '../text/wordpiece-trainer.js';
import { numberOption, UsageError, type CommandSpec } from './args.js';

type Values = Record<string, string | boolean | undefined>;

const ENCODE_OPTIONS = ['vocab', 'cased', 'input'];
const TRAIN_OPTIONS = ['corpus', 'vocab-size', 'min-frequency', 'out'];

export const TOKENIZE: CommandSpec = {
  name: 'tokenize',
  summary: "BERT's WordPiece tokenization of a text file with a vocab.txt, or (tokenize train) training a vocabulary",
  positionals: { value: 'train', help: 'train a vocabulary on --corpus instead of tokenizing' },
  options: {
    vocab: { type: 'string', value: 'FILE', help: 'the vocabulary, vocab.txt (one token per line)' },
    cased: { type: 'boolean', help: 'keep case and accents (cased vocabularies); by default text is lower-cased and accents stripped' },
    input: { type: 'string', value: 'FILE', help: 'UTF-8 text; each line is tokenized on its own' },
    corpus: { type: 'string', value: 'C1,C2', help: `train: the corpora (${CORPORA.join(', ')}), their training documents`, default: CORPORA.join(',') },
    'vocab-size': { type: 'string', value: 'N', help: 'train: tokens in the vocabulary, special tokens included', default: '8000' },
    'min-frequency': { type: 'string', value: 'N', help: 'train: merge only pairs that occur at least N times', default: '2' },
    out: { type: 'string', value: 'FILE', help: 'train: where to write vocab.txt' },
    json: { type: 'boolean', help: 'print the result as one JSON object on stdout' },
  },
  notes: [
    'Tokenizing prints, for each input line, its token ids without [CLS] and [SEP], one line of space-separated ids per',
    'input line, or with --json one object {"ids": [[…], …]}. The tokenizer is Hugging Face\'s BertTokenizer: cleaning,',
    'CJK characters apart, punctuation split off, greedy longest-match-first WordPiece; [MASK] and the other special',
    'tokens written in the text stay whole. Training writes the special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]),',
    'the characters of the corpus, then the WordPiece merges, most frequent first.',
  ].join('\n'),
};

export type TokenizeResult = { ids: number[][] } | { out: string; vocabSize: number; words: number; distinctWords: number; alphabet: number; merges: number; stoppedBy: string };

export function runTokenize(values: Values, positionals: string[]): TokenizeResult {
  // Options with a default are always in `values`; one counts as given when it differs from its default.
  const given = (names: string[]) => names.filter((n) => values[n] !== undefined && values[n] !== TOKENIZE.options[n].default);
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'train')) throw new UsageError(`tokenize: the only argument is 'train', got '${positionals.join(' ')}'`);
  if (positionals[0] === 'train') {
    const stray = given(ENCODE_OPTIONS);
    if (stray.length > 0) throw new UsageError(`tokenize train: --${stray[0]} is for tokenizing; training takes ${TRAIN_OPTIONS.map((o) => `--${o}`).join(', ')}`);
    return train(values);
  }
  const stray = given(TRAIN_OPTIONS);
  if (stray.length > 0) throw new UsageError(`tokenize: --${stray[0]} is for training a vocabulary (netlab tokenize train)`);
  if (typeof values.vocab !== 'string') throw new UsageError('tokenize: --vocab FILE is required (a vocab.txt; netlab tokenize train writes one)');
  if (typeof values.input !== 'string') throw new UsageError('tokenize: --input FILE is required (UTF-8 text, one line per sequence)');
  const tokenizer = BertTokenizer.fromFile(resolve(values.vocab), { doLowerCase: !values.cased });
  const path = resolve(values.input);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`tokenize: ${path}: ${code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a text file' : (error as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`tokenize: ${path}: not UTF-8 text`);
  }
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const ids = lines.map((line) => tokenizer.encodeText(line));
  if (!values.json) process.stdout.write(ids.map((row) => `${row.join(' ')}\n`).join(''));
  return { ids };
}

function train(values: Values): TokenizeResult {
  if (typeof values.out !== 'string') throw new UsageError('tokenize train: --out FILE is required (where to write vocab.txt)');
  const vocabSize = numberOption('tokenize train', 'vocab-size', values['vocab-size'], { min: 6, integer: true });
  const minFrequency = numberOption('tokenize train', 'min-frequency', values['min-frequency'], { min: 1, integer: true });
  const corpora = String(values.corpus).split(',').map((c) => c.trim());
  for (const c of corpora) if (!(CORPORA as readonly string[]).includes(c)) throw new UsageError(`tokenize train: --corpus takes ${CORPORA.join(', ')} (comma-separated), got '${c}'`);
  const texts = corpora.flatMap((c) => loadCorpus(c as CorpusName, { split: 'train' }).map((d) => d.text));
  const started = performance.now();
  const t = trainWordPiece(texts, { vocabSize, minFrequency });
  const out = resolve(values.out);
  writeFileAtomic(out, t.vocab.toText());
  process.stderr.write(
    `tokenize train: ${t.vocab.size} tokens (${t.alphabet / 2} characters, ${t.merges} merges${t.stoppedBy === 'min-frequency' ? `, stopped: no pair occurs ${minFrequency} times` : ''}) from ${t.words.toLocaleString('en-US')} words (${t.distinctWords.toLocaleString('en-US')} distinct) of ${corpora.join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)} s → ${out}\n`,
  );
  return { out, vocabSize: t.vocab.size, words: t.words, distinctWords: t.distinctWords, alphabet: t.alphabet, merges: t.merges, stoppedBy: t.stoppedBy };
}
