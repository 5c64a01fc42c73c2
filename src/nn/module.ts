// The Module base: parameters, buffers and children found on the module's own
// properties, so that property paths are the state-dict keys PyTorch uses
// (`layer1.0.downsample.0.weight`, `bn1.running_var`). Modules own their
// tensors: scopes never dispose parameters or buffers, `dispose()` does.
import { inspect } from 'node:util';

import { Tensor } from '../tensor/tensor.js';
import { noGrad, zeroGrads } from '../tensor/autograd.js';
import type { DType } from '../tensor/dtype.js';
import type { Device } from '../tensor/device.js';

/** A tensor that is a module's learnable weight: a leaf with requiresGrad, never disposed by a scope. */
export class Parameter extends Tensor {
  /** Wraps `data` (sharing its storage, detached from any graph); `data` itself stays the caller's. */
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) throw new TypeError('Parameter: expected a Tensor');
    super(data.detachedHandle());
    this.keep();
    if (requiresGrad) this.requiresGrad_(true);
  }

  /** A parameter that takes `data` over: `data` is disposed, its storage lives on in the parameter. */
  static adopt(data: Tensor, requiresGrad = true): Parameter {
    try {
      return new Parameter(data, requiresGrad);
    } finally {
      data.dispose();
    }
  }
}

/** A tensor a module keeps but does not learn (running statistics, fixed tables). */
export class Buffer extends Tensor {
  /** Non-persistent buffers stay out of the state dict, as in PyTorch. */
  readonly persistent: boolean;

  constructor(data: Tensor, options: { persistent?: boolean } = {}) {
    if (!(data instanceof Tensor)) throw new TypeError('Buffer: expected a Tensor');
    super(data.detachedHandle());
    this.keep();
    this.persistent = options.persistent ?? true;
  }

  /** A buffer that takes `data` over: `data` is disposed, its storage lives on in the buffer. */
  static adopt(data: Tensor, options: { persistent?: boolean } = {}): Buffer {
    try {
      return new Buffer(data, options);
    } finally {
      data.dispose();
    }
  }
}

/** A value as Python prints it, for printouts that read like PyTorch's: True, None, 1e-05. */
export function pyRepr(value: number | boolean | null): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (Number.isInteger(value)) return String(value);
  const text = String(value);
  // Python writes small and large floats with a two-digit exponent (1e-05).
  return Math.abs(value) < 1e-4 || Math.abs(value) >= 1e16 ? value.toExponential().replace(/e([+-])(\d)$/, 'e$10$2') : text;
}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export type StateDict = Map<string, Tensor>;

export abstract class Module {
  /** The computation; subclasses give it their own signature. */
  abstract forward(...inputs: any[]): any;

  /** Training mode (dropout active, batch norm on batch statistics); see `train()` and `eval()`. */
  training = true;

  /** Named children in declaration order, like PyTorch's `named_children()`. */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((entry): entry is [string, Module] => entry[1] instanceof Module);
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every descendant, with dotted paths ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters with their state-dict paths; shared parameters appear once. */
  namedParameters(options: { recurse?: boolean } = {}): [string, Parameter][] {
    return this.collect(Parameter, options.recurse ?? true) as [string, Parameter][];
  }

  parameters(options: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(options).map(([, p]) => p);
  }

  namedBuffers(options: { recurse?: boolean } = {}): [string, Buffer][] {
    return this.collect(Buffer, options.recurse ?? true) as [string, Buffer][];
  }

  buffers(options: { recurse?: boolean } = {}): Buffer[] {
    return this.namedBuffers(options).map(([, b]) => b);
  }

  private collect(kind: typeof Parameter | typeof Buffer, recurse: boolean): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    const modules: [string, Module][] = recurse ? this.namedModules() : [['', this]];
    for (const [path, module] of modules) {
      for (const [name, value] of Object.entries(module)) {
        if (value instanceof kind && !seen.has(value)) {
          seen.add(value);
          out.push([path ? `${path}.${name}` : name, value]);
        }
      }
    }
    return out;
  }

  /** Sets training mode here and in every descendant; returns this module. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Turns gradient recording for every parameter on or off (freezing); returns this module. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /** Calls `fn` on every descendant and then on this module (post-order, as PyTorch does). */
  apply(fn: (module: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Resets every parameter's gradient: zeroed in place, or dropped with setToNone (PyTorch 1.13's zero_grad). */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    zeroGrads(this.parameters(), options);
  }

  /**
   * Parameters and persistent buffers by PyTorch's keys, as new handles that
   * share the module's storage (dispose them or use a scope).
   */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [path, module] of this.namedModules()) {
      for (const [name, value] of Object.entries(module)) {
        if (value instanceof Parameter || (value instanceof Buffer && value.persistent)) {
          out.set(path ? `${path}.${name}` : name, value.detach());
        }
      }
    }
    return out;
  }

  /**
   * Copies tensors into the parameters and buffers of the same keys. Strict
   * loading (the default) requires the key sets to match; shapes must match
   * always. Every problem is reported by key in one error, and nothing is
   * copied unless all checks pass.
   */
  loadStateDict(stateDict: StateDict | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const given = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
    const own = new Map<string, Tensor>();
    for (const [path, module] of this.namedModules()) {
      for (const [name, value] of Object.entries(module)) {
        if (value instanceof Parameter || (value instanceof Buffer && value.persistent)) own.set(path ? `${path}.${name}` : name, value);
      }
    }
    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    for (const [key, target] of own) {
      const source = given.get(key);
      if (source === undefined) continue;
      if (!(source instanceof Tensor)) {
        problems.push(`'${key}' is not a Tensor`);
      } else if (source.isDisposed) {
        problems.push(`'${key}' has been disposed`);
      } else if (source.ndim !== target.ndim || source.shape.some((d, i) => d !== target.shape[i])) {
        problems.push(`size mismatch for '${key}': copying a param with shape [${source.shape.join(', ')}], the shape in the current model is [${target.shape.join(', ')}]`);
      }
    }
    if (strict) {
      if (missingKeys.length) problems.push(`missing keys: ${missingKeys.map((k) => `'${k}'`).join(', ')}`);
      if (unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.map((k) => `'${k}'`).join(', ')}`);
    }
    if (problems.length) throw new Error(`loadStateDict: error(s) loading the state dict for ${this.constructor.name}:\n  ${problems.join('\n  ')}`);
    noGrad(() => {
      for (const [key, target] of own) {
        const source = given.get(key);
        if (source !== undefined) target.copy_(source);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Converts every parameter and buffer in place (dtype applies to floating
   * tensors only, as in PyTorch); returns this module.
   */
  to(target: DType | Device | { dtype?: DType; device?: Device }): this {
    const spec = typeof target === 'string' ? (target === 'cpu' || target.startsWith('cuda') ? { device: target as Device } : { dtype: target as DType }) : target;
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        const floating = t.dtype.startsWith('float') || t.dtype === 'bfloat16';
        const dtype = floating ? spec.dtype : undefined;
        if (dtype === undefined && spec.device === undefined) continue;
        const requiresGrad = t.requiresGrad;
        t.takeOver(t.to({ dtype, device: spec.device }));
        if (requiresGrad) t.requiresGrad_(true);
      }
    });
    return this;
  }

  /** Frees every parameter and buffer now. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  /** Extra text inside this module's line of `toString()`, as PyTorch's `extra_repr`. */
  protected extraRepr(): string {
    return '';
  }

  /** A printout like PyTorch's. */
  toString(): string {
    const children = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (children.length === 0) return `${head})`;
    const lines = children.map(([name, child]) => `  (${name}): ${child.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
