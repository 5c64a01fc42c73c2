// Progress for long phases: a bar with rate and time left on a terminal
// (cli-progress), and a plain line every few seconds when stderr is a file or
// a pipe, so logs stay readable.
import cliProgress from 'cli-progress';

import type { ExperimentCallbacks } from '../experiments/experiment.js';

export interface Progress {
  update(done: number, fields?: Record<string, string>): void;
  stop(): void;
}

export function progressBar(label: string, total: number, unit = 'steps'): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(24)} {bar} {percentage}% | {value}/{total} ${unit} | {rate}/s | eta {eta_formatted} {info}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = performance.now();
    bar.start(total, 0, { rate: '0.0', info: '' });
    return {
      update(done, fields = {}) {
        const rate = done / Math.max((performance.now() - started) / 1000, 1e-9);
        bar.update(done, { rate: rate.toFixed(1), info: Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' ') });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const started = performance.now();
  let lastPrint = started;
  return {
    update(done, fields = {}) {
      const now = performance.now();
      if (now - lastPrint < 10_000 && done < total) return;
      lastPrint = now;
      const seconds = (now - started) / 1000;
      const rate = done / Math.max(seconds, 1e-9);
      const left = rate > 0 ? (total - done) / rate : NaN;
      const info = Object.entries(fields).map(([k, v]) => ` ${k} ${v}`).join('');
      process.stderr.write(`${label}: ${done}/${total} ${unit} (${((100 * done) / total).toFixed(0)}%), ${rate.toFixed(1)} ${unit}/s, ${formatSeconds(left)} left${info}\n`);
    },
    stop() {},
  };
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** An experiment's log lines and a progress bar per phase, on stderr; `stop` ends the last bar. */
export function terminalCallbacks(): ExperimentCallbacks & { stop: () => void } {
  let bar: Progress | null = null;
  return {
    log: (line) => process.stderr.write(line + '\n'),
    phase: (p) => {
      bar?.stop();
      bar = progressBar(p.name, p.total, p.unit);
    },
    progress: (done, info) => bar?.update(done, info),
    stop: () => bar?.stop(),
  };
}
