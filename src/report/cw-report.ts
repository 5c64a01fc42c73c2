// The offline report of `netlab reproduce cw`: Table IV beside the paper's,
// distillation broken, distortion against temperature, the transfer curves,
// Figure 6 and adversarial examples per method.
import type { DistortionNorm, DistortionSummary } from '../attacks/all-targets.js';
import { formatDistance, THROUGH_SOFTMAX, type CwMnistResult, type MethodRow } from '../experiments/carlini-wagner-mnist.js';
import { chartJsSource, DIGIT_SCRIPT, embedJson, escapeHtml } from './html.js';

function pct(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? '—' : `${(100 * v).toFixed(v === 1 || v === 0 ? 0 : 1)}%`;
}

function ours(norm: DistortionNorm, s: DistortionSummary | null): string {
  return s === null ? '—' : `${formatDistance(norm, s)} <small>${pct(s.successRate)}</small>`;
}

function paperCell(norm: DistortionNorm, cell: [number | null, number] | null | undefined): string {
  if (cell === null || cell === undefined) return '—';
  const [distance, rate] = cell;
  return `${distance === null ? '—' : norm === 'l0' ? distance : distance.toFixed(2)} <small>${pct(rate)}</small>`;
}

function row(r: MethodRow, paper: CwMnistResult['paper']['table4'][string] | undefined): string {
  const norm = { l0: 'L0', l2: 'L2', linf: 'L∞' }[r.norm];
  return (
    `<tr><td>${escapeHtml(r.method)}</td><td>${norm}</td>` +
    (['best', 'average', 'worst'] as const).map((c) => `<td>${ours(r.norm, r[c])}</td><td class="paper">${paperCell(r.norm, paper?.[c])}</td>`).join('') +
    `<td>${r.seconds.toFixed(0)} s</td></tr>`
  );
}

