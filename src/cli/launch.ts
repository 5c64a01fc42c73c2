// `--nproc N` on train, eval and attack: the launcher, as torchrun. It starts
// N worker processes of the same command on this machine with torchrun's
// environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), divides the cores between them, and stops them all when one
// fails or when it is interrupted. A process started with that environment
// (by this launcher, or by `torchrun --no-python netlab …`) is a worker: it
// joins the process group instead of launching.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { getRank, getWorldSize, isInitialized } from '../distributed/process-group.js';
import { numberOption, UsageError, type CommandSpec, type OptionSpec } from './args.js';

export const LAUNCH_OPTIONS: Record<string, OptionSpec> = {
  nproc: { type: 'string', value: 'N', help: 'worker processes on this machine, as torchrun --nproc_per_node; they share the cores', default: '1' },
  nnodes: { type: 'string', value: 'N', help: 'machines in the job, each running this command with its own --node-rank', default: '1' },
  'node-rank': { type: 'string', value: 'R', help: 'this machine among --nnodes, from 0', default: '0' },
  'master-addr': { type: 'string', value: 'HOST', help: 'address of node 0, whose first worker hosts the rendezvous store', default: '127.0.0.1' },
  'master-port': { type: 'string', value: 'PORT', help: 'free TCP port on node 0 for the store', default: '29500' },
};

export interface LaunchPlan {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
}

type Values = Record<string, string | boolean | undefined>;

/** This process's place when it runs as a worker (torchrun's environment is set). */
export function workerEnvironment(): { rank: number; worldSize: number } | null {
  const { RANK, WORLD_SIZE } = process.env;
  if (RANK === undefined || WORLD_SIZE === undefined) return null;
  return { rank: Number(RANK), worldSize: Number(WORLD_SIZE) };
}

/** The launch the options ask for, or null for a single process (or inside a worker). */
export function launchPlan(command: string, values: Values): LaunchPlan | null {
  const nproc = numberOption(command, 'nproc', values.nproc, { min: 1, max: 256, integer: true });
  const nnodes = numberOption(command, 'nnodes', values.nnodes, { min: 1, integer: true });
  const nodeRank = numberOption(command, 'node-rank', values['node-rank'], { min: 0, integer: true });
  if (nodeRank >= nnodes) throw new UsageError(`${command}: --node-rank ${nodeRank} must be below --nnodes ${nnodes}`);
  const masterPort = numberOption(command, 'master-port', values['master-port'], { min: 1, max: 65535, integer: true });
  const masterAddr = String(values['master-addr']);
  if (masterAddr.trim() === '') throw new UsageError(`${command}: --master-addr needs a host name or address`);
  if (workerEnvironment() !== null || nproc * nnodes === 1) return null;
  return { nproc, nnodes, nodeRank, masterAddr, masterPort };
}

/** This process's rank and world size in the group main.ts joined for a worker (0 and 1 otherwise). */
export function processPlace(): { rank: number; worldSize: number } {
  return isInitialized() ? { rank: getRank(), worldSize: getWorldSize() } : { rank: 0, worldSize: 1 };
}

// The worker's command line: the same command and options, without the
// launcher's, with --threads set to its share of the cores unless given.
function workerArgs(command: string[], spec: CommandSpec, values: Values, threads: number): string[] {
  const args = [...command];
  for (const [name, option] of Object.entries(spec.options)) {
    if (name in LAUNCH_OPTIONS) continue;
    const value = values[name];
    if (value === undefined || value === false) continue;
    if (option.type === 'boolean') args.push(`--${name}`);
    else args.push(`--${name}=${String(value)}`);
  }
  if (values.threads === undefined && 'threads' in spec.options) args.push(`--threads=${threads}`);
  return args;
}

/**
 * Runs the workers of this node and waits for them. Exit code: 0 when all
 * succeed; else the first failure's code (130 after Ctrl-C).
 */
export function launch(plan: LaunchPlan, command: string[], spec: CommandSpec, values: Values): Promise<number> {
  const worldSize = plan.nproc * plan.nnodes;
  const threads = Math.max(1, Math.floor(availableParallelism() / plan.nproc));
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const args = workerArgs(command, spec, values, threads);
  process.stderr.write(`netlab: launching ranks ${plan.nodeRank * plan.nproc}–${plan.nodeRank * plan.nproc + plan.nproc - 1} of ${worldSize} (${threads} thread${threads > 1 ? 's' : ''} each), store at ${plan.masterAddr}:${plan.masterPort}\n`);
  return new Promise((resolve) => {
    const children: ChildProcess[] = [];
    let running = plan.nproc;
    let exitCode = 0;
    let stopping = false;
    let killTimer: NodeJS.Timeout | null = null;
    const stopAll = (signal: NodeJS.Signals) => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      killTimer ??= setTimeout(() => {
        for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, 10_000).unref();
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (!stopping) process.stderr.write(`netlab: ${signal}: stopping every rank\n`);
      stopping = true;
      exitCode = 130;
      stopAll(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (let local = 0; local < plan.nproc; local++) {
      const rank = plan.nodeRank * plan.nproc + local;
      const env = {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(plan.nproc),
        GROUP_RANK: String(plan.nodeRank),
        MASTER_ADDR: plan.masterAddr,
        MASTER_PORT: String(plan.masterPort),
      };
      const child = spawn(process.execPath, [main, ...args], { env, stdio: 'inherit' });
      children.push(child);
      child.on('exit', (code, signal) => {
        running--;
        const failed = (code !== null && code !== 0) || (signal !== null && !stopping);
        if (failed && !stopping) {
          stopping = true;
          exitCode = code ?? 1;
          process.stderr.write(`netlab: rank ${rank} ${code !== null ? `exited with code ${code}` : `was killed by ${signal}`}; stopping the other ranks\n`);
          stopAll('SIGTERM');
        }
        if (running === 0) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          if (killTimer !== null) clearTimeout(killTimer);
          resolve(exitCode);
        }
      });
    }
  });
}
