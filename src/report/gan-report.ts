// The HTML report of the GAN reproduction: one self-contained file that opens
// offline — the Parzen estimate beside the paper's Table 1 and beside real
// data, the training curves, samples with their nearest training images,
// interpolations in z, and the optimal-discriminator check in one dimension.
import type { GanMnistResult } from '../experiments/goodfellow-gan.js';
import { chartJsSource, DIGIT_SCRIPT, embedJson, escapeHtml } from './html.js';

function nats(estimate: { logLikelihood: number; standardError: number }): string {
  return `${estimate.logLikelihood.toFixed(0)} ± ${estimate.standardError.toFixed(1)}`;
}

export function renderGanReport(result: GanMnistResult): string {
  const { parzen, training, options: o } = result;
  const { separate: toy, equal } = result.toy;
  const rows = [
    ...result.paper.table1.map((r) => `<tr><td>${escapeHtml(r.model)}</td><td>paper, Table 1</td><td>${nats(r)}</td><td>—</td></tr>`),
    `<tr class="ours"><td>Adversarial nets (NetLab)</td><td>this run: ${training.generatorSteps.toLocaleString('en-US')} G steps, ${(training.seconds / 60).toFixed(0)} min</td><td>${nats(parzen.generator)}</td><td>${parzen.generator.sigma.toFixed(3)}</td></tr>`,
    `<tr><td>Real MNIST training images</td><td>the same estimator on ${parzen.realData.samples.toLocaleString('en-US')} real images</td><td>${nats(parzen.realData)}</td><td>${parzen.realData.sigma.toFixed(3)}</td></tr>`,
  ];
  const data = embedJson({
    epochs: training.epochs,
    validation: { generator: parzen.generator.validation, real: parzen.realData.validation },
    figures: result.figures,
    toy: { x: toy.x, pData: toy.pData, pG: toy.pG, optimal: toy.optimal, trained: toy.trained },
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetLab — Generative Adversarial Nets on MNIST</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; }
tr.ours { font-weight: 600; background: #eef5ff; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; }
.row { display: flex; gap: .3em; align-items: center; margin: .2em 0; } .sep { width: 1.2em; }
figure { margin: 0; text-align: center; font-size: 12px; } canvas.digit { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #ccc; }
.note { background: #fff8e5; border-left: 4px solid #e0b000; padding: .5em 1em; } small { color: #666; }
</style></head><body>
<h1>Generative adversarial nets on MNIST (Goodfellow et al., 2014)</h1>
<p>The generator (z ∈ [−√3, √3]¹⁰⁰ → ReLU 1200 → ReLU 1200 → sigmoid 784) and the maxout discriminator
(240×5 → 240×5 → sigmoid, dropout) of the paper's released code, trained by Algorithm 1 (${o.update === 'simultaneous' ? 'both players updated together on each minibatch, as the released code does' : `k = ${o.k} discriminator steps per generator step`}),
the ${escapeHtml(o.generatorObjective)} generator objective and ${o.optimizer === 'sgd' ? 'the released SGD recipe (lr 0.1 ÷ 1.000004 per update, momentum 0.5 → 0.7)' : 'Adam (lr 2·10⁻⁴, β₁ 0.5)'},
on MNIST training images 0–${(o.trainCount - 1).toLocaleString('en-US')}. Total run time ${(result.totalSeconds / 60).toFixed(1)} min.</p>

<h2>Parzen-window log-likelihood of the MNIST test set (Table 1)</h2>
<p>As the paper's <code>parzen_ll.py</code>: a Gaussian window of width σ on each of ${parzen.generator.samples.toLocaleString('en-US')} samples,
σ chosen from 10 values log-spaced in [0.1, 1] by ${o.validationCount.toLocaleString('en-US')} validation images (training images 50,000 onwards, never trained on),
the mean log-likelihood of ${parzen.generator.testImages.toLocaleString('en-US')} test images ± its standard error, in nats.</p>
<table><thead><tr><th>model</th><th>source</th><th>log-likelihood (nats)</th><th>σ</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>
<p class="note">This estimator is biased and has high variance in 784 dimensions: Theis, van den Oord and Bethge (2016,
"A note on the evaluation of generative models") show that it can rank a poor model above the data itself, and that
its value says little about sample quality. It is kept because it is the paper's protocol; compare the real-data row.</p>

<div class="charts">
<div><h3>Losses (means over each epoch)</h3><canvas id="loss"></canvas></div>
<div><h3>Mean D(x) on real images and D(G(z)) on samples, by epoch</h3><canvas id="dout"></canvas></div>
<div><h3>Choosing σ: validation log-likelihood</h3><canvas id="sigma"></canvas></div>
<div><h3>Proposition 1 in one dimension</h3><canvas id="toy"></canvas>
<small>p_data = N(${toy.dataMean}, ${toy.dataStd}²), a fixed generator x = ${toy.generatorMean} + ${toy.generatorStd}·z; a discriminator trained
${toy.steps.toLocaleString('en-US')} steps against it is within ${toy.meanGap.toFixed(3)} of D* = p_data/(p_data + p_g) on average over the support
(${toy.weightedGap.toFixed(3)} weighted by density). The game's value at the trained D is ${toy.value.toFixed(4)}, at D* ${toy.optimalValue.toFixed(4)}
(−log 4 = ${(-Math.log(4)).toFixed(4)} only when p_g = p_data). With the generator moved onto the data (x = z, p_g = p_data), the trained D is
within ${equal.meanGap.toFixed(3)} of ½ on average and the value is ${equal.value.toFixed(4)}: Theorem 1's global optimum.</small></div>
</div>

<h2>Samples and their nearest training images (Figure 2)</h2>
<p>Each row: five samples, then (after the gap) the training image closest in L2 to the row's last sample — the model is not reproducing training digits.</p>
<div id="samples"></div>
<h2>Interpolations in z (Figure 3)</h2>
<p>Each row: G along the straight line between two random noise vectors.</p>
<div id="lines"></div>
<script>${chartJsSource()}</script>
<script>
const data = ${data};
${DIGIT_SCRIPT}
const line = (label, color, points) => ({ label, borderColor: color, pointRadius: 0, borderWidth: 1.5, data: points });
new Chart(document.getElementById('loss'), { type: 'line', data: { datasets: [
  line('D loss', '#1f77b4', data.epochs.map((e) => ({ x: e.epoch + 1, y: e.lossD }))),
  line('G loss', '#d62728', data.epochs.map((e) => ({ x: e.epoch + 1, y: e.lossG }))) ] },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'epoch' } } } } });
new Chart(document.getElementById('dout'), { type: 'line', data: { datasets: [
  line('D(x)', '#2ca02c', data.epochs.map((e) => ({ x: e.epoch + 1, y: e.dReal }))),
  line('D(G(z))', '#ff7f0e', data.epochs.map((e) => ({ x: e.epoch + 1, y: e.dFake }))) ] },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'epoch' } }, y: { min: 0, max: 1 } } } });
