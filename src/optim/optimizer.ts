// The optimizer base class: parameter groups with per-group options, zeroGrad,
// a step that runs without autograd inside a scope, and PyTorch's state-dict
// layout (state keyed by parameter index, groups listing those indices), so a
// checkpoint moves between NetLab and PyTorch.
import { enableGrad, isFloatingPoint, noGrad, scalarTensor, scope, Tensor, zeroGrads } from '../tensor/index.js';
import { describeValue } from '../tensor/tensor.js';
import { definedOnly } from '../options.js';

/** Options every optimizer has. */
export interface BaseOptions {
  /** Learning rate. */
  lr: number;
}

/**
 * One parameter group: its parameters and its options (the group's own, else
 * the optimizer's defaults). Schedules write `lr` and set `initialLr`.
 */
export type ParamGroup<O extends BaseOptions> = O & {
  params: Tensor[];
  /** The lr a schedule started from (PyTorch's `initial_lr`); set by the first schedule attached. */
  initialLr?: number;
};

/** A group as given to a constructor: parameters plus any options that differ from the defaults. */
export type ParamGroupInput<O extends BaseOptions> = Partial<O> & { params: readonly Tensor[] };

/** What optimizers take: a list of tensors, or a list of groups. */
export type ParamsInput<O extends BaseOptions> = readonly Tensor[] | readonly ParamGroupInput<O>[];

/** One parameter's state in a state dict: tensors (or null for an unset buffer), and `step` may be a number. */
export type ParamStateDict = Record<string, Tensor | number | null>;

/**
 * An optimizer's state in PyTorch's layout: `state[i]` holds parameter i's
 * buffers under PyTorch's names (`momentum_buffer`, `step`, `exp_avg`, …),
 * where parameters are numbered in group order; `param_groups[g]` holds the
 * group's options under PyTorch's names and `params`, the indices of its parameters.
 */
export interface OptimizerStateDict {
  state: Record<number, ParamStateDict>;
  param_groups: Record<string, unknown>[];
}

/** Per-parameter state: named tensors, null where a buffer is not allocated yet. */
export type ParamState = Record<string, Tensor | null>;

/** How a state entry is checked when loaded: 'param' (the parameter's shape and dtype) or 'step' (one element, float32). */
export type StateKind = 'param' | 'step';

// Flags of PyTorch's optimizers that choose an implementation, not the
// mathematics; NetLab always runs the single-tensor path, so a loaded state
// dict may carry them as long as they are off.
const IMPLEMENTATION_FLAGS = new Set(['foreach', 'differentiable', 'capturable', 'fused']);

/** camelCase to PyTorch's snake_case: weightDecay → weight_decay. */
export function toSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

/** snake_case to camelCase: exp_avg_sq → expAvgSq. */
export function toCamel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** Throws unless `value` is a finite number ≥ 0 (NaN fails too). */
export function checkNonNegative(where: string, name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value >= 0) || value === Infinity)
    throw new RangeError(`${where}: invalid ${name} ${describeValue(value)}; expected a finite number >= 0`);
}

export function checkBoolean(where: string, name: string, value: unknown): void {
  if (typeof value !== 'boolean') throw new TypeError(`${where}: ${name} must be a boolean, got ${describeValue(value)}`);
}

/**
 * The base of every optimizer. Subclasses give the defaults, check a group's
 * options, name the state they keep, and update one group's parameters.
 *
 * Memory: the optimizer owns its state tensors (marked `keep()`, so no scope
 * frees them); `dispose()` frees them. `step()` runs inside a scope, so its
 * temporaries are freed when it returns.
 */
export abstract class Optimizer<O extends BaseOptions = BaseOptions, S extends ParamState = ParamState> {
  /** The options a group falls back to. */
  readonly defaults: Readonly<O>;
  /** The parameter groups; schedules and users may change a group's options between steps. */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on a parameter's first step with a gradient. */
  protected readonly state = new Map<Tensor, S>();
  private disposed = false;