export function renderCwReport(result: CwMnistResult): string {
  const o = result.options;
  const networks = result.networks
    .map((n) => `<tr><td>${escapeHtml(n.name)}</td><td>${n.role}</td><td>${n.temperature}</td><td>${n.trainImages}</td><td>${n.epochs}</td><td>${(n.seconds / 60).toFixed(1)} min</td><td>${pct(n.testAccuracy)}</td></tr>`)
    .join('\n');
  const table4 = result.table4.map((r) => row(r, result.paper.table4[r.method])).join('\n');
  const d = result.distillation;
  const headline = (r: MethodRow) => r.average ?? r.best;
  const distillation = d.natural
    .map((r, i) => {
      const s = d.distilled[i];
      return `<tr><td>${escapeHtml(r.method)}</td><td>${r.targeted ? 'all targets' : 'untargeted'}</td><td>${pct(headline(r).successRate)}</td><td>${formatDistance(r.norm, headline(r))}</td><td>${pct(headline(s).successRate)}</td><td>${formatDistance(s.norm, headline(s))}</td></tr>`;
    })
    .join('\n');
  const data = embedJson({
    sweep: result.temperatureSweep.map((s) => ({ t: s.temperature, l2: s.row.best.meanL2, success: s.row.best.successRate, accuracy: s.testAccuracy })),
    transfer: result.transfer.points,
    figure6: result.figure6,
    examples: result.examples,
  });
  const tempRows = result.temperatureSweep
    .map((s) => `<tr><td>${s.temperature === null ? 'not distilled' : `T = ${s.temperature}`}</td><td>${pct(s.testAccuracy)}</td><td>${ours('l2', s.row.best)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetLab — Carlini &amp; Wagner (2017) on MNIST</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: right; }
td:first-child, th:first-child { text-align: left; } td.paper { color: #666; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; }
.strip { display: flex; gap: .4em; align-items: flex-end; margin: .4em 0; } .strip > b { width: 7em; font-size: 13px; }
figure { margin: 0; text-align: center; font-size: 11px; } canvas.digit { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #ccc; }
.bad { color: #b00; } small { color: #666; }
</style></head><body>
<h1>Towards Evaluating the Robustness of Neural Networks (Carlini &amp; Wagner, 2017): MNIST</h1>
<p>The paper's MNIST network (Table I) trained with its recipe (Table II: SGD 0.1, momentum 0.9, batch 128, the rate halved at each fifth of the run),
for ${o.naturalEpochs} epochs here (the paper: 50). Total run time ${(result.totalSeconds / 60).toFixed(1)} min.</p>
<table><thead><tr><th>network</th><th>role</th><th>T</th><th>training images</th><th>epochs</th><th>time</th><th>test accuracy</th></tr></thead><tbody>${networks}</tbody></table>

<h2>Table IV: targeted attacks, best, average and worst case</h2>
<p>The first ${o.count} test images the natural network classifies correctly (test indices ${result.images.slice(0, 20).join(', ')}${result.images.length > 20 ? ', …' : ''}), each attacked towards its 9 other classes.
Best case: the easiest target of each image; average case: every target; worst case: the hardest (an image counts only if every target succeeded).
Mean distance over the successes counted, then the success rate; the paper's numbers (its Table IV, MNIST) in grey. DeepFool is untargeted, so it has only one result per image, which the paper reports as its best case.
FGSM and BIM are searched for the smallest ε of the 8-bit grid that succeeds, as the paper ran them. C&amp;W L2 here: ${o.searchSteps} search steps over c × up to ${o.maxIterations} iterations (the paper: 20 × 10,000 with early abort); C&amp;W L0 and L∞: ${o.l0LinfIterations} iterations per value of c (Carlini's code: 1,000).</p>
<table><thead><tr><th>method</th><th>norm</th><th>best</th><th>paper</th><th>average</th><th>paper</th><th>worst</th><th>paper</th><th>time</th></tr></thead><tbody>${table4}</tbody></table>

<h2>Defensive distillation (T = ${d.temperature})</h2>
<p>${escapeHtml(result.paper.distillation)}. Success rate and mean distance of the successes (average case for the targeted attacks), on the same images.
${escapeHtml(THROUGH_SOFTMAX.join(', '))} reach the distilled network through its softmax output F in float32, as in Papernot et al.’s evaluation: where F has rounded to 0 or 1 their gradient is exactly 0
(C&amp;W §VIII.A). JSMA-Z and C&amp;W L2 use its logits. On the natural network every attack uses the logits.</p>
<table><thead><tr><th>method</th><th>mode</th><th>natural: success</th><th>distance</th><th>distilled: success</th><th>distance</th></tr></thead><tbody>${distillation}</tbody></table>
<h3>C&amp;W L2 against the distillation temperature</h3>
<p>Untargeted C&amp;W L2 on the same images, on the natural network and on one distilled at each temperature: mean L2 of the successes and the success rate.</p>
<table><thead><tr><th>network</th><th>test accuracy</th><th>untargeted C&amp;W L2</th></tr></thead><tbody>${tempRows}</tbody></table>

<h2>Transferability</h2>
<p>Two networks trained on disjoint halves of the training set (A and B) and B distilled at T = ${d.temperature}. Untargeted C&amp;W L2 examples made on A at confidence κ
(${o.transferSearchSteps} search steps), on ${result.transfer.count} test images all three classify correctly; the share of A's successes that B and distilled B misclassify.
The paper: ${escapeHtml(result.paper.transfer)}.</p>
<div class="charts"><div><canvas id="transfer"></canvas></div><div><canvas id="sweep"></canvas></div></div>

<h2>Figure 6: an all-black image read as each digit</h2>
<p>The smallest change each C&amp;W attack finds that makes the natural network read an all-black image as each digit (the digit it already reads needs none).${
  result.figure6.startNoise > 0
    ? ` The network's input gradient at the black image is exactly 0 (its first-layer ReLUs are all off there), so a descent started there cannot move: the attacks start beside it, at uniform noise in [&minus;${result.figure6.startNoise}, ${result.figure6.startNoise}] (C&amp;W L0 with c from 1, since at 1e-3 its distance term pulls the image back to black first), and the distance is measured from black.`
    : ''
}</p>
<div id="figure6"></div>
<h2>Adversarial examples by method</h2>
<p>The first image towards each other class (DeepFool: untargeted); red captions mark failures.</p>
<div id="examples"></div>
<script>${chartJsSource()}</script>
<script>
const data = ${data};
new Chart(document.getElementById('transfer'), { type: 'line', data: { datasets: [
  { label: 'transfer to B', borderColor: '#1f77b4', data: data.transfer.map((p) => ({ x: p.kappa, y: 100 * p.toUndistilled })) },
  { label: 'transfer to distilled B', borderColor: '#d62728', data: data.transfer.map((p) => ({ x: p.kappa, y: 100 * p.toDistilled })) },
  { label: 'success on A', borderColor: '#999', borderDash: [4, 4], data: data.transfer.map((p) => ({ x: p.kappa, y: 100 * p.success })) } ] },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'κ' } }, y: { min: 0, max: 100, title: { display: true, text: '%' } } } } });
new Chart(document.getElementById('sweep'), { type: 'line', data: { datasets: [
  { label: 'C&W L2 (untargeted), mean distance', borderColor: '#2ca02c', data: data.sweep.filter((s) => s.t !== null).map((s) => ({ x: s.t, y: s.l2 })) } ] },
  options: { scales: { x: { type: 'logarithmic', title: { display: true, text: 'distillation temperature' } }, y: { min: 0, title: { display: true, text: 'mean L2' } } } } });
${DIGIT_SCRIPT}
function strips(id, list, showClean) {
  const root = document.getElementById(id);
  for (const s of list) {
    const line = document.createElement('div'); line.className = 'strip';
    const name = document.createElement('b'); name.textContent = s.method; line.append(name);
    if (showClean) line.append(digit(s.clean, 'label ' + s.label, false));
    for (const im of s.images) line.append(digit(im.pixels, (im.target === null ? 'untargeted' : '→ ' + im.target) + (im.success ? ' (' + im.distance.toFixed(2) + ')' : ' failed'), !im.success));
    root.append(line);
  }
}
strips('figure6', data.figure6.strips, true);
strips('examples', data.examples, true);
</script></body></html>
`;
}

