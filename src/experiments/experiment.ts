// What every reproduction shares: how it reports progress to whoever runs it.

export interface Phase {
  name: string;
  total: number;
  unit: string;
}

export interface ExperimentCallbacks {
  /** A long phase starts; `progress` reports within it. */
  phase?: (phase: Phase) => void;
  progress?: (done: number, info?: Record<string, string>) => void;
  log?: (line: string) => void;
}

/** The options that were given, without the undefined ones, to spread over defaults. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