  /**
   * `name` is used in error messages, e.g. 'SGD'; `defaults` names every
   * option the optimizer has, and `options` (the caller's) override them.
   */
  protected constructor(
    protected readonly name: string,
    params: ParamsInput<O>,
    defaults: O,
    options: Partial<O>,
  ) {
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new TypeError(`${name}: options must be an object, got ${describeValue(options)}`);
    for (const key of Object.keys(options))
      if (!(key in defaults)) throw new TypeError(`${name}: unknown option '${key}'; ${name} takes ${Object.keys(defaults).join(', ')}`);
    if (!Array.isArray(params))
      throw new TypeError(`${name}: params must be an array of Tensors or of parameter groups ({ params, ...options }), got ${describeValue(params)}`);
    if (params.length === 0) throw new RangeError(`${name}: optimizer got an empty parameter list`);
    this.defaults = Object.freeze({ ...defaults, ...definedOnly(options) });
    const groups: ParamGroupInput<O>[] = params[0] instanceof Tensor ? [{ params: params as readonly Tensor[] } as ParamGroupInput<O>] : [...(params as readonly ParamGroupInput<O>[])];
    for (const group of groups) this.addParamGroup(group);
  }

  /** Checks a group's complete options; throws with `where` naming the group. */
  protected abstract checkOptions(options: O, where: string): void;

  /** The state a parameter of `group` must have after loading, and how each entry is checked. */
  protected abstract stateSpec(group: ParamGroup<O>): { required: Record<string, StateKind>; optional: Record<string, StateKind> };

  /** Updates the parameters of one group that have a gradient; runs under noGrad inside a scope. */
  protected abstract updateGroup(group: ParamGroup<O>): void;

  /** Adds a group (e.g. layers unfrozen while fine-tuning); missing options take the defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    const where = `${this.name}: param group ${this.paramGroups.length}`;
    if (!isPlainObject(group)) throw new TypeError(`${where} must be an object { params, ...options }, got ${describeValue(group)}`);
    if (!Array.isArray(group.params)) throw new TypeError(`${where}: params must be an array of Tensors, got ${describeValue(group.params)}`);
    const seen = new Set<Tensor>();
    group.params.forEach((p: unknown, i: number) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${where}: optimizer can only optimize Tensors, but params[${i}] is ${describeValue(p)}`);
      if (p.isDisposed) throw new Error(`${where}: params[${i}] has been disposed`);
      if (!p.isLeaf) throw new RangeError(`${where}: params[${i}] is not a leaf tensor (it was computed from others, ${p.gradFn}); optimize the tensors it came from`);
      if (seen.has(p)) throw new RangeError(`${where}: params[${i}] appears twice in the group`);
      seen.add(p);
    });
    for (const other of this.paramGroups)
      for (const p of other.params) if (seen.has(p)) throw new RangeError(`${where}: some parameters appear in more than one parameter group`);
    for (const key of Object.keys(group))
      if (key !== 'params' && key !== 'initialLr' && !(key in this.defaults))
        throw new TypeError(`${where}: unknown option '${key}'; ${this.name} takes ${Object.keys(this.defaults).join(', ')}`);
    const full = { ...this.defaults, ...definedOnly(group), params: [...group.params] } as ParamGroup<O>;
    // Groups must not share option arrays (betas), so that changing one group leaves the others alone.
    for (const [key, value] of Object.entries(full)) if (key !== 'params' && Array.isArray(value)) (full as unknown as Record<string, unknown>)[key] = [...value];
    this.checkOptions(full, where);
    this.paramGroups.push(full);
  }

  /**
   * Clears the gradients of every parameter. As in PyTorch 1.13, whose
   * signature is `zero_grad(set_to_none=False)`, the default zeroes them in
   * place; `setToNone: true` drops them instead (less memory, and a parameter
   * that gets no gradient in the next backward is then skipped by `step`).
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    zeroGrads(this.paramGroups.flatMap((group) => group.params), options);
  }

  /**
   * One update of every parameter that has a gradient. `closure`, if given,
   * recomputes the loss (with autograd on) before the update; its result is returned.
   */
  step<L>(closure?: () => L): L | undefined {
    this.checkLive();
    const loss = closure === undefined ? undefined : enableGrad(closure);
    scope(() => noGrad(() => {
      for (const group of this.paramGroups) this.updateGroup(group);
    }));
    return loss;
  }

