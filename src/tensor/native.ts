// Loads the libtorch addon and gives its functions types. Nothing outside
// src/tensor touches these: they take and return raw handle numbers.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Handle = number;

export interface NativeAddon {
  release(id: Handle): void;
  releaseIfLive(id: Handle): boolean;
  liveTensors(): number;
  fromBuffer(data: ArrayBufferView, shape: readonly number[], dtype: number): Handle;
  toBuffer(id: Handle): ArrayBuffer;
  shape(id: Handle): number[];
  strides(id: Handle): number[];
  dtype(id: Handle): number;
  device(id: Handle): string;
  item(id: Handle): number | boolean;
  sameData(a: Handle, b: Handle): boolean;
  handle(id: Handle): Handle;
  add(a: Handle, b: Handle): Handle;
  sub(a: Handle, b: Handle): Handle;
  mul(a: Handle, b: Handle): Handle;
  div(a: Handle, b: Handle): Handle;
  addScalar(a: Handle, b: number | boolean): Handle;
  subScalar(a: Handle, b: number | boolean): Handle;
  mulScalar(a: Handle, b: number | boolean): Handle;
  divScalar(a: Handle, b: number | boolean): Handle;
  resolveOp(name: string, overload: string): number;
  opSchema(index: number): string;
  callOp(index: number, ...args: unknown[]): any;
  callOpInPlace(index: number, ...args: unknown[]): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  setFlushDenormal(on: boolean): boolean;
  getRngState(): Handle;
  setRngState(id: Handle): void;
  setGradEnabled(enabled: boolean): void;
  isGradEnabled(): boolean;
  cudaDeviceCount(): number;
  requiresGrad(id: Handle): boolean;
  setRequiresGrad(id: Handle, value: boolean): void;
  isLeaf(id: Handle): boolean;
  gradFn(id: Handle): string | null;
  grad(id: Handle): Handle | null;
  setGrad(id: Handle, grad: Handle | null): void;
  retainGrad(id: Handle): void;
  backward(tensors: Handle[], grads: (Handle | null)[], retainGraph: boolean, createGraph: boolean): void;
  autogradGrad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: (Handle | null)[],
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  // c10d (src/distributed): opaque handles on a process group, a pending
  // collective and DDP's Reducer.
  distInit(options: { store: 'tcp' | 'file'; host?: string; port?: number; path?: string; rank: number; worldSize: number; timeoutMs: number }): Promise<NativeGroup>;
  distDestroy(group: NativeGroup): void;
  distAllReduce(group: NativeGroup, tensor: Handle, op: number): NativeWork;
  distBroadcast(group: NativeGroup, tensor: Handle, src: number): NativeWork;
  distAllGather(group: NativeGroup, outputs: Handle[], input: Handle): NativeWork;
  distReduceScatter(group: NativeGroup, output: Handle, inputs: Handle[], op: number): NativeWork;
  distBarrier(group: NativeGroup): NativeWork;
  distWait(work: NativeWork): Promise<void>;
  distCompleted(work: NativeWork): boolean;
  distBroadcastCoalesced(group: NativeGroup, tensors: Handle[], bufferBytes: number, src: number): void;
  distVerifyParams(group: NativeGroup, params: Handle[]): void;
  ddpReducer(group: NativeGroup, params: Handle[], bucketBytes: number, findUnusedParameters: boolean): NativeReducer;
  ddpPrepareForForward(reducer: NativeReducer): void;
  ddpPrepareForBackward(reducer: NativeReducer, outputs: Handle[]): void;
  ddpRebuildBuckets(reducer: NativeReducer): boolean;
  ddpDispose(reducer: NativeReducer): void;
}

declare const opaque: unique symbol;
export type NativeGroup = { readonly [opaque]: 'group' };
export type NativeWork = { readonly [opaque]: 'work' };
export type NativeReducer = { readonly [opaque]: 'reducer' };

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('netlab: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/** The spin rounds of libtorch's idle OpenMP workers, unless the user sets OMP_WAIT_POLICY or GOMP_SPINCOUNT. */
export const OPENMP_SPIN_COUNT = 10_000;

function load(): NativeAddon {
  const path = join(packageRoot(), 'native', 'build', 'Release', 'netlab.node');
  if (!existsSync(path)) {
    throw new Error(`netlab: the native addon is not built (${path} is missing). Run \`npm run setup\`, which installs libtorch and builds it.`);
  }
  // libgomp, libtorch's OpenMP, keeps an idle worker spinning for 300,000
  // rounds before it sleeps. On the 2-core virtual machine this project is
  // measured on, that long spin halved the speed of a small Swin's training
  // step and slowed ViT-B/16's forward pass by a fifth, in PyTorch as in
  // NetLab; not spinning at all (OMP_WAIT_POLICY=PASSIVE) cost the Madry CNN's
  // step half again, each op waiting for its workers to wake. 10,000 rounds
  // was best or near it on all three (README, "Benchmarks"). libgomp reads its
  // settings once, when the addon loads it, so NetLab sets GOMP_SPINCOUNT for
  // that moment only, and only if the user has set neither variable; child
  // processes see the user's environment.
  const userChose = process.env.OMP_WAIT_POLICY !== undefined || process.env.GOMP_SPINCOUNT !== undefined;
  if (!userChose) process.env.GOMP_SPINCOUNT = String(OPENMP_SPIN_COUNT);
  try {
    return createRequire(import.meta.url)(path) as NativeAddon;
  } finally {
    if (!userChose) delete process.env.GOMP_SPINCOUNT;
  }
}

export const native: NativeAddon = load();

/** Returns a caller for an ATen operator, resolved on first use. */
export function aten(name: string, overload = ''): (...args: unknown[]) => any {
  let index = -1;
  return (...args: unknown[]) => {
    if (index < 0) index = native.resolveOp(name, overload);
    return native.callOp(index, ...args);
  };
}

/** Like `aten`, for in-place operators whose result is their first argument. */
export function atenInPlace(name: string, overload = ''): (...args: unknown[]) => void {
  let index = -1;
  return (...args: unknown[]) => {
    if (index < 0) index = native.resolveOp(name, overload);
    native.callOpInPlace(index, ...args);
  };
}
