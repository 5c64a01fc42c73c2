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

