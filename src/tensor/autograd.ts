// Gradient mode and the functional gradient that attacks use to differentiate
// with respect to their input.
import { native } from './native.js';
import { checkGradShape, describeValue, Tensor } from './tensor.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.isGradEnabled();
  native.setGradEnabled(enabled);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    native.setGradEnabled(previous);
    throw error;
  }
  if (result instanceof Promise) {
    // Grad mode is a thread-wide flag in libtorch: it stays set until the
    // promise settles, so do not interleave other autograd work meanwhile.
    return result.finally(() => native.setGradEnabled(previous)) as T;
  }
  native.setGradEnabled(previous);
  return result;
}

/** Runs `fn` without recording operations for autograd (PyTorch's `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with gradients recorded, also inside `noGrad` (PyTorch's `torch.enable_grad()`). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

export interface GradOptions {
  /** d(output) to start from, one per output; needed for non-scalar outputs. */
  gradOutputs?: (Tensor | null)[];
  /** Keep the graph for another backward pass (default: createGraph). */
  retainGraph?: boolean;
  /** Record the gradient computation itself, for higher derivatives. */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/**
 * The gradients of `outputs` with respect to `inputs`, without touching any
 * `.grad` (PyTorch's `torch.autograd.grad`).
 */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], options: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  for (const t of [...outs, ...ins]) if (!(t instanceof Tensor)) throw new TypeError(`grad: expected tensors, got ${describeValue(t)}`);
  const gradOutputs = options.gradOutputs ?? [];
  if (gradOutputs.length !== 0 && gradOutputs.length !== outs.length)
    throw new RangeError(`grad: ${gradOutputs.length} gradOutputs given for ${outs.length} outputs`);
  gradOutputs.forEach((g, i) => {
    if (g !== null) checkGradShape('grad', outs[i], g, i);
  });
  const createGraph = options.createGraph ?? false;
  const handles = native.autogradGrad(
    outs.map((t) => t.handle),
    ins.map((t) => t.handle),
    gradOutputs.map((g) => (g === null ? null : g.handle)),
    options.retainGraph ?? createGraph,
    createGraph,
    options.allowUnused ?? false,
  );
  return handles.map((h) => (h === null ? null : new Tensor(h)));
}

/** Runs backward from several tensors at once (PyTorch's `torch.autograd.backward`). */
export function backward(tensors: Tensor[], gradTensors: (Tensor | null)[] = [], options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
  const createGraph = options.createGraph ?? false;
  gradTensors.forEach((g, i) => {
    if (g !== null && i < tensors.length) checkGradShape('backward', tensors[i], g, i);
  });
  native.backward(
    tensors.map((t) => t.handle),
    gradTensors.map((g) => (g === null ? null : g.handle)),
    options.retainGraph ?? createGraph,
    createGraph,
  );
}

/**
 * Resets the gradients of `tensors`, as PyTorch 1.13's zero_grad: zeroed in
 * place by default, or dropped (set to null) with `setToNone`.
 */
export function zeroGrads(tensors: Iterable<Tensor>, options: { setToNone?: boolean } = {}): void {
  const setToNone = options.setToNone ?? false;
  for (const t of tensors) {
    const g = t.grad;
    if (g === null) continue;
    if (setToNone) {
      t.grad = null;
    } else {
      // A gradient made with createGraph carries history; cut it before zeroing.
      if (g.gradFn !== null) g.detach_();
      else if (g.requiresGrad) g.requiresGrad_(false);
      g.zero_();
    }
    g.dispose();
  }
}
