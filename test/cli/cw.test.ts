// netlab reproduce cw as a user runs it: a toy budget end to end, and bad flags.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { netlab, netlabRunner } from '../helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netlab-cw-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('reproduce cw at a toy budget trains every network, fills every table and writes results.json and an offline report', () => {
  const out = join(dir, 'run');
  // Every part at its smallest: one image × 9 targets, one value of c, a few iterations. Nine networks are still
  // trained (about 4 minutes on 2 cores), hence a longer limit than the usual 5 minutes.
  const run = netlabRunner({ timeout: 900_000 })('reproduce', 'cw', '--out', out, '--train-n', '5000', '--natural-epochs', '2', '--distill-epochs', '2', '--half-epochs', '2', '--temperatures', '1,20',
    '--n', '1', '--transfer-n', '2', '--kappas', '0,10', '--search-steps', '1', '--max-iterations', '20', '--l0-linf-iterations', '10', '--transfer-search-steps', '1', '--json');
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  // natural, a teacher and a student per temperature, halves A and B, B's teacher and distilled B.
  assert.deepEqual(result.networks.map((n: { name: string }) => n.name), ['natural', 'teacher T=1', 'distilled T=1', 'teacher T=20', 'distilled T=20', 'half A', 'half B', 'half B teacher T=20', 'half B distilled T=20']);
  for (const n of result.networks) {
    assert.ok(existsSync(n.weights), n.weights);
    assert.ok(n.testAccuracy >= 0 && n.testAccuracy <= 1, `${n.name}: ${n.testAccuracy}`);
  }
  assert.equal(result.networks[0].trainImages, 5000);
  assert.equal(result.networks.at(-1).trainImages, 2500, 'the halves split the training images');
  assert.equal(result.images.length, 1);
  assert.deepEqual(result.table4.map((r: { method: string }) => r.method), ['C&W L0', 'JSMA-Z', 'JSMA-F', 'C&W L2', 'DeepFool', 'C&W L∞', 'FGSM', 'BIM']);
  for (const r of result.table4) {
    assert.ok(r.best.successRate >= 0 && r.best.successRate <= 1, r.method);
    // Best case succeeds at least as often as the average, the average as the worst.
    if (r.targeted) assert.ok(r.best.successRate >= r.average.successRate && r.average.successRate >= r.worst.successRate, r.method);
    else assert.equal(r.average, null);
  }
  assert.deepEqual(result.distillation.natural.map((r: { method: string }) => r.method), ['FGSM', 'DeepFool', 'L-BFGS', 'JSMA-Z', 'JSMA-F', 'C&W L2']);
  assert.equal(result.distillation.temperature, 20);
  assert.deepEqual(result.temperatureSweep.map((s: { temperature: number | null }) => s.temperature), [null, 1, 20]);
  for (const s of result.temperatureSweep) assert.equal(s.row.targeted, false, 'the sweep attacks untargeted');
  assert.deepEqual(result.transfer.points.map((p: { kappa: number }) => p.kappa), [0, 10]);
  for (const p of result.transfer.points) for (const key of ['success', 'toUndistilled', 'toDistilled']) assert.ok(Number.isNaN(p[key]) || p[key] === null || (p[key] >= 0 && p[key] <= 1), `${key} ${p[key]}`);
  assert.deepEqual(result.figure6.strips.map((s: { method: string }) => s.method), ['C&W L0', 'C&W L2', 'C&W L∞']);
  assert.ok(result.figure6.startNoise === 0 || result.figure6.startNoise === 0.2, `Figure 6's start noise ${result.figure6.startNoise}`);
  for (const s of result.figure6.strips) {
    assert.equal(s.images.length, 9, 'every digit but the one the black image already reads');
    assert.ok(s.clean.every((v: number) => v === 0), 'the black image');
    assert.ok(!s.images.some((im: { target: number }) => im.target === s.label));
  }
  assert.equal(result.examples.length, 8);
  assert.equal(result.examples[0].images.length, 9);
  assert.equal(result.examples[0].images[0].pixels.length, 784);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).table4, result.table4);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const heading of ['Table IV: targeted attacks', 'Defensive distillation (T = 20)', 'Transferability', 'Figure 6: an all-black image read as each digit']) assert.ok(html.includes(heading), heading);
  assert.ok(!/<script[^>]+src=/.test(html), 'no external scripts: the report opens offline');
});

test('reproduce cw refuses bad flags with clear errors', () => {
  const cases: [string[], RegExp][] = [
    [['--temperatures', '0,100'], /--temperatures must be > 0, got 0/],
    [['--temperatures', '10,abc'], /--temperatures must be a number, got 'abc'/],
    [['--kappas=-5,10'], /--kappas must be >= 0, got -5/],
    [['--n', '0'], /--n must be >= 1, got 0/],
    [['--n', '1001'], /--n must be <= 1000, got 1001/],
    [['--search-steps', '0'], /--search-steps must be >= 1, got 0/],
    [['--max-iterations', '2.5'], /--max-iterations must be a whole number, got '2.5'/],
    [['--natural-epochs=0'], /--natural-epochs must be >= 1, got 0/],
    [['--train-n', '50'], /--train-n must be >= 100, got 50/],
  ];
  for (const [flags, pattern] of cases) {
    const run = netlab('reproduce', 'cw', '--out', join(dir, 'bad'), ...flags);
    assert.equal(run.code, 2, `${flags.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
  }
  assert.ok(!existsSync(join(dir, 'bad')), 'nothing is written for a refused run');
});
