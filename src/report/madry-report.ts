// The HTML report of the Madry et al. MNIST experiment: one self-contained
// file that opens offline — the results table beside the paper's numbers, the
// accuracy-versus-ε curves (Chart.js, inlined), training curves, and a grid
// of clean and adversarial digits with each model's predictions.
import type { MadryMnistResult } from '../experiments/madry-mnist.js';
import { chartJsSource, DIGIT_SCRIPT, embedJson, escapeHtml } from './html.js';


function pct(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? '—' : `${(100 * v).toFixed(1)}%`;
}

/** The paper's figure for a row, where it reports one. */
function paperFigure(result: MadryMnistResult, model: 'natural' | 'adversarial', attack: string): number | undefined {
  const p = result.paper[model] as Record<string, number>;
  return { FGSM: p.fgsm, 'PGD-40': p.pgd40, 'PGD-100 ×20': p.pgd100Restarts, AutoAttack: p.autoAttack }[attack];
}

export function renderMadryReport(result: MadryMnistResult): string {
  const rows: string[] = [];
  for (const model of result.models) {
    const cleanPaper = result.paper[model.name].clean;
    rows.push(`<tr><td>${model.name}</td><td>clean</td><td>—</td><td>${result.options.evalCount}</td><td>${pct(model.cleanAccuracy)}</td><td>${pct(cleanPaper)}</td><td>—</td><td>—</td></tr>`);
    for (const r of model.rows) {
      rows.push(
        `<tr><td>${model.name}</td><td>${escapeHtml(r.attack)}</td><td>${r.steps}×${r.restarts}</td><td>${r.n}</td><td>${pct(r.robustAccuracy)}</td><td>${pct(paperFigure(result, model.name, r.attack))}</td>` +
          `<td>${Number.isNaN(r.meanLinf) ? '—' : r.meanLinf.toFixed(3)}</td><td>${r.seconds.toFixed(0)} s</td></tr>`,
      );
    }
  }
  const stages = result.models
    .filter((m) => m.autoAttack !== null)
    .map((m) => {
      const aa = m.autoAttack!;
      const cells = aa.stages.map((s) => `<td>${pct(s.robustAccuracy)}<br><small>${s.broken} broken, ${s.seconds.toFixed(0)} s</small></td>`);
      return `<tr><td>${m.name}</td><td>${aa.n}</td><td>${pct(aa.cleanAccuracy)}</td>${cells.join('')}${'<td>—</td>'.repeat(4 - cells.length)}<td><b>${pct(aa.robustAccuracy)}</b></td></tr>`;
    });
  const diagnostics = result.models.flatMap((m) => m.diagnostics.map((d) => `<li class="bad">${m.name}: ${escapeHtml(d)}</li>`));
  const data = embedJson({
    sweeps: result.models.map((m) => ({ name: m.name, fgsm: m.sweeps.fgsm, pgd: m.sweeps.pgd })),
    curves: result.models.map((m) => ({ name: m.name, loss: m.lossCurve })),
    digits: result.digits,
  });
  const training = result.models
    .map((m) => `<li>${m.name}: ${m.trainSteps} steps in ${(m.trainSeconds / 60).toFixed(1)} min; test accuracy by epoch ${m.epochs.map((e) => pct(e.testAccuracy)).join(', ')}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetLab — Madry et al. MNIST</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, td:nth-child(2), th:first-child, th:nth-child(2) { text-align: left; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; } .grid { display: grid; grid-template-columns: repeat(6, auto); gap: .6em; }
figure { margin: 0; text-align: center; font-size: 12px; } canvas.digit { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #ccc; }
.bad { color: #b00; font-weight: 600; } small { color: #666; }
</style></head><body>
<h1>Adversarially robust MNIST (Madry et al., 2018)</h1>
<p>The CNN of Madry et al. trained naturally and with PGD adversarial training, attacked with L∞ ε = 0.3.
Robust accuracy counts an image only if the model classifies it correctly and the attack fails.
Total run time ${(result.totalSeconds / 60).toFixed(1)} min.</p>
<ul>${training}</ul>
<table><thead><tr><th>model</th><th>attack</th><th>steps×restarts</th><th>images</th><th>accuracy</th><th>paper</th><th>mean L∞ of successes</th><th>time</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>
<h3>AutoAttack, stage by stage</h3>
<p>The standard AutoAttack of Croce &amp; Hein (2020): each attack runs only on the images every earlier one failed to break, so the robust accuracy can only fall.
PGD on cross-entropy overestimating robustness shows as a gap between the PGD rows above and AutoAttack's.</p>
<table><thead><tr><th>model</th><th>images</th><th>clean</th><th>after APGD-CE</th><th>after APGD-T</th><th>after FAB-T</th><th>after Square</th><th>AutoAttack</th></tr></thead>
<tbody>${stages.join('\n')}</tbody></table>
<h3>Gradient-masking checks</h3>
${diagnostics.length === 0 ? '<p>No sign of gradient masking: Square (black-box) broke no more than 0.2% after the white-box attacks, PGD on cross-entropy is within 5 points of AutoAttack, no input gradient vanished, and accuracy falls as ε grows (Carlini et al. 2019).</p>' : `<ul>${diagnostics.join('')}</ul>`}
<div class="charts"><div><h3>Accuracy against ε — FGSM</h3><canvas id="fgsm"></canvas></div><div><h3>Accuracy against ε — PGD-20</h3><canvas id="pgd"></canvas></div>
<div><h3>Training loss</h3><canvas id="loss"></canvas></div></div>
<h3>Test digits: clean and PGD-40 adversarial, with predictions</h3>
<div class="grid" id="digits"></div>
<script>${chartJsSource()}</script>
<script>
const data = ${data};
const colors = { natural: '#d62728', adversarial: '#1f77b4' };
function sweepChart(id, key) {
  new Chart(document.getElementById(id), { type: 'line', data: { datasets: data.sweeps.map((s) => ({ label: s.name, borderColor: colors[s.name], data: s[key].map((p) => ({ x: p.eps, y: 100 * p.robustAccuracy })) })) },
    options: { scales: { x: { type: 'linear', title: { display: true, text: 'ε (L∞)' } }, y: { min: 0, max: 100, title: { display: true, text: 'accuracy %' } } } } });
}
sweepChart('fgsm', 'fgsm');
sweepChart('pgd', 'pgd');
new Chart(document.getElementById('loss'), { type: 'line', data: { datasets: data.curves.map((c) => ({ label: c.name, borderColor: colors[c.name], pointRadius: 0, data: c.loss.map((p) => ({ x: p.step, y: p.loss })) })) },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { type: 'logarithmic', title: { display: true, text: 'cross-entropy' } } } } });
${DIGIT_SCRIPT}
const grid = document.getElementById('digits');
for (const d of data.digits) {
  grid.append(digit(d.pixels, 'label ' + d.label, false));
  for (const name of ['natural', 'adversarial']) {
    const clean = d.predictions[name + ' clean'], adv = d.predictions[name + ' PGD-40'];
    grid.append(digit(d.adversarial[name], name + ': ' + clean + ' → ' + adv, adv !== d.label));
  }
}
</script></body></html>
`;
}
