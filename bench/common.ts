// Shared pieces of the benchmarks: timing, the PyTorch side (a Python script
// kept running in a child process) and the `name=value` report.
//
// The machine is shared, so the load from other processes changes from one
// second to the next. NetLab and PyTorch therefore take turns, block by block,
// and each side reports the median of its blocks: both see the same mix of
// quiet and busy moments, which two runs one after the other would not.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { OPENMP_SPIN_COUNT } from '../src/tensor/native.js';

/** The interpreter that has PyTorch: Debian's python3-torch installs for /usr/bin/python3. */
export const PYTHON = process.env.NETLAB_BENCH_PYTHON ?? '/usr/bin/python3';

/**
 * NETLAB_BENCH_QUICK=1 shrinks a benchmark's data and repetitions to a smoke
 * test of its code on both sides; its figures then say nothing about speed.
 */
export const QUICK = process.env.NETLAB_BENCH_QUICK === '1';

/** The median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function benchDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return join(dir, 'bench');
}

/**
 * A Python script under bench/ that waits for lines `NAME CALLS` on stdin, runs
 * its block NAME with CALLS calls and answers with the seconds it took.
 */
export class PyTorchWorker {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: AsyncIterator<string>;
  private readonly path: string;

  constructor(script: string, args: readonly string[]) {
    this.path = join(benchDir(), script);
    this.child = spawn(PYTHON, [this.path, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** Seconds the Python side took for `calls` calls of its block `name`. */
  async time(name: string, calls: number): Promise<number> {
    return (await this.measure(name, calls))[0];
  }

  /**
   * All the numbers the Python side answers for its block `name`, its line
   * split on spaces: for a timed block the seconds first, then whatever else
   * it reports (the parts of its time, a loss that shows both sides did the
   * same work).
   */
  async measure(name: string, calls: number): Promise<number[]> {
    this.child.stdin.write(`${name} ${calls}\n`);
    const answer = await this.lines.next();
    const text = answer.done ? '' : answer.value.trim();
    const values = text === '' ? [] : text.split(/\s+/).map(Number);
    if (values.length === 0 || !values.every(Number.isFinite))
      throw new Error(`bench: ${this.path} (run by ${PYTHON}) gave no timing for '${name}'${answer.done ? ': it exited; does that interpreter import torch? bench/run.sh installs python3-torch' : `: it answered '${answer.value}'`}`);
    return values;
  }

  close(): void {
    this.child.stdin.end();
  }
}

export interface Comparison {
  /** Median seconds per call. */
  netlab: number;
  pytorch: number;
}

/** Prints NAME_netlab_ms, NAME_pytorch_ms and NAME_ratio (NetLab over PyTorch) of a comparison. */
export function reportComparison(name: string, times: Comparison): void {
  report(`${name}_netlab_ms`, times.netlab * 1e3);
  report(`${name}_pytorch_ms`, times.pytorch * 1e3);
  report(`${name}_ratio`, times.netlab / times.pytorch);
}

export interface CompareOptions {
  /** Blocks run on each side before timing: first-call set-up, JIT, allocator caches. */
  warmupBlocks: number;
  /** Timed blocks on each side, alternating with the other side. */
  blocks: number;
  /** Calls in one block; the time per call is the block's time over this. */
  calls: number;
}

// After a block, the side that ran it keeps its idle OpenMP workers spinning
// for a while (libgomp's default, PyTorch's: 300,000 rounds, milliseconds on
// this machine), which takes a core from the side that starts next and made
// a 40 ms step of whichever side went second look slower. Each timed block
// starts after a pause long enough for them to sleep.
const SETTLE_MS = 50;
const settle = () => new Promise<void>((done) => setTimeout(done, SETTLE_MS));

/**
 * Times NetLab's `block(calls)` against the worker's block `name`, taking
 * turns (the side that goes first alternates), and returns the median time
 * per call of each.
 */
export async function compare(worker: PyTorchWorker, name: string, block: (calls: number) => void, options: CompareOptions): Promise<Comparison> {
  const timeNetlab = (): number => {
    const start = process.hrtime.bigint();
    block(options.calls);
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  for (let i = 0; i < options.warmupBlocks; i++) {
    timeNetlab();
    await worker.time(name, options.calls);
  }
  const netlab: number[] = [];
  const pytorch: number[] = [];
  const timeNetlabSettled = async () => {
    await settle();
    netlab.push(timeNetlab());
  };
  const timePytorchSettled = async () => {
    await settle();
    pytorch.push(await worker.time(name, options.calls));
  };
  for (let i = 0; i < options.blocks; i++) {
    if (i % 2 === 0) {
      await timeNetlabSettled();
      await timePytorchSettled();
    } else {
      await timePytorchSettled();
      await timeNetlabSettled();
    }
  }
  return { netlab: median(netlab) / options.calls, pytorch: median(pytorch) / options.calls };
}

/** Says on stderr when other processes load the machine, since that skews every timing. */
export function warnIfBusy(cores: number): void {
  const load = loadavg()[0];
  if (load > 0.5) console.error(`bench: note: load average ${load.toFixed(2)} on ${cores} cores before starting; other processes make timings noisy`);
}

/**
 * Prints the thread count and how long each side's idle OpenMP workers spin
 * before they sleep: NetLab's own bound (src/tensor/native.ts) against
 * libgomp's default of 300,000 rounds for PyTorch, unless the user has set
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT, which both sides then follow.
 */
export function reportThreads(threads: number): void {
  report('threads', threads);
  const chosen = ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT'].filter((k) => process.env[k] !== undefined).map((k) => `${k}:${process.env[k]}`);
  console.log(`openmp_netlab=${chosen.length > 0 ? chosen.join(',') : `GOMP_SPINCOUNT:${OPENMP_SPIN_COUNT}`}`);
  console.log(`openmp_pytorch=${chosen.length > 0 ? chosen.join(',') : 'libgomp default (GOMP_SPINCOUNT:300000)'}`);
}

/** Prints `name=value`: integers as they are, timings and ratios to four significant digits. */
export function report(name: string, value: number): void {
  console.log(`${name}=${Number.isInteger(value) ? value : value.toPrecision(4)}`);
}

/**
 * A process group of `worldSize` workers on loopback (NetLab or PyTorch),
 * kept running: each waits for lines `NAME CALLS` on stdin, runs its block
 * NAME with CALLS calls in step with the other ranks, and answers with a
 * line of numbers (rank 0's seconds first). Two groups, one per framework,
 * take turns as `compare` has them do within one process.
 */
export class GroupWorkers {
  private readonly children: ChildProcessByStdio<Writable, Readable, null>[] = [];
  private readonly lines: AsyncIterator<string>[] = [];

  constructor(
    private readonly label: string,
    command: string,
    args: readonly string[],
    worldSize: number,
    port: number,
    env: Record<string, string> = {},
  ) {
    for (let rank = 0; rank < worldSize; rank++) {
      const child = spawn(command, args, {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, ...env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(worldSize), NETLAB_BENCH_WORKER: '1' },
      });
      this.children.push(child);
      this.lines.push(createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    }
  }

  /** Every rank's numbers for block `name`; rank 0's seconds are `[0][0]`. */
  async measure(name: string, calls: number): Promise<number[][]> {
    for (const child of this.children) child.stdin.write(`${name} ${calls}\n`);
    return Promise.all(
      this.lines.map(async (lines, rank) => {
        const answer = await lines.next();
        const values = answer.done ? [] : answer.value.trim().split(/\s+/).map(Number);
        if (values.length === 0 || !values.every(Number.isFinite)) throw new Error(`bench: ${this.label} rank ${rank} gave no timing for '${name}'${answer.done ? ' (it exited)' : `: '${answer.value}'`}`);
        return values;
      }),
    );
  }

  async time(name: string, calls: number): Promise<number> {
    return (await this.measure(name, calls))[0][0];
  }

  close(): void {
    for (const child of this.children) child.stdin.end();
  }
}

/** Times two groups' block `name` taking turns, as `compare`; returns the median seconds per call of each. */
export async function compareGroups(netlab: GroupWorkers, pytorch: GroupWorkers, name: string, options: CompareOptions): Promise<Comparison> {
  for (let i = 0; i < options.warmupBlocks; i++) {
    await netlab.time(name, options.calls);
    await pytorch.time(name, options.calls);
  }
  const n: number[] = [];
  const p: number[] = [];
  for (let i = 0; i < options.blocks; i++) {
    const order = i % 2 === 0 ? [netlab, pytorch] : [pytorch, netlab];
    for (const group of order) {
      await settle();
      (group === netlab ? n : p).push(await group.time(name, options.calls));
    }
  }
  return { netlab: median(n) / options.calls, pytorch: median(p) / options.calls };
}

/** Reads `NAME CALLS` lines on stdin and answers each with `run(name, calls)`'s numbers; for group workers. */
export async function serveBlocks(run: (name: string, calls: number) => Promise<number[]>): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    const [name, calls] = line.trim().split(/\s+/);
    process.stdout.write((await run(name, Number(calls))).join(' ') + '\n');
  }
}
