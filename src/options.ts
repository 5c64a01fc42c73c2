// Options objects: an option given as undefined takes its default.

/** The entries of `options` whose value is not undefined, to spread over defaults. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
