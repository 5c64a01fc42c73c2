// The main job end to end at a toy budget: both trainings, every evaluation,
// the files, and a report that opens offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { liveTensors } from '../../src/index.js';
import { runMadryMnist } from '../../src/experiments/madry-mnist.js';
import { renderMadryReport } from '../../src/report/madry-report.js';

test('the Madry MNIST experiment runs end to end and its report is self-contained', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netlab-demo-'));
  const before = liveTensors();
  try {
    const phases: string[] = [];
    const result = runMadryMnist(
      { outDir: dir, trainCount: 300, naturalEpochs: 1, adversarialMinutes: 0.05, evalCount: 40, pgd100Count: 20, restartCount: 8, sweepCount: 20, autoAttackCount: 8 },
      { phase: (p) => phases.push(p.name) },
    );
    assert.equal(liveTensors(), before, 'the experiment leaves no tensors behind');
    for (const file of ['natural.safetensors', 'adversarial.safetensors', 'results.json']) assert.ok(existsSync(join(dir, file)), file);
    assert.deepEqual(result.models.map((m) => m.name), ['natural', 'adversarial']);
    for (const model of result.models) {
      assert.deepEqual(model.rows.map((r) => r.attack), ['FGSM', 'PGD-40', 'PGD-100', 'PGD-100 ×20', 'AutoAttack']);
      assert.deepEqual(model.rows.map((r) => r.n), [40, 40, 20, 8, 8]);
      const aa = model.autoAttack!;
      assert.equal(aa.n, 8);
      // At this toy budget a model may get none of the 8 right, leaving AutoAttack nothing to attack.
      assert.ok(aa.cleanAccuracy === 0 || aa.stages[0].attack === 'APGD-CE', `${model.name}: stages ${aa.stages.map((s) => s.attack)}`);
      // AutoAttack on the same 8 images as PGD-100 ×20 is at least as strong.
      assert.ok(aa.robustAccuracy <= model.rows[3].robustAccuracy, `${model.name}: AutoAttack ${aa.robustAccuracy}, PGD-100 ×20 ${model.rows[3].robustAccuracy}`);
      for (const row of model.rows) assert.ok(row.robustAccuracy <= row.cleanAccuracy, `${model.name} ${row.attack}`);
      assert.equal(model.sweeps.pgd.length, 9);
      assert.equal(model.sweeps.pgd[0].eps, 0);
    }
    assert.ok(phases.includes('natural training') && phases.some((p) => p.startsWith('adversarial training')));
    assert.equal(result.digits.length, 12);
    const html = renderMadryReport(result);
    assert.match(html, /<table>/);
    assert.match(html, /AutoAttack, stage by stage/);
    assert.match(html, /Gradient-masking checks/);
    assert.match(html, /new Chart\(/);
    assert.ok(html.includes('Chart.js'), 'Chart.js is inlined');
    // Opens offline: nothing is fetched from elsewhere.
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|https?:\/\/[^"'\s]*\.(js|css)/);
    const saved = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    assert.equal(saved.models[0].rows.length, 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
