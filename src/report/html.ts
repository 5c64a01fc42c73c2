// What the offline HTML reports share: Chart.js inlined from its npm
// package, escaping, data embedded as JSON, and a canvas per MNIST digit.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Chart.js's UMD build, to inline in a <script> so the report opens offline. */
export function chartJsSource(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `value` as a JavaScript literal that is safe inside a <script> element. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** A browser-side `digit(pixels, caption, bad)` that draws 28×28 grey levels (0–255) on a canvas in a <figure>. */
export const DIGIT_SCRIPT = `function digit(pixels, caption, bad) {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.width = 28; canvas.height = 28; canvas.className = 'digit';
  const ctx = canvas.getContext('2d'); const img = ctx.createImageData(28, 28);
  pixels.forEach((v, i) => { img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255; });
  ctx.putImageData(img, 0, 0);
  fig.append(canvas);
  const cap = document.createElement('figcaption'); cap.textContent = caption; if (bad) cap.className = 'bad';
  fig.append(cap); return fig;
}`;