new Chart(document.getElementById('sigma'), { type: 'line', data: { datasets: [
  { ...line('generator samples', '#d62728', data.validation.generator.map((p) => ({ x: p.sigma, y: p.logLikelihood }))), pointRadius: 3 },
  { ...line('real images', '#555', data.validation.real.map((p) => ({ x: p.sigma, y: p.logLikelihood }))), pointRadius: 3 } ] },
  options: { scales: { x: { type: 'logarithmic', title: { display: true, text: 'σ' } }, y: { min: -800, title: { display: true, text: 'nats' } } } } });
new Chart(document.getElementById('toy'), { type: 'line', data: { datasets: [
  line('p_data', '#000', data.toy.x.map((x, i) => ({ x, y: data.toy.pData[i] }))),
  line('p_g', '#2ca02c', data.toy.x.map((x, i) => ({ x, y: data.toy.pG[i] }))),
  { ...line('D* = p_data / (p_data + p_g)', '#1f77b4', data.toy.x.map((x, i) => ({ x, y: data.toy.optimal[i] }))), borderDash: [6, 4] },
  line('trained D', '#d62728', data.toy.x.map((x, i) => ({ x, y: data.toy.trained[i] }))) ] },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'x' } }, y: { min: 0, max: 1 } } } });
const samples = document.getElementById('samples');
data.figures.samples.forEach((row, r) => {
  const div = document.createElement('div'); div.className = 'row';
  row.forEach((pixels) => div.append(digit(pixels, '', false)));
  const gap = document.createElement('span'); gap.className = 'sep'; div.append(gap);
  div.append(digit(data.figures.neighbours[r], 'nearest', false));
  samples.append(div);
});
const lines = document.getElementById('lines');
for (const row of data.figures.interpolations) {
  const div = document.createElement('div'); div.className = 'row';
  row.forEach((pixels) => div.append(digit(pixels, '', false)));
  lines.append(div);
}
</script></body></html>
`;
}
