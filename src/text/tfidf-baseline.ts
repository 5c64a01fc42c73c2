// The classical text classifier beside BERT, for honesty: TF-IDF features
// (sublinear term frequency 1 + log tf, smoothed idf log((1 + n)/(1 + df)) + 1,
// rows L2-normalised, as scikit-learn's TfidfVectorizer(sublinear_tf=True))
// under L2-regularised logistic regression (scikit-learn's C), fitted by
// full-batch Adam on sparse rows. Words are runs of letters or digits,
// lower-cased.

/** Accuracy, and precision, recall and F1 of the positive class (spam). */
export interface BinaryMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  count: number;
}

/** Metrics of 0/1 predictions against 0/1 labels. */
export function binaryMetrics(predictions: readonly number[], labels: readonly number[]): BinaryMetrics {
  if (predictions.length !== labels.length || labels.length === 0) throw new RangeError(`binaryMetrics: expected as many predictions as labels (at least 1), got ${predictions.length} and ${labels.length}`);
  let [tp, fp, fn, correct] = [0, 0, 0, 0];
  predictions.forEach((p, i) => {
    const y = labels[i];
    if (p === y) correct++;
    if (p === 1 && y === 1) tp++;
    else if (p === 1) fp++;
    else if (y === 1) fn++;
  });
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return { accuracy: correct / labels.length, precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), count: labels.length };
}

const WORD = /[\p{L}\p{N}]+/gu;

function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

// A sparse row: feature indices and values.
interface SparseRow {
  index: Int32Array;
  value: Float64Array;
}

export interface TfidfOptions {
  /** Words in fewer training documents than this are not features (default 2). */
  minDf?: number;
  /** At most this many features, the most frequent by document frequency (default 50,000). */
  maxFeatures?: number;
  /** Inverse regularisation strength, as scikit-learn's C (default 1). */
  c?: number;
  /** Full-batch Adam steps (default 300) and their learning rate (default 0.1). */
  steps?: number;
  lr?: number;
}

/** TF-IDF features under logistic regression; `fit` on training texts, then `predict`. */
export class TfidfLogisticRegression {
  private vocabulary = new Map<string, number>();
  private idf = new Float64Array(0);
  private weights = new Float64Array(0);
  private bias = 0;

  constructor(readonly options: TfidfOptions = {}) {}

  get features(): number {
    return this.vocabulary.size;
  }

  fit(texts: readonly string[], labels: readonly number[]): this {
    if (texts.length !== labels.length || texts.length === 0) throw new RangeError(`TfidfLogisticRegression: expected as many labels as texts (at least 1), got ${texts.length} and ${labels.length}`);
    if (labels.some((y) => y !== 0 && y !== 1)) throw new RangeError('TfidfLogisticRegression: labels must be 0 or 1');
    const minDf = this.options.minDf ?? 2;
    const maxFeatures = this.options.maxFeatures ?? 50_000;
    const tokenized = texts.map(words);
    const df = new Map<string, number>();
    for (const doc of tokenized) for (const w of new Set(doc)) df.set(w, (df.get(w) ?? 0) + 1);
    const kept = [...df].filter(([, n]) => n >= minDf).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxFeatures);
    this.vocabulary = new Map(kept.map(([w], i) => [w, i]));
    const n = texts.length;
    this.idf = Float64Array.from(kept, ([, d]) => Math.log((1 + n) / (1 + d)) + 1);
    const rows = tokenized.map((doc) => this.row(doc));
    this.train(rows, labels);
    return this;
  }

  /** The probability of the positive class for each text. */
  predictProba(texts: readonly string[]): number[] {
    return texts.map((t) => sigmoid(this.score(this.row(words(t)))));
  }

  predict(texts: readonly string[]): number[] {
    return this.predictProba(texts).map((p) => (p >= 0.5 ? 1 : 0));
  }

  private row(doc: readonly string[]): SparseRow {
    const counts = new Map<number, number>();
    for (const w of doc) {
      const i = this.vocabulary.get(w);
      if (i !== undefined) counts.set(i, (counts.get(i) ?? 0) + 1);
    }
    const index = Int32Array.from(counts.keys());
    const value = Float64Array.from(index, (i) => (1 + Math.log(counts.get(i)!)) * this.idf[i]);
    let norm = 0;
    for (const x of value) norm += x * x;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let k = 0; k < value.length; k++) value[k] /= norm;
    return { index, value };
  }

  private score(r: SparseRow): number {
    let z = this.bias;
    for (let k = 0; k < r.index.length; k++) z += this.weights[r.index[k]] * r.value[k];
    return z;
  }

  // Minimises Σ log-loss + ‖w‖² / (2C) (scikit-learn's objective) with full-batch Adam.
  private train(rows: SparseRow[], labels: readonly number[]): void {
    const d = this.vocabulary.size;
    const c = this.options.c ?? 1;
    const steps = this.options.steps ?? 300;
    const lr = this.options.lr ?? 0.1;
    this.weights = new Float64Array(d);
    this.bias = 0;
    const [m, v] = [new Float64Array(d + 1), new Float64Array(d + 1)];
    const grad = new Float64Array(d + 1);
    for (let t = 1; t <= steps; t++) {
      grad.fill(0);
      rows.forEach((r, i) => {
        const e = sigmoid(this.score(r)) - labels[i];
        for (let k = 0; k < r.index.length; k++) grad[r.index[k]] += e * r.value[k];
        grad[d] += e;
      });
      for (let j = 0; j < d; j++) grad[j] += this.weights[j] / c;
      for (let j = 0; j <= d; j++) {
        m[j] = 0.9 * m[j] + 0.1 * grad[j];
        v[j] = 0.999 * v[j] + 0.001 * grad[j] * grad[j];
        const step = (lr * (m[j] / (1 - 0.9 ** t))) / (Math.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8);
        if (j < d) this.weights[j] -= step;
        else this.bias -= step;
      }
    }
  }
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}
