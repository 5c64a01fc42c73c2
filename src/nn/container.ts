// Containers: children named '0', '1', … (Sequential, ModuleList) or by key
// (ModuleDict), so state-dict keys read `features.0.weight` as in PyTorch.
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

function checkModule(container: string, value: unknown, where: string): Module {
  if (!(value instanceof Module)) throw new TypeError(`${container}: ${where} is not a Module`);
  return value;
}

/** Runs its children in order, each on the previous one's output. */
export class Sequential extends Module {
  [index: number]: Module;

  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => {
      this[i] = checkModule('Sequential', m, `argument ${i}`);
    });
  }

  get length(): number {
    return this.children().length;
  }

  forward(x: Tensor): Tensor {
    let out = x;
    // Intermediate activations are left to the caller's scope, as autograd may need them.
    for (const child of this.children()) out = child.forward(out) as Tensor;
    return out;
  }
}

/** A list of modules, indexed like an array; it has no forward of its own. */
export class ModuleList extends Module {
  [index: number]: Module;

  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  get length(): number {
    return this.children().length;
  }

  append(module: Module): this {
    const i = this.length;
    this[i] = checkModule('ModuleList', module, `element ${i}`);
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }

  forward(): never {
    throw new Error('ModuleList has no forward: iterate over it and call each module');
  }
}

/** Modules by name; it has no forward of its own. */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> = {}) {
    super();
    for (const [name, m] of Object.entries(modules)) this.set(name, m);
  }

  set(name: string, module: Module): this {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || name === 'training')
      throw new TypeError(`ModuleDict: '${name}' cannot be a module name (use letters, digits and _; not 'training')`);
    (this as unknown as Record<string, Module>)[name] = checkModule('ModuleDict', module, `'${name}'`);
    return this;
  }

  get(name: string): Module | undefined {
    const value = (this as unknown as Record<string, unknown>)[name];
    return value instanceof Module ? value : undefined;
  }

  keys(): string[] {
    return this.namedChildren().map(([name]) => name);
  }

  forward(): never {
    throw new Error('ModuleDict has no forward: look modules up by name and call them');
  }
}
