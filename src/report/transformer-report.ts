// The HTML report of the Transformer reproduction: one self-contained file that
// opens offline — the test figures beside the published CMUdict results,
// checkpoint averaging, the small Table 3, the training curves and the
// learning-rate schedule, attention maps of the encoder–decoder attention, and
// sample conversions.
import type { TransformerG2pResult } from '../experiments/transformer-g2p.js';
import { chartJsSource, embedJson, escapeHtml } from './html.js';

const pct = (rate: number) => `${(100 * rate).toFixed(2)}%`;

export function renderTransformerReport(result: TransformerG2pResult): string {
  const { options: o, training: t, test, model } = result;
  const c = model.config;
  const testRows = [
    ['greedy', test.greedy],
    [`beam ${o.beamSize}, α ${o.alpha}`, test.beam],
  ].map(([name, s]) => {
    const score = s as TransformerG2pResult['test']['greedy'];
    return `<tr><td>NetLab ${name}</td><td><b>${pct(score.wer)}</b></td><td>${pct(score.per)}</td><td>${(score.seconds / 60).toFixed(1)} min to decode</td></tr>`;
  });
  const publishedRows = result.published.map((p) => `<tr><td>${escapeHtml(p.system)}</td><td>${p.wer.toFixed(1)}%</td><td>${p.per === undefined ? '—' : `${p.per}%`}</td><td><small>${escapeHtml(p.note)}</small></td></tr>`);
  const table3Rows = result.table3.map(
    (r) => `<tr><td>${escapeHtml(r.name)}</td><td>${escapeHtml(r.change)}</td><td>${(r.parameters / 1e6).toFixed(2)}M</td><td>${r.steps}</td><td>${r.perplexity.toFixed(3)}</td><td>${pct(r.wer)}</td><td>${pct(r.per)}</td></tr>`,
  );
  const exampleRows = result.examples.map(
    (e) => `<tr><td>${escapeHtml(e.word)}</td><td>${e.references.map((r) => escapeHtml(r.join(' '))).join('<br>')}</td>${[e.greedy, e.beam]
      .map((p) => `<td${e.references.some((r) => r.join(' ') === p.join(' ')) ? '' : ' class="wrong"'}>${escapeHtml(p.join(' '))}</td>`)
      .join('')}</tr>`,
  );
  const data = embedJson({ losses: t.losses, lrs: t.lrs, attention: result.attention });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetLab — the Transformer on CMUdict G2P</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; } .maps { display: flex; flex-wrap: wrap; gap: 1.5em; }
