// Training checkpoints: models, optimizers, schedule, RNG state and progress
// in one safetensors file, written atomically (temporary file, fsync,
// rename), so a killed run never leaves a torn checkpoint and resuming
// continues exactly. A checkpoint holds any number of named models and
// optimizers: one of each for a classifier's training, a generator and a
// discriminator with one optimizer each for a GAN.
//
// Layout: tensors `<model name>/<key>`, `<optimizer name>/<param index>/<name>`
// and `rng/cpu`; metadata `netlab_checkpoint` (the format version), `models`
// (the model names, JSON), `optimizers` (JSON: per optimizer its param groups
// and non-tensor state), `scheduler` and `progress`.
import { Tensor } from '../tensor/tensor.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';

const FORMAT = '2';

/** An optimizer state dict in PyTorch's layout (see optim/optimizer.ts). */
export interface CheckpointOptimizerState {
  state: Record<number, Record<string, Tensor | number | null>>;
  param_groups: Record<string, unknown>[];
}

export interface Checkpoint {
  /** State dicts by name ('model' for a single network). */
  models: Record<string, Map<string, Tensor>>;
  /** Optimizer state dicts by name ('optimizer' for a single one). */
  optimizers?: Record<string, CheckpointOptimizerState>;
  /** A scheduler's (JSON-serialisable) state dict. */
  scheduler?: Record<string, unknown>;
  /** libtorch's default CPU generator state, from getRngState(). */
  rng?: Tensor;
  /** Where training stands (epoch, step, loader state, metrics): anything JSON-serialisable. */
  progress?: Record<string, unknown>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function checkNames(kind: string, names: string[]): void {
  for (const name of names) if (!NAME.test(name) || name === 'rng') throw new Error(`saveCheckpoint: ${kind} name '${name}' must be an identifier other than 'rng'`);
}

/** Writes a checkpoint atomically: the old file stays intact until the new one is complete. */
export function saveCheckpoint(path: string, checkpoint: Checkpoint): void {
  const optimizers = checkpoint.optimizers ?? {};
  checkNames('model', Object.keys(checkpoint.models));
  checkNames('optimizer', Object.keys(optimizers));
  const clash = Object.keys(optimizers).find((name) => name in checkpoint.models);
  if (clash !== undefined) throw new Error(`saveCheckpoint: '${clash}' names both a model and an optimizer`);
  const tensors = new Map<string, Tensor>();
  for (const [name, model] of Object.entries(checkpoint.models)) for (const [key, t] of model) tensors.set(`${name}/${key}`, t);
  const metadata: Record<string, string> = { netlab_checkpoint: FORMAT, models: JSON.stringify(Object.keys(checkpoint.models)) };
  const optimizerMeta: Record<string, { param_groups: Record<string, unknown>[]; scalars: Record<string, Record<string, number | null>> }> = {};
  for (const [name, optimizer] of Object.entries(optimizers)) {
    const scalars: Record<string, Record<string, number | null>> = {};
    for (const [index, entries] of Object.entries(optimizer.state)) {
      for (const [key, value] of Object.entries(entries)) {
        if (value instanceof Tensor) tensors.set(`${name}/${index}/${key}`, value);
        else (scalars[index] ??= {})[key] = value;
      }
    }
    optimizerMeta[name] = { param_groups: optimizer.param_groups, scalars };
  }
  metadata.optimizers = JSON.stringify(optimizerMeta);
  if (checkpoint.rng !== undefined) tensors.set('rng/cpu', checkpoint.rng);
  if (checkpoint.scheduler !== undefined) metadata.scheduler = JSON.stringify(checkpoint.scheduler);
  if (checkpoint.progress !== undefined) metadata.progress = JSON.stringify(checkpoint.progress);
  saveSafetensors(path, tensors, metadata);
}

/** Reads a checkpoint written by saveCheckpoint; the tensors are the caller's to dispose (`disposeCheckpoint`). */
export function loadCheckpoint(path: string): Checkpoint {
  const file = loadSafetensors(path);
  try {
    if (file.metadata.netlab_checkpoint !== FORMAT)
      throw new Error(`${path}: not a NetLab checkpoint of format ${FORMAT} (metadata netlab_checkpoint is ${JSON.stringify(file.metadata.netlab_checkpoint ?? null)}); a plain weights file loads with loadSafetensors`);
    const parse = (key: string): any => {
      const text = file.metadata[key];
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`${path}: checkpoint metadata '${key}' is not valid JSON`);
      }
    };
    const modelNames = parse('models') as string[] | undefined;
    const optimizerMeta = (parse('optimizers') ?? {}) as Record<string, { param_groups: Record<string, unknown>[]; scalars?: Record<string, Record<string, number | null>> }>;
    if (!Array.isArray(modelNames)) throw new Error(`${path}: checkpoint metadata 'models' is missing`);
    const models: Record<string, Map<string, Tensor>> = Object.fromEntries(modelNames.map((name) => [name, new Map<string, Tensor>()]));
    const optimizers: Record<string, CheckpointOptimizerState> = {};
    for (const [name, meta] of Object.entries(optimizerMeta)) {
      const state: CheckpointOptimizerState['state'] = {};
      for (const [index, entries] of Object.entries(meta.scalars ?? {})) state[Number(index)] = { ...entries };
      optimizers[name] = { state, param_groups: meta.param_groups };
    }
    const checkpoint: Checkpoint = { models, optimizers, scheduler: parse('scheduler'), progress: parse('progress') };
    for (const [key, t] of file.tensors) {
      const slash = key.indexOf('/');
      const part = key.slice(0, slash);
      const rest = key.slice(slash + 1);
      const match = /^(\d+)\/(.+)$/.exec(rest);
      if (key === 'rng/cpu') checkpoint.rng = t;
      else if (part in models) models[part].set(rest, t);
      else if (part in optimizers && match) ((optimizers[part].state[Number(match[1])] ??= {})[match[2]] = t);
      else throw new Error(`${path}: unexpected tensor '${key}' in a checkpoint`);
    }
    return checkpoint;
  } catch (error) {
    for (const t of file.tensors.values()) t.dispose();
    throw error;
  }
}

/** Frees every tensor a loaded checkpoint holds. */
export function disposeCheckpoint(checkpoint: Checkpoint): void {
  for (const model of Object.values(checkpoint.models)) for (const t of model.values()) t.dispose();
  for (const optimizer of Object.values(checkpoint.optimizers ?? {}))
    for (const entries of Object.values(optimizer.state)) for (const v of Object.values(entries)) if (v instanceof Tensor) v.dispose();
  checkpoint.rng?.dispose();
}
