// Checkpoints in timm's ViT layout (timm's VisionTransformer, and the MAE
// encoder, which uses it) renamed to torchvision's, which NetLab's
// VisionTransformer uses. A separate pure filter: the model never renames its
// own keys. The two layouts hold the same tensors: timm's fused qkv Linear
// stacks the query, key and value projections along its output dimension, as
// nn.MultiheadAttention's in_proj_weight does.
import { describeValue, Tensor } from '../tensor/tensor.js';

/** A state dict as a Map or a record of tensors. */
export type TensorDict = Map<string, Tensor> | Record<string, Tensor>;

export interface ConvertTimmOptions {
  /**
   * Keys to leave out before converting, e.g. /^(decoder|mask_token)/ for an
   * MAE pre-training checkpoint, whose decoder a classifier does not use.
   */
  ignore?: RegExp;
}

// Per-block renames: timm's suffix after `blocks.N.` → torchvision's after `encoder.layers.encoder_layer_N.`.
const BLOCK_KEYS: Record<string, string> = {
  'norm1.weight': 'ln_1.weight',
  'norm1.bias': 'ln_1.bias',
  'attn.qkv.weight': 'self_attention.in_proj_weight',
  'attn.qkv.bias': 'self_attention.in_proj_bias',
  'attn.proj.weight': 'self_attention.out_proj.weight',
  'attn.proj.bias': 'self_attention.out_proj.bias',
  'norm2.weight': 'ln_2.weight',
  'norm2.bias': 'ln_2.bias',
  'mlp.fc1.weight': 'mlp.0.weight',
  'mlp.fc1.bias': 'mlp.0.bias',
  'mlp.fc2.weight': 'mlp.3.weight',
  'mlp.fc2.bias': 'mlp.3.bias',
};

const TOP_KEYS: Record<string, string> = {
  'patch_embed.proj.weight': 'conv_proj.weight',
  'patch_embed.proj.bias': 'conv_proj.bias',
  cls_token: 'class_token',
  pos_embed: 'encoder.pos_embedding',
  'norm.weight': 'encoder.ln.weight',
  'norm.bias': 'encoder.ln.bias',
  'head.weight': 'heads.head.weight',
  'head.bias': 'heads.head.bias',
};

// A pre-training encoder (MAE) has no classifier, so its head may be absent.
const OPTIONAL = new Set(['head.weight', 'head.bias']);

const BLOCK = /^blocks\.(\d+)\.(.+)$/;

/**
 * Renames a timm-layout ViT state dict (patch_embed.proj, cls_token,
 * pos_embed, blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2},
 * norm, head) to torchvision's names. The key set must be exactly that (head
 * optional, `ignore` dropped first) with blocks 0…L−1 complete, and every
 * shape must agree with the width D of cls_token; the first key that does not
 * fit is named in the error. The tensors are shared, not copied.
 */
export function convertTimmVit(stateDict: TensorDict, options: ConvertTimmOptions = {}): Map<string, Tensor> {
  if (!(stateDict instanceof Map) && (typeof stateDict !== 'object' || stateDict === null))
    throw new TypeError(`convertTimmVit: expected a state dict (Map or record of tensors), got ${describeValue(stateDict)}`);
  const entries = (stateDict instanceof Map ? [...stateDict] : Object.entries(stateDict)).filter(([key]) => !options.ignore?.test(key));
  const given = new Map(entries);
  for (const [key, value] of given) {
    if (!(value instanceof Tensor)) throw new TypeError(`convertTimmVit: '${key}' is not a Tensor (${describeValue(value)})`);
  }

  const out = new Map<string, Tensor>();
  let numLayers = 0;
  for (const [key, value] of given) {
    const block = BLOCK.exec(key);
    if (block !== null && BLOCK_KEYS[block[2]] !== undefined) {
      numLayers = Math.max(numLayers, Number(block[1]) + 1);
      out.set(`encoder.layers.encoder_layer_${Number(block[1])}.${BLOCK_KEYS[block[2]]}`, value);
    } else if (TOP_KEYS[key] !== undefined) {
      out.set(TOP_KEYS[key], value);
    } else {
      throw new Error(`convertTimmVit: unexpected key '${key}': not part of timm's ViT layout${options.ignore ? '' : ' (pass `ignore` to drop keys such as an MAE decoder)'}`);
    }
  }

  const expected = [...Object.keys(TOP_KEYS)];
  for (let i = 0; i < numLayers; i++) for (const suffix of Object.keys(BLOCK_KEYS)) expected.push(`blocks.${i}.${suffix}`);
  const missing = expected.filter((k) => !given.has(k) && !OPTIONAL.has(k));
  if (missing.length > 0) throw new Error(`convertTimmVit: missing key '${missing[0]}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  if (given.has('head.weight') !== given.has('head.bias')) throw new Error(`convertTimmVit: missing key '${given.has('head.weight') ? 'head.bias' : 'head.weight'}'`);

  checkShapes(given, numLayers);
  return out;
}

function checkShapes(sd: Map<string, Tensor>, numLayers: number): void {
  const cls = sd.get('cls_token')!;
  if (cls.ndim !== 3 || cls.shape[0] !== 1 || cls.shape[1] !== 1) throw new RangeError(`convertTimmVit: 'cls_token' must be (1, 1, D), got ${cls.describe()}`);
  const D = cls.shape[2];
  const patch = sd.get('patch_embed.proj.weight')!;
  if (patch.ndim !== 4 || patch.shape[0] !== D || patch.shape[2] !== patch.shape[3])
    throw new RangeError(`convertTimmVit: 'patch_embed.proj.weight' must be (${D}, C, p, p), got ${patch.describe()}`);
  const pos = sd.get('pos_embed')!;
  const grid = Math.round(Math.sqrt(pos.ndim === 3 ? pos.shape[1] - 1 : -1));
  if (pos.ndim !== 3 || pos.shape[0] !== 1 || pos.shape[2] !== D || grid * grid !== pos.shape[1] - 1)
    throw new RangeError(`convertTimmVit: 'pos_embed' must be (1, 1 + grid², ${D}) with the class token's embedding first, got ${pos.describe()}`);
  const M = sd.get('blocks.0.mlp.fc1.weight')?.shape[0] ?? 0;
  const numClasses = sd.get('head.weight')?.shape[0] ?? 0;
  const shapes: Record<string, number[]> = {
    'patch_embed.proj.bias': [D],
    'norm.weight': [D],
    'norm.bias': [D],
    'head.weight': [numClasses, D],
    'head.bias': [numClasses],
  };
  for (let i = 0; i < numLayers; i++) {
    const b = `blocks.${i}.`;
    Object.assign(shapes, {
      [`${b}norm1.weight`]: [D],
      [`${b}norm1.bias`]: [D],
      [`${b}attn.qkv.weight`]: [3 * D, D],
      [`${b}attn.qkv.bias`]: [3 * D],
      [`${b}attn.proj.weight`]: [D, D],
      [`${b}attn.proj.bias`]: [D],
      [`${b}norm2.weight`]: [D],
      [`${b}norm2.bias`]: [D],
      [`${b}mlp.fc1.weight`]: [M, D],
      [`${b}mlp.fc1.bias`]: [M],
      [`${b}mlp.fc2.weight`]: [D, M],
      [`${b}mlp.fc2.bias`]: [D],
    });
  }
  for (const [key, shape] of Object.entries(shapes)) {
    const t = sd.get(key);
    if (t === undefined) continue;
    if (t.ndim !== shape.length || t.shape.some((d, j) => d !== shape[j]))
      throw new RangeError(`convertTimmVit: '${key}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] for width D = ${D}`);
  }
}
