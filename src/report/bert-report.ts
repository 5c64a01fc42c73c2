// The HTML report of the BERT reproduction: one self-contained file that opens
// offline — the vocabulary, the pre-training curves on held-out text, and the
// fine-tuning table (pre-trained against scratch against TF-IDF, by label count).
import type { BertSpamResult } from '../experiments/bert-spam.js';
import { chartJsSource, embedJson, escapeHtml } from './html.js';

const pct = (rate: number) => `${(100 * rate).toFixed(2)}%`;
const count = (n: number) => n.toLocaleString('en-US');

export function renderBertReport(result: BertSpamResult): string {
  const { options: o, vocabulary: v, pretraining: p, data: d } = result;
  const f = p.final;
  const best = (r: BertSpamResult['fineTuning'][number]) => Math.max(r.pretrained.accuracy, r.scratch.accuracy, r.tfidf.accuracy);
  const cellOf = (m: { accuracy: number; f1: number }, top: number) => `<td>${m.accuracy === top ? '<b>' : ''}${pct(m.accuracy)}${m.accuracy === top ? '</b>' : ''}</td><td>${m.f1.toFixed(3)}</td>`;
  const rows = result.fineTuning.map(
    (r) =>
      `<tr><td>${count(r.labels)}</td>${cellOf(r.pretrained, best(r))}${cellOf(r.scratch, best(r))}${cellOf(r.tfidf, best(r))}<td><small>${r.pretrained.steps} steps, ${(r.pretrained.seconds / 60).toFixed(1)} + ${(r.scratch.seconds / 60).toFixed(1)} min</small></td></tr>`,
  );
  const curve = p.curve.map((c) => ({ step: c.step, mlmAccuracy: c.mlmAccuracy, nspAccuracy: c.nspAccuracy, mlmLoss: c.mlmLoss, nspLoss: c.nspLoss, majority: c.mlmMajorityAccuracy }));
  const data = embedJson({ curve, losses: p.losses });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NetLab — BERT pre-training and fine-tuning</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; } .note { background: #fff8e5; border-left: 4px solid #e0b000; padding: .5em 1em; } small { color: #666; }
</style></head><body>
<h1>BERT (Devlin et al., 2019) at small scale</h1>
<p>The paper's two stages on this machine: <code>${escapeHtml(o.preset)}</code> (${count(result.model.parameters)} parameters with both pre-training heads) pre-trained by masked language modelling and
next-sentence prediction on ${escapeHtml(o.corpora.join(' and '))}${o.pretrainOnMessages ? ', with the text of the training messages (no labels, never a test message): domain text, as a user with unlabelled mail of their own would' : ''}, then fine-tuned, every parameter, to tell spam from ham.
Whole run ${(result.totalSeconds / 60).toFixed(1)} min.</p>

<h2>Vocabulary</h2>
<table><tbody>
<tr><td>WordPiece tokens</td><td>${count(v.size)} (${count(v.merges)} merges over an alphabet of ${count(v.alphabet)} characters)</td></tr>
<tr><td>training text</td><td>${count(v.corpusWords)} words, ${count(v.distinctWords)} distinct</td></tr>
<tr><td>tokens per word</td><td>${v.heldoutTokensPerWord.toFixed(3)} on held-out documents, ${v.messageTokensPerWord.toFixed(3)} on test messages</td></tr>
<tr><td>[UNK] share</td><td>${pct(v.heldoutUnknownRate)} on held-out documents, ${pct(v.messageUnknownRate)} on test messages</td></tr>
<tr><td>training time</td><td>${v.seconds.toFixed(0)} s</td></tr>
</tbody></table>

<h2>Pre-training</h2>
<p>Sentence pairs from ${count(d.trainDocuments)} documents${o.pretrainOnMessages ? ' (a message is a document)' : ''}, masked afresh for every batch (15%, at most ${o.maxPredictions}; 80% [MASK], 10% random, 10% kept), in
${p.phases.map((phase) => `${count(phase.steps)} steps on ${count(phase.pairs)} pairs of up to ${phase.maxSeqLength} tokens`).join(', then ')} (the paper: 90% of the steps at 128 tokens, the rest at 512);
batches of ${o.pretrainBatchSize} pairs, AdamW lr ${o.pretrainLr} (β₂ 0.999, weight decay 0.01 off biases and LayerNorm), each phase warming up over ${(100 * o.pretrainWarmup).toFixed(0)}% then decaying linearly; ${(p.seconds / 60).toFixed(1)} min.
Evaluated on ${count(d.heldoutPairs)} pairs from ${count(d.heldoutDocuments)} held-out documents (a tenth of each source by a hash of its name), with the same masks for every evaluation.</p>
<table><thead><tr><th>held out, after ${count(f.step)} steps</th><th>this run</th><th>baseline</th></tr></thead><tbody>
<tr><td>masked-LM accuracy (${count(f.predictions)} predictions)</td><td><b>${pct(f.mlmAccuracy)}</b></td><td>${pct(f.mlmMajorityAccuracy)} predicting the most frequent token (${(f.mlmAccuracy / f.mlmMajorityAccuracy).toFixed(1)}×)</td></tr>
<tr><td>next-sentence accuracy</td><td><b>${pct(f.nspAccuracy)}</b></td><td>${pct(f.nspMajorityAccuracy)} always answering the more frequent label</td></tr>
<tr><td>masked-LM loss / NSP loss</td><td>${f.mlmLoss.toFixed(3)} / ${f.nspLoss.toFixed(3)}</td><td></td></tr>
</tbody></table>
<div class="charts"><div><h3>Held-out accuracy</h3><canvas id="accuracy"></canvas></div><div><h3>Training loss per step (MLM + NSP)</h3><canvas id="loss"></canvas></div></div>

<h2>Fine-tuning on SpamAssassin</h2>
<p>Ham against spam (${escapeHtml(o.groups.join(', '))}): ${count(d.trainMessages)} training and ${count(d.testMessages)} test messages (${count(d.testSpam)} spam), the split fixed by FNV-1a of each message's name.
Each message is [CLS] subject [SEP] body [SEP], truncated to ${o.finetuneMaxLength} tokens. The same architecture from the pre-trained weights and from random initialisation, with the same recipe:
AdamW lr ${o.finetuneLr}, batch ${o.finetuneBatchSize}, ${o.finetuneEpochs} epochs (at least ${o.finetuneMinSteps} steps), warm-up over 10% then linear decay. The baseline: TF-IDF (sublinear tf) under logistic regression on the same messages.</p>
<table><thead><tr><th>labels</th><th>pre-trained</th><th>F1</th><th>scratch</th><th>F1</th><th>TF-IDF</th><th>F1</th><th></th></tr></thead><tbody>${rows.join('\n')}</tbody></table>
<p>The paper's claim: pre-training helps most where labelled data is scarce. F1 is of the spam class.</p>
<p class="note">Everything here was measured by <code>netlab reproduce bert</code> on this run's machine; results.json holds the numbers.</p>
<script>${chartJsSource()}</script>
<script>
const data = ${data};
const line = (label, color, points) => ({ label, borderColor: color, pointRadius: 2, borderWidth: 1.5, data: points });
const xStep = { scales: { x: { type: 'linear', title: { display: true, text: 'step' } } } };
new Chart(document.getElementById('accuracy'), { type: 'line', data: { datasets: [
  line('masked-LM', '#1f77b4', data.curve.map((c) => ({ x: c.step, y: c.mlmAccuracy }))),
  line('most frequent token', '#7f7f7f', data.curve.map((c) => ({ x: c.step, y: c.majority }))),
  line('next sentence', '#d62728', data.curve.map((c) => ({ x: c.step, y: c.nspAccuracy }))),
] }, options: xStep });
const every = Math.max(1, Math.floor(data.losses.length / 1500));
new Chart(document.getElementById('loss'), { type: 'line', data: { datasets: [ { ...line('loss', '#1f77b4', data.losses.filter((_, i) => i % every === 0).map((y, i) => ({ x: i * every + 1, y }))), pointRadius: 0 } ] }, options: xStep });
</script></body></html>
`;
}
