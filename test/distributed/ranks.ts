// Runs one scenario of worker.ts (or a Python peer) in several processes that
// form a process group over loopback, each bounded in time, and collects what
// each printed as its last stdout line (JSON).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const WORKER = join(HERE, 'worker.js');
export const PYTHON = '/usr/bin/python3';
export const PY_PEER = join(HERE, '..', '..', '..', 'test', 'fixtures', 'distributed_peer.py');

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RankResult {
  rank: number;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The last stdout line, parsed as JSON (null when absent or not JSON). */
  result: any;
  seconds: number;
}

export interface RankSpec {
  /** 'node' runs worker.ts, 'python' the PyTorch peer; default node. */
  kind?: 'node' | 'python';
  /** Extra environment for this rank. */
  env?: Record<string, string | undefined>;
}

/**
 * Starts `worldSize` ranks of `scenario` with torchrun's variables over
 * loopback and waits for all; a rank still running after `timeoutMs` is killed
 * (its result then has signal 'SIGKILL').
 */
export async function runRanks(scenario: string, worldSize: number, options: { args?: unknown; timeoutMs?: number; ranks?: RankSpec[]; port?: number } = {}): Promise<RankResult[]> {
  const port = options.port ?? (await freePort());
  const timeoutMs = options.timeoutMs ?? 60_000;
  const runs = Array.from({ length: worldSize }, (_, rank) => {
    const spec = options.ranks?.[rank] ?? {};
    const env: Record<string, string | undefined> = {
      ...process.env,
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(port),
      RANK: String(rank),
      LOCAL_RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      NETLAB_TEST_SCENARIO: scenario,
      NETLAB_TEST_ARGS: JSON.stringify(options.args ?? {}),
      OMP_NUM_THREADS: '1',
      ...spec.env,
    };
    const [cmd, argv] = spec.kind === 'python' ? [PYTHON, [PY_PEER]] : [process.execPath, [WORKER]];
    const started = performance.now();
    return new Promise<RankResult>((resolve) => {
      const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const last = stdout.trim().split('\n').pop() ?? '';
        let result = null;
        try {
          result = JSON.parse(last);
        } catch {
          result = null;
        }
        resolve({ rank, code, signal, stdout, stderr, result, seconds: (performance.now() - started) / 1000 });
      });
    });
  });
  return Promise.all(runs);
}
