// Prints tensors the way PyTorch does: `tensor([[1., 2.], [3., 4.]])`, four
// decimals when values are not integral, scientific notation for wide ranges,
// the middle elided for large tensors, and dtype / grad annotations.
import type { Tensor } from './tensor.js';

const SUMMARIZE_ABOVE = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

type Formatter = (value: number | boolean) => string;

function floatFormatter(values: number[]): Formatter {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return (v) => formatSpecial(v as number);
  const integral = finite.every((v) => Number.isInteger(v));
  const magnitudes = finite.map(Math.abs).filter((v) => v > 0);
  const max = magnitudes.length ? Math.max(...magnitudes) : 0;
  const min = magnitudes.length ? Math.min(...magnitudes) : 0;
  if (integral) {
    if (max > 1e8) return (v) => (Number.isFinite(v as number) ? (v as number).toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2') : formatSpecial(v as number));
    return (v) => (Number.isFinite(v as number) ? `${(v as number).toFixed(0)}.` : formatSpecial(v as number));
  }
  if (max / Math.max(min, Number.MIN_VALUE) > 1000 || max > 1e8 || min < 1e-4) {
    return (v) => (Number.isFinite(v as number) ? (v as number).toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2') : formatSpecial(v as number));
  }
  return (v) => (Number.isFinite(v as number) ? (v as number).toFixed(4) : formatSpecial(v as number));
}

function formatSpecial(v: number): string {
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

export function formatTensor(t: Tensor): string {
  const shape = t.shape;
  const dtype = t.dtype;
  const numel = t.numel();
  const summarize = numel > SUMMARIZE_ABOVE;
  const nested = t.toArray();
  const flat: (number | boolean)[] = [];
  const gatherShown = (value: unknown, d: number): void => {
    if (d === shape.length) {
      flat.push(value as number | boolean);
      return;
    }
    const items = value as unknown[];
    const indices = summarize && items.length > 2 * EDGE_ITEMS ? [...range(0, EDGE_ITEMS), ...range(items.length - EDGE_ITEMS, items.length)] : range(0, items.length);
    for (const i of indices) gatherShown(items[i], d + 1);
  };
  gatherShown(nested, 0);
  const isFloat = dtype.startsWith('float') || dtype === 'bfloat16';
  const fmt: Formatter = dtype === 'bool' ? (v) => (v ? 'True' : 'False') : isFloat ? floatFormatter(flat as number[]) : (v) => String(v);
  const width = Math.max(1, ...flat.map((v) => fmt(v).length));
  const cell = (v: unknown) => fmt(v as number | boolean).padStart(width);
  const indent = 'tensor('.length;
  const render = (value: unknown, d: number): string => {
    if (d === shape.length) return cell(value);
    const items = value as unknown[];
    const elide = summarize && items.length > 2 * EDGE_ITEMS;
    const shown = elide ? [...items.slice(0, EDGE_ITEMS), undefined, ...items.slice(-EDGE_ITEMS)] : items;
    const parts = shown.map((item) => (item === undefined ? (d === shape.length - 1 ? '...'.padStart(width) : '...') : render(item, d + 1)));
    if (d === shape.length - 1) {
      // Wrap long rows at the line width like PyTorch.
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent - d) / (width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < parts.length; i += perLine) lines.push(parts.slice(i, i + perLine).join(', '));
      return `[${lines.join(',\n' + ' '.repeat(indent + d + 1))}]`;
    }
    const separator = ',' + '\n'.repeat(shape.length - d - 1) + ' '.repeat(indent + d + 1);
    return `[${parts.join(separator)}]`;
  };
  const body = shape.length === 0 ? cell(nested) : numel === 0 ? '[]' : render(nested, 0);
  const suffix: string[] = [];
  if (numel === 0 && shape.length > 1) suffix.push(`size=(${shape.join(', ')})`);
  if (dtype !== 'float32' && dtype !== 'int64' && dtype !== 'bool') suffix.push(`dtype=${dtype}`);
  const gradFn = t.gradFn;
  if (gradFn !== null) suffix.push(`grad_fn=<${gradFn}>`);
  else if (t.requiresGrad) suffix.push('requires_grad=True');
  return `tensor(${body}${suffix.length ? ', ' + suffix.join(', ') : ''})`;
}

function range(start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i++) out.push(i);
  return out;
}
