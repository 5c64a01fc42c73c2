// Devices: 'cpu' always, 'cuda' / 'cuda:N' where libtorch was built with CUDA
// and a GPU is present.
import { native } from './native.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

let cudaCount: number | undefined;

/** The number of CUDA devices libtorch can use (0 for a CPU-only build). */
export function cudaDeviceCount(): number {
  cudaCount ??= native.cudaDeviceCount();
  return cudaCount;
}

export function cudaIsAvailable(): boolean {
  return cudaDeviceCount() > 0;
}

/** Checks a device name before it reaches libtorch, whose own message is long. */
export function checkDevice(device: string): Device {
  if (device === 'cpu') return device;
  const match = /^cuda(?::(\d+))?$/.exec(device);
  if (!match) throw new TypeError(`unknown device '${device}'; expected 'cpu', 'cuda' or 'cuda:N'`);
  const count = cudaDeviceCount();
  if (count === 0) throw new Error(`device '${device}' is not available: this libtorch build has no CUDA support or no GPU is present`);
  const index = match[1] === undefined ? 0 : Number(match[1]);
  if (index >= count) throw new Error(`device '${device}' does not exist: ${count} CUDA device(s) present`);
  return device as Device;
}
