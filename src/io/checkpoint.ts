// Training checkpoints: model, optimizer, schedule, RNG state and progress in
// one safetensors file, written atomically (temporary file, fsync, rename), so
// a killed run never leaves a torn checkpoint and resuming continues exactly.
//
// Layout: tensors `model/<key>`, `optimizer/<param index>/<name>` and
// `rng/cpu`; metadata `netlab_checkpoint` (the format version), and JSON
// under `optimizer` (param groups and non-tensor state), `scheduler` and `progress`.
import { Tensor } from '../tensor/tensor.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';

const FORMAT = '1';

/** An optimizer state dict in PyTorch's layout (see optim/optimizer.ts). */
export interface CheckpointOptimizerState {
  state: Record<number, Record<string, Tensor | number | null>>;
  param_groups: Record<string, unknown>[];
}

export interface Checkpoint {
  /** The model's state dict. */
  model: Map<string, Tensor>;
  optimizer?: CheckpointOptimizerState;
  /** A scheduler's (JSON-serialisable) state dict. */
  scheduler?: Record<string, unknown>;
  /** libtorch's default CPU generator state, from getRngState(). */
  rng?: Tensor;
  /** Where training stands (epoch, step, loader state, metrics): anything JSON-serialisable. */
  progress?: Record<string, unknown>;
}

/** Writes a checkpoint atomically: the old file stays intact until the new one is complete. */
export function saveCheckpoint(path: string, checkpoint: Checkpoint): void {
  const tensors = new Map<string, Tensor>();
  for (const [key, t] of checkpoint.model) tensors.set(`model/${key}`, t);
  const metadata: Record<string, string> = { netlab_checkpoint: FORMAT };
  if (checkpoint.optimizer !== undefined) {
    const scalars: Record<string, Record<string, number | null>> = {};
    for (const [index, entries] of Object.entries(checkpoint.optimizer.state)) {
      for (const [name, value] of Object.entries(entries)) {
        if (value instanceof Tensor) tensors.set(`optimizer/${index}/${name}`, value);
        else (scalars[index] ??= {})[name] = value;
      }
    }
    metadata.optimizer = JSON.stringify({ param_groups: checkpoint.optimizer.param_groups, scalars });
  }
  if (checkpoint.rng !== undefined) tensors.set('rng/cpu', checkpoint.rng);
  if (checkpoint.scheduler !== undefined) metadata.scheduler = JSON.stringify(checkpoint.scheduler);
  if (checkpoint.progress !== undefined) metadata.progress = JSON.stringify(checkpoint.progress);
  saveSafetensors(path, tensors, metadata);
}

/** Reads a checkpoint written by saveCheckpoint; the tensors are the caller's to dispose. */
export function loadCheckpoint(path: string): Checkpoint {
  const file = loadSafetensors(path);
  if (file.metadata.netlab_checkpoint !== FORMAT) {
    for (const t of file.tensors.values()) t.dispose();
    throw new Error(`${path}: not a NetLab checkpoint (metadata netlab_checkpoint is ${JSON.stringify(file.metadata.netlab_checkpoint ?? null)}, expected "${FORMAT}"); a plain weights file loads with loadSafetensors`);
  }
  const parse = (key: string): any => {
    const text = file.metadata[key];
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${path}: checkpoint metadata '${key}' is not valid JSON`);
    }
  };
  const model = new Map<string, Tensor>();
  const optimizerTensors: Record<number, Record<string, Tensor | number | null>> = {};
  let rng: Tensor | undefined;
  for (const [name, t] of file.tensors) {
    if (name.startsWith('model/')) model.set(name.slice('model/'.length), t);
    else if (name === 'rng/cpu') rng = t;
    else {
      const match = /^optimizer\/(\d+)\/(.+)$/.exec(name);
      if (!match) throw new Error(`${path}: unexpected tensor '${name}' in a checkpoint`);
      (optimizerTensors[Number(match[1])] ??= {})[match[2]] = t;
    }
  }
  const checkpoint: Checkpoint = { model, rng, scheduler: parse('scheduler'), progress: parse('progress') };
  const optimizer = parse('optimizer') as { param_groups: Record<string, unknown>[]; scalars: Record<string, Record<string, number | null>> } | undefined;
  if (optimizer !== undefined) {
    const state: Record<number, Record<string, Tensor | number | null>> = {};
    for (const [index, entries] of Object.entries(optimizerTensors)) state[Number(index)] = { ...entries };
    for (const [index, entries] of Object.entries(optimizer.scalars ?? {})) state[Number(index)] = { ...(state[Number(index)] ?? {}), ...entries };
    checkpoint.optimizer = { state, param_groups: optimizer.param_groups };
  }
  return checkpoint;
}
