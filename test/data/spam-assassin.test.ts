// The SpamAssassin corpus as labelled subjects and bodies (MIME decoded by
// mailparser), its fixed split, and the TF-IDF logistic-regression baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { loadSpamAssassin, parseMessage, spamSplitOf } from '../../src/data/spam-assassin.js';
import { binaryMetrics, TfidfLogisticRegression } from '../../src/text/tfidf-baseline.js';
import { assertThrowsWith } from '../helpers.js';

test('a MIME message: the encoded subject decoded, the text part chosen, quoted-printable and base64 undone, HTML made text', async () => {
  const raw = [
    'From: a@example.com',
    'Received: from relay.example.com by mx.example.com',
    'Subject: =?iso-8859-1?Q?Caf=E9_offer?=',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="XX"',
    '',
    '--XX',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('Plain body, naïve text.').toString('base64'),
    '--XX',
    'Content-Type: text/html',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<html><body><b>HTML</b> =3D body</body></html>',
    '--XX--',
    '',
  ].join('\r\n');
  const m = await parseMessage(Buffer.from(raw));
  assert.equal(m.subject, 'Café offer');
  assert.equal(m.body, 'Plain body, naïve text.');
  const html = await parseMessage(Buffer.from('Subject: hi\r\nContent-Type: text/html\r\n\r\n<p>Only <i>HTML</i> here</p>'));
  assert.match(html.body, /^Only HTML here$/i);
});

test('hard ham and the first spam group: labels, subjects and bodies without headers, a fifth in the test split', async () => {
  const messages = await loadSpamAssassin({ groups: ['hard-ham-1', 'spam-1'] });
  assert.equal(messages.filter((m) => m.group === 'hard-ham-1').length, 250);
  assert.equal(messages.filter((m) => m.group === 'spam-1').length, 500);
  for (const m of messages) assert.equal(m.label, m.group === 'spam-1' ? 1 : 0);
  assert.ok(messages.filter((m) => m.subject.length > 0).length > 700, 'almost every message has a subject');
  assert.ok(messages.every((m) => !/^Received: /m.test(m.body)), 'bodies hold no headers');
  // HTML parts are made text; markup survives only where a spammer sent it inside a text/plain part (3 of 750).
  const markup = messages.filter((m) => /<html/i.test(m.body)).length;
  assert.ok(markup <= 5, `${markup} bodies with <html>`);
  const testShare = messages.filter((m) => spamSplitOf(m.group, m.name) === 'test').length / messages.length;
  assert.ok(Math.abs(testShare - 0.2) < 0.04, `test share ${testShare}`);
  const test = await loadSpamAssassin({ groups: ['hard-ham-1'], split: 'test' });
  assert.deepEqual(test.map((m) => m.name), messages.filter((m) => m.group === 'hard-ham-1' && spamSplitOf(m.group, m.name) === 'test').map((m) => m.name));
});

test('binary metrics: accuracy, and precision, recall and F1 of the positive class', () => {
  assert.deepEqual(binaryMetrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]), { accuracy: 0.6, precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, count: 5 });
  assert.equal(binaryMetrics([0, 0], [0, 0]).f1, 0);
});

test('the TF-IDF baseline separates separable texts and generalises to unseen mixtures of their words', () => {
  const spam = ['win money now', 'free money offer', 'win a free prize', 'cheap offer now', 'money prize win'];
  const ham = ['meeting notes attached', 'see the notes from the meeting', 'lunch meeting tomorrow', 'project notes draft', 'draft of the project plan'];
  const model = new TfidfLogisticRegression({ minDf: 1, c: 10 }).fit([...spam, ...ham], [...spam.map(() => 1), ...ham.map(() => 0)]);
  assert.deepEqual(model.predict([...spam, ...ham]), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(model.predict(['free prize money', 'notes of the project meeting']), [1, 0]);
  const p = model.predictProba(['free prize money'])[0];
  assert.ok(p > 0.5 && p < 1);
});

test('bad input gets clear errors', async () => {
  await assert.rejects(loadSpamAssassin({ groups: ['spam-3' as never] }), /groups must be among easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2, got 'spam-3'/);
  await assert.rejects(loadSpamAssassin({ split: 'validation' as never }), /split must be 'train' or 'test', got 'validation'/);
  assertThrowsWith(() => new TfidfLogisticRegression().fit(['a'], [1, 0]), /expected as many labels as texts/);
  assertThrowsWith(() => new TfidfLogisticRegression().fit(['a', 'b'], [1, 2]), /labels must be 0 or 1/);
  assertThrowsWith(() => binaryMetrics([1], []), /expected as many predictions as labels/);
});