td.wrong { color: #b00; } .note { background: #fff8e5; border-left: 4px solid #e0b000; padding: .5em 1em; } small { color: #666; }
</style></head><body>
<h1>The Transformer (Vaswani et al., 2017) on grapheme-to-phoneme conversion</h1>
<p>The paper's encoder–decoder (<code>transformer_g2p</code>: N ${c.numEncoderLayers} + ${c.numDecoderLayers}, d_model ${c.dModel}, d_ff ${c.dimFeedforward}, h ${c.nhead},
dropout ${c.dropout}, sinusoidal positions, one 71-token vocabulary for letters and phonemes with all three matrices tied; ${model.parameters.toLocaleString('en-US')} parameters)
trained on CMUdict: ${result.data.trainWords.toLocaleString('en-US')} training words (${result.data.trainPairs.toLocaleString('en-US')} pronunciations), the split by
FNV-1a of the word, stress removed. The paper's recipe: batches of about ${o.maxTokens.toLocaleString('en-US')} tokens, label smoothing ε = ${o.labelSmoothing},
Adam β (0.9, 0.98) ε 1e-9, lr = ${o.lrFactor} · d^−0.5 · min(s^−0.5, s · ${o.warmupSteps}^−1.5) (the paper's 4,000 warm-up steps scaled to a run of ${t.steps.toLocaleString('en-US')} steps),
${o.minutes} minutes of training (${t.epochs.length} epochs), then the average of the last ${t.averagedSteps.length} checkpoints, written every ${o.snapshotMinutes} minutes.
Whole run ${(result.totalSeconds / 60).toFixed(1)} min.</p>

<h2>Test split (${result.data.testWords.toLocaleString('en-US')} words)</h2>
<p>Word error rate: a word is right when the output equals any of its pronunciations. Phoneme error rate: edits to the closest pronunciation over its length.</p>
<table><thead><tr><th>system</th><th>WER</th><th>PER</th><th></th></tr></thead><tbody>${testRows.join('\n')}
${publishedRows.join('\n')}</tbody></table>
<p><small>The published figures are on other splits of CMUdict (the cmusphinx figures on its latest version without stress, as here, but another test set), so they place this run, they do not rank it.</small></p>

<h2>Checkpoint averaging (§6.1)</h2>
<table><thead><tr><th>weights</th><th>validation perplexity</th><th>greedy WER</th><th>greedy PER</th></tr></thead><tbody>
<tr><td>last step</td><td>${t.last.perplexity.toFixed(3)}</td><td>${pct(t.last.wer)}</td><td>${pct(t.last.per)}</td></tr>
<tr><td>average of steps ${t.averagedSteps.join(', ')}</td><td>${t.averaged.perplexity.toFixed(3)}</td><td>${pct(t.averaged.wer)}</td><td>${pct(t.averaged.per)}</td></tr>
</tbody></table>
<p><small>On ${Math.min(o.validationCount, result.data.validationWords).toLocaleString('en-US')} validation words: greedy WER and PER, and perplexity per phoneme over their pronunciations, teacher-forced, without smoothing.</small></p>

<h2>Table 3 at this scale</h2>
<p>Each row trains a smaller model (d_model ${o.ablationModel.dModel}, d_ff ${o.ablationModel.dimFeedforward}, N ${o.ablationModel.numEncoderLayers} + ${o.ablationModel.numDecoderLayers})
for ${o.ablationSteps} steps from the same seed (warm-up ${o.ablationWarmupSteps} steps), changing one thing from the base row, as the paper's Table 3 does; perplexity and greedy WER and PER on validation.
The paper: one head is 0.9 BLEU worse than eight (A); learned positional embeddings are level with sinusoids (E); without label smoothing perplexity is lower (4.67 against 4.92) but BLEU worse (D).</p>
<table><thead><tr><th>row</th><th>change</th><th>parameters</th><th>steps</th><th>perplexity</th><th>WER</th><th>PER</th></tr></thead><tbody>${table3Rows.join('\n')}</tbody></table>

<h2>Training</h2>
<div class="charts"><div><h3>Training loss per step (label-smoothed cross-entropy)</h3><canvas id="loss"></canvas></div><div><h3>Learning rate per step</h3><canvas id="lr"></canvas></div></div>

<h2>Encoder–decoder attention</h2>
<p>The last decoder layer's attention over the letters (columns) while producing each phoneme (rows), averaged over the heads: the model learns the alignment of letters to sounds.</p>
<div class="maps" id="maps"></div>

<h2>Sample test words</h2>
<table><thead><tr><th>word</th><th>CMUdict</th><th>greedy</th><th>beam</th></tr></thead><tbody>${exampleRows.join('\n')}</tbody></table>
<p class="note">Everything here was measured by <code>netlab reproduce transformer</code> on this run's machine; ${escapeHtml('results.json')} holds the numbers.</p>
<script>${chartJsSource()}</script>
<script>
const data = ${data};
const line = (label, color, points) => ({ label, borderColor: color, pointRadius: 0, borderWidth: 1.5, data: points });
const every = Math.max(1, Math.floor(data.losses.length / 1500));
const thin = (values) => values.filter((_, i) => i % every === 0).map((y, i) => ({ x: i * every + 1, y }));
const xStep = { scales: { x: { type: 'linear', title: { display: true, text: 'step' } } } };
new Chart(document.getElementById('loss'), { type: 'line', data: { datasets: [ line('loss', '#1f77b4', thin(data.losses)) ] }, options: xStep });
new Chart(document.getElementById('lr'), { type: 'line', data: { datasets: [ line('lr', '#d62728', thin(data.lrs)) ] }, options: xStep });
const cell = 22;
for (const map of data.attention) {
  const figure = document.createElement('figure');
  const canvas = document.createElement('canvas');
  const left = 40, top = 24;
  canvas.width = left + cell * map.letters.length; canvas.height = top + cell * map.phonemes.length;
  const g = canvas.getContext('2d');
  g.font = '11px system-ui'; g.textAlign = 'center'; g.textBaseline = 'middle';
  map.letters.forEach((l, j) => g.fillText(l, left + cell * (j + 0.5), top / 2));
  map.phonemes.forEach((p, i) => {
    g.fillStyle = '#000'; g.fillText(p, left / 2, top + cell * (i + 0.5));
    map.weights[i].forEach((w, j) => { g.fillStyle = 'rgba(31, 119, 180, ' + w.toFixed(3) + ')'; g.fillRect(left + cell * j, top + cell * i, cell - 1, cell - 1); });
  });
  const caption = document.createElement('figcaption'); caption.textContent = map.word;
  figure.append(canvas, caption);
  document.getElementById('maps').append(figure);
}
</script></body></html>
`;
}
