// The HTML report of the MAE reproduction: one self-contained file that opens
// offline — label efficiency, the masking-ratio curve (Figure 5), the
// reconstruction target (Table 1d), the pre-training curves and schedule, and
// masked test digits with their reconstructions (Figures 2 and 4).
import type { AblationRow, MaeMnistResult } from '../experiments/mae-mnist.js';
import { chartJsSource, DIGIT_SCRIPT, embedJson, escapeHtml } from './html.js';

const pct = (a: number) => `${(100 * a).toFixed(2)}%`;

/** Which masking ratio gave the best linear probe, and whether that is the paper's 75%. */
export function maskingPeak(rows: readonly AblationRow[]): { best: number; reproduces: boolean } {
  const best = rows.reduce((a, b) => (b.linearProbe > a.linearProbe ? b : a), rows[0]);
  return { best: best.maskRatio, reproduces: best.maskRatio === 0.75 };
}

export function renderMaeReport(result: MaeMnistResult): string {
  const { options: o, pretraining } = result;
  const labelRows = result.labelEfficiency.map(
    (r) => `<tr><td>${r.labels.toLocaleString('en-US')}</td><td>${pct(r.scratch)}</td><td><b>${pct(r.finetune)}</b></td><td>${(100 * (r.finetune - r.scratch)).toFixed(2)}</td><td>${pct(r.linearProbe)}</td><td>${pct(r.randomProbe)}</td></tr>`,
  );
  const ratioRows = result.maskingRatio.map((r) => `<tr><td>${(100 * r.maskRatio).toFixed(0)}%</td><td>${r.finalLoss.toFixed(4)}</td><td>${pct(r.linearProbe)}</td><td>${(r.seconds / 60).toFixed(1)} min</td></tr>`);
  const targetRows = result.target.map((r) => `<tr><td>${r.normPixLoss ? 'normalised pixels (per patch)' : 'pixels'}</td><td>${r.finalLoss.toFixed(4)}</td><td>${pct(r.linearProbe)}</td></tr>`);
  const peak = result.maskingRatio.length > 0 ? maskingPeak(result.maskingRatio) : null;
  const data = embedJson({ losses: pretraining.losses, lrs: pretraining.lrs, epochs: pretraining.epochs, ratios: result.maskingRatio, figures: result.figures });
  const c = result.model.config;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetLab — Masked Autoencoders on MNIST</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; }