  /** The state of one parameter, or undefined before its first step (read-only: the optimizer owns these tensors). */
  stateOf(param: Tensor): Readonly<S> | undefined {
    return this.state.get(param);
  }

  /**
   * The optimizer's state in PyTorch's layout (see OptimizerStateDict). The
   * tensors are copies that the caller owns: they stay valid as training goes on.
   */
  stateDict(): OptimizerStateDict {
    this.checkLive();
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((group) => {
      const packed: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(group)) {
        if (key !== 'params') packed[toSnake(key)] = Array.isArray(value) ? [...value] : value;
      }
      packed.params = group.params.map((p) => {
        index.set(p, index.size);
        return index.size - 1;
      });
      return packed;
    });
    const state: Record<number, ParamStateDict> = {};
    for (const [p, entry] of this.state) {
      const packed: ParamStateDict = {};
      for (const [key, value] of Object.entries(entry)) packed[toSnake(key)] = value === null ? null : value.clone();
      state[index.get(p)!] = packed;
    }
    return { state, param_groups: paramGroups };
  }

  /**
   * Restores a state dict from `stateDict()` (or PyTorch's, read from a
   * checkpoint). The groups must match in number and size and every buffer
   * must match its parameter's shape; tensors are copied (cast to the
   * parameter's dtype), so the dict stays the caller's. Nothing changes if it throws.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    this.checkLive();
    const where = `${this.name}.loadStateDict`;
    if (!isPlainObject(stateDict) || !Array.isArray(stateDict.param_groups) || !isPlainObject(stateDict.state))
      throw new TypeError(`${where}: expected { state, param_groups } as stateDict() returns, got ${describeValue(stateDict)}`);
    const saved = stateDict.param_groups;
    if (saved.length !== this.paramGroups.length)
      throw new RangeError(`${where}: loaded state dict has ${saved.length} parameter groups, the optimizer has ${this.paramGroups.length}`);
    const newGroups = saved.map((s, g) => this.readGroup(s, g, where));
    // Saved ids pair with our parameters position by position, group by group.
    const byId = new Map<number, { param: Tensor; group: number }>();
    saved.forEach((s, g) => (s.params as number[]).forEach((id, i) => {
      if (byId.has(id)) throw new RangeError(`${where}: parameter index ${id} appears twice in param_groups`);
      byId.set(id, { param: this.paramGroups[g].params[i], group: g });
    }));

    const created: Tensor[] = [];
    const newState = new Map<Tensor, S>();
    try {
      for (const [key, entry] of Object.entries(stateDict.state)) {
        const target = byId.get(Number(key));
        if (target === undefined) throw new RangeError(`${where}: state has an entry for parameter ${key}, which no group lists`);
        newState.set(target.param, this.readParamState(entry, target.param, newGroups[target.group], `${where}: state[${key}]`, created));
      }
    } catch (error) {
      for (const t of created) t.dispose();
      throw error;
    }
    this.freeState();
    for (const [p, s] of newState) this.state.set(p, s);
    this.paramGroups.forEach((group, g) => {
      for (const key of Object.keys(group)) if (key !== 'params') delete (group as unknown as Record<string, unknown>)[key];
      Object.assign(group, newGroups[g]);
    });
  }

  /** Frees the state tensors; the optimizer cannot be used afterwards. */
  dispose(): void {
    this.freeState();
    this.disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private checkLive(): void {
    if (this.disposed) throw new Error(`${this.name}: this optimizer has been disposed`);
  }

  private freeState(): void {
    for (const entry of this.state.values()) for (const t of Object.values(entry)) t?.dispose();
    this.state.clear();
  }

  // Checks one saved group against ours and returns its options in camelCase.
  private readGroup(saved: unknown, g: number, where: string): Record<string, unknown> {
    const at = `${where}: param_groups[${g}]`;
    if (!isPlainObject(saved) || !Array.isArray(saved.params)) throw new TypeError(`${at} must be an object with a params array, got ${describeValue(saved)}`);
    const size = this.paramGroups[g].params.length;
    if (saved.params.length !== size)
      throw new RangeError(`${at} has ${saved.params.length} parameters, the optimizer's group has ${size}`);
    if (!saved.params.every((id) => Number.isInteger(id))) throw new TypeError(`${at}: params must be integer indices, got ${JSON.stringify(saved.params)}`);
    const options: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(saved)) {
      if (key === 'params') continue;
      const name = toCamel(key);
      if (IMPLEMENTATION_FLAGS.has(key)) {
        if (value !== null && value !== false) throw new RangeError(`${at}: '${key}' is ${String(value)}, which NetLab does not implement`);
      } else if (name === 'initialLr') {
        checkNonNegative(at, key, value);
        options[name] = value;
      } else if (name in this.defaults) {
        options[name] = Array.isArray(value) ? [...value] : value;
      } else {
        throw new TypeError(`${at}: unknown option '${key}' for ${this.name} (a state dict from another optimizer?)`);
      }
    }
    const missing = Object.keys(this.defaults).filter((k) => !(k in options));
    if (missing.length > 0) throw new RangeError(`${at} lacks ${missing.map(toSnake).join(', ')}`);
    this.checkOptions(options as unknown as O, at);
    return options;
  }

  // Checks one saved parameter state and copies it into tensors the optimizer owns.
  private readParamState(entry: unknown, param: Tensor, groupOptions: Record<string, unknown>, at: string, created: Tensor[]): S {
    if (!isPlainObject(entry)) throw new TypeError(`${at} must be an object of tensors, got ${describeValue(entry)}`);
    const group = { ...groupOptions, params: [] } as unknown as ParamGroup<O>;
    const { required, optional } = this.stateSpec(group);
    const out: ParamState = {};
    for (const key of Object.keys(entry))
      if (!(key in required) && !(key in optional)) throw new TypeError(`${at}: unknown state '${key}' for ${this.name}`);
    for (const [key, kind] of [...Object.entries(required), ...Object.entries(optional)]) {
      const value = entry[key];
      if (value === undefined || value === null) {
        if (key in required) throw new RangeError(`${at} lacks '${key}'`);
        // An unset buffer stays as it was saved: absent, or null (SGD's momentum_buffer without momentum).
        if (value === null) out[toCamel(key)] = null;
        continue;
      }
      out[toCamel(key)] = this.copyState(value, kind, param, `${at}.${key}`, created);
    }
    return out as S;
  }

  private copyState(value: unknown, kind: StateKind, param: Tensor, at: string, created: Tensor[]): Tensor {
    let copy: Tensor;
    if (kind === 'step') {
      const step = value instanceof Tensor ? (value.numel() === 1 ? value.item() : NaN) : value;
      if (typeof step !== 'number' || !(step >= 0)) throw new RangeError(`${at} must be a non-negative count (a number or a one-element tensor), got ${describeValue(value)}`);
      copy = stepTensor(step);
    } else {
      if (!(value instanceof Tensor)) throw new TypeError(`${at} must be a Tensor, got ${describeValue(value)}`);
      if (value.shape.length !== param.shape.length || value.shape.some((d, i) => d !== param.shape[i]))
        throw new RangeError(`${at} has shape [${value.shape.join(', ')}] but its parameter has shape [${param.shape.join(', ')}]`);
      // As PyTorch: floating-point state follows the parameter's dtype, and all of it the parameter's device.
      const dtype = isFloatingPoint(param.dtype) ? param.dtype : value.dtype;
      copy = noGrad(() => scope(() => value.clone().to({ dtype, device: param.device })));
    }
    created.push(copy.keep());
    return copy;
  }
}

/** A new float32 scalar tensor holding a step count, as PyTorch 1.13's Adam keeps it. */
export function stepTensor(step: number): Tensor {
  return scalarTensor(step, { dtype: 'float32' });
}
