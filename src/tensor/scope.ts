// Deterministic memory: every tensor made inside `scope(fn)` is disposed when
// `fn` finishes, except what `fn` returns and tensors marked `keep()`. Scopes
// nest and follow `await`, because the current scope is carried by
// AsyncLocalStorage rather than a global stack.
import { AsyncLocalStorage } from 'node:async_hooks';

/** What a scope can own: tensors, and anything else with the same life cycle. */
export interface Owned {
  readonly isDisposed: boolean;
  readonly isKept: boolean;
  dispose(): void;
}

class Scope {
  readonly owned: Owned[] = [];
}

const current = new AsyncLocalStorage<Scope>();
// Counts scopes that are open, so that code outside any scope skips the
// AsyncLocalStorage lookup entirely.
let openScopes = 0;

/** Called by every constructor of an owned object. */
export function track(item: Owned): void {
  if (openScopes === 0) return;
  current.getStore()?.owned.push(item);
}

const OWNED = Symbol.for('netlab.owned');

/** Marks a class's instances as owned objects that scopes look for in results. */
export function markOwned(prototype: object): void {
  Object.defineProperty(prototype, OWNED, { value: true });
}

function isOwned(value: unknown): value is Owned {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[OWNED] === true;
}

// Collects the owned objects in a result: the result itself, or inside
// arrays, Maps, Sets and plain objects, as far as they nest.
function collect(value: unknown, into: Set<Owned>, seen: Set<object>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (isOwned(value)) {
    into.add(value);
    return;
  }
  if (Array.isArray(value) || value instanceof Set) {
    for (const item of value) collect(item, into, seen);
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      collect(key, into, seen);
      collect(item, into, seen);
    }
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collect(item, into, seen);
  }
}

function close(scope: Scope, result: unknown, parent: Scope | undefined): void {
  const survivors = new Set<Owned>();
  collect(result, survivors, new Set());
  for (const item of scope.owned) {
    if (item.isDisposed || item.isKept) continue;
    if (survivors.has(item)) parent?.owned.push(item);
    else item.dispose();
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except those in its result
 * (which pass to the enclosing scope, if any) and those marked `keep()`.
 * For an async `fn` the tensors are disposed when its promise settles.
 */
export function scope<T>(fn: () => T): T {
  const parent = openScopes > 0 ? current.getStore() : undefined;
  const inner = new Scope();
  openScopes++;
  let result: T;
  try {
    result = current.run(inner, fn);
  } catch (error) {
    openScopes--;
    close(inner, undefined, parent);
    throw error;
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => {
        openScopes--;
        close(inner, value, parent);
        return value;
      },
      (error: unknown) => {
        openScopes--;
        close(inner, undefined, parent);
        throw error;
      },
    ) as T;
  }
  openScopes--;
  close(inner, result, parent);
  return result;
}