.row { display: flex; gap: .3em; align-items: center; margin: .2em 0; } .label { width: 9em; font-size: 13px; }
figure { margin: 0; text-align: center; font-size: 12px; } canvas.digit { width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #ccc; }
.note { background: #fff8e5; border-left: 4px solid #e0b000; padding: .5em 1em; } small { color: #666; }
</style></head><body>
<h1>Masked autoencoders on MNIST (He et al., 2022)</h1>
<p>The official MAE (<code>models_mae.py</code>'s stages and state-dict keys) at MNIST scale: the encoder is NetLab's
<code>vit_tiny_mnist</code> (28×28 digits in ${c.patchSize}×${c.patchSize} patches, a 4×4 grid; ${c.depth} blocks of width ${c.embedDim}, ${c.numHeads} heads),
the decoder ${c.decoderDepth} blocks of width ${c.decoderEmbedDim}. Pre-training: ${o.pretrainEpochs} epochs over the 60,000 training images without labels,
mask ratio ${o.maskRatio}, batch ${o.batchSize}, AdamW β (0.9, 0.95), lr ${o.blr}·${o.batchSize}/256, weight decay ${o.weightDecay} (not on biases and norms),
${(100 * o.warmupFraction).toFixed(0)}% warm-up then half-cycle cosine per step, random resized crops of area ${o.cropScale.join('–')} (the paper's 0.2–1 cuts too much of a digit).
Total run time ${(result.totalSeconds / 60).toFixed(1)} min.</p>

<h2>Label efficiency</h2>
<p>Test accuracy with a random subset of the training labels (the same subset for every column). Fine-tuning (Table 9 at this scale): the encoder
in NetLab's ViT with global average pooling, AdamW, lr ${o.finetuneBlr}·batch/256, layer-wise lr decay ${o.layerDecay}, weight decay ${o.finetuneWeightDecay},
drop path ${o.dropPath}, label smoothing ${o.labelSmoothing}, random crops of ±${o.cropPadding} pixels, 10% warm-up then cosine; ${o.finetuneEpochs} epochs with all labels,
${o.subsetSteps} steps with fewer. "From scratch" is the same ViT and recipe from a random initialisation (no layer decay). Linear probing (Table 10): the
class token of the frozen encoder, BatchNorm without affine parameters and a linear layer, ${o.probeOptimizer === 'lars' ? "LARS, the paper's optimizer" : "SGD with momentum 0.9 (the paper's LARS is meant for batches of thousands)"}, at least ${o.probeSteps} steps.</p>
<table><thead><tr><th>labels</th><th>from scratch</th><th>MAE, fine-tuned</th><th>gain (points)</th><th>MAE, linear probe</th><th>random encoder, linear probe</th></tr></thead>
<tbody>${labelRows.join('\n')}</tbody></table>

<h2>Masking ratio (Figure 5)</h2>
<p>Short pre-trainings of ${o.ablationEpochs} epochs at each ratio, each judged by a linear probe with all labels.
${peak === null ? '' : `The probe peaks at ${(100 * peak.best).toFixed(0)}%: ${peak.reproduces ? "the paper's 75% peak reproduces at this scale" : "the paper's 75% peak does not reproduce at this scale (16 patches per image leave few to keep at high ratios)"}.`}</p>
<div class="charts"><table><thead><tr><th>mask ratio</th><th>final loss</th><th>linear probe</th><th>time</th></tr></thead><tbody>${ratioRows.join('\n')}</tbody></table>
<div><canvas id="ratio"></canvas></div></div>
${targetRows.length ? `<h2>Reconstruction target (Table 1d)</h2><p>Pre-trainings of ${o.ablationEpochs} epochs at ratio ${o.maskRatio}; the losses are not comparable across targets (different scales), the probes are.</p>
<table><thead><tr><th>target</th><th>final loss</th><th>linear probe</th></tr></thead><tbody>${targetRows.join('\n')}</tbody></table>` : ''}

<h2>Pre-training</h2>
<div class="charts"><div><h3>Loss per step (removed patches only)</h3><canvas id="loss"></canvas></div><div><h3>Learning rate per step</h3><canvas id="lr"></canvas></div></div>

<h2>Reconstructions of test digits (Figures 2 and 4)</h2>
<p>Per ratio: the digits, the masked inputs (removed patches grey), the decoder's prediction of every patch, and the prediction with the visible patches pasted back.</p>
<div id="figures"></div>
<p class="note">Everything here was measured by <code>netlab reproduce mae</code> on this run's machine; ${escapeHtml('results.json')} holds the numbers.</p>
<script>${chartJsSource()}</script>
<script>
const data = ${data};
${DIGIT_SCRIPT}
const line = (label, color, points) => ({ label, borderColor: color, pointRadius: 0, borderWidth: 1.5, data: points });
const every = Math.max(1, Math.floor(data.losses.length / 1500));
new Chart(document.getElementById('loss'), { type: 'line', data: { datasets: [ line('loss', '#1f77b4', data.losses.filter((_, i) => i % every === 0).map((y, i) => ({ x: i * every + 1, y }))) ] },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'step' } } } } });
new Chart(document.getElementById('lr'), { type: 'line', data: { datasets: [ line('lr', '#d62728', data.lrs.filter((_, i) => i % every === 0).map((y, i) => ({ x: i * every + 1, y }))) ] },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'step' } } } } });
new Chart(document.getElementById('ratio'), { type: 'line', data: { datasets: [ { ...line('linear probe accuracy (%)', '#2ca02c', data.ratios.map((r) => ({ x: 100 * r.maskRatio, y: 100 * r.linearProbe }))), pointRadius: 4 } ] },
  options: { scales: { x: { type: 'linear', title: { display: true, text: 'masking ratio (%)' } } } } });
const figures = document.getElementById('figures');
for (const f of data.figures) {
  const h = document.createElement('h3'); h.textContent = 'mask ratio ' + Math.round(100 * f.maskRatio) + '%'; figures.append(h);
  for (const [key, name] of [['original', 'digits'], ['masked', 'masked input'], ['reconstruction', 'prediction'], ['pasted', 'visible + predicted']]) {
    const div = document.createElement('div'); div.className = 'row';
    const label = document.createElement('span'); label.className = 'label'; label.textContent = name; div.append(label);
    f[key].forEach((pixels) => div.append(digit(pixels, '', false)));
    figures.append(div);
  }
}
</script></body></html>
`;
}
