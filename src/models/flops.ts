// The computational complexity of self-attention as the Swin paper states it
// (Liu et al., 2021, Eq. 1–2), counting multiply–adds of the projections and
// the attention products and leaving out softmax:
//   Ω(MSA)   = 4hwC² + 2(hw)²C     (global attention: quadratic in hw)
//   Ω(W-MSA) = 4hwC² + 2M²hwC      (M×M windows: linear in hw)
// 4hwC² is the q, k, v and output projections; the second term is q·kᵀ and
// attention·v, each (tokens attended) × C per token.
import type { SwinConfig } from './swin.js';

function checkDims(name: string, values: Record<string, number>): void {
  for (const [key, v] of Object.entries(values))
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name}: ${key} must be a non-negative integer, got ${v}`);
}

/** Ω(MSA) = 4hwC² + 2(hw)²C for global multi-head self-attention over an h×w map of C channels. */
export function msaFlops(h: number, w: number, C: number): number {
  checkDims('msaFlops', { h, w, C });
  const tokens = h * w;
  return 4 * tokens * C * C + 2 * tokens * tokens * C;
}

/** Ω(W-MSA) = 4hwC² + 2M²hwC for attention within M×M windows (h and w multiples of M). */
export function wmsaFlops(h: number, w: number, C: number, M: number): number {
  checkDims('wmsaFlops', { h, w, C, M });
  if (M < 1) throw new RangeError(`wmsaFlops: window size M must be positive, got ${M}`);
  const tokens = h * w;
  return 4 * tokens * C * C + 2 * M * M * tokens * C;
}

/** One stage's share of a Swin model's attention cost. */
export interface StageAttentionFlops {
  /** Token map of the stage as the windows see it (padded to whole windows). */
  height: number;
  width: number;
  channels: number;
  blocks: number;
  /** Ω(W-MSA) of the stage's blocks together. */
  windowed: number;
  /** What global MSA would cost for the same blocks (the paper's comparison). */
  global: number;
}

/**
 * The attention FLOPs of a Swin model on an image, stage by stage, by the
 * paper's formulas: every block (shifted or not) costs Ω(W-MSA) on its stage's
 * token map, padded to whole windows as the model pads it; when a window
 * covers the whole map it attends over the padded window, Mh·Mw tokens.
 */
export function swinAttentionFlops(config: Pick<SwinConfig, 'patchSize' | 'embedDim' | 'depths' | 'windowSize'>, imageSize: readonly [number, number]): { stages: StageAttentionFlops[]; windowed: number; global: number } {
  const [Mh, Mw] = config.windowSize;
  if (Mh !== Mw) throw new RangeError(`swinAttentionFlops: the paper's formula assumes square windows, got ${Mh}×${Mw}`);
  checkDims('swinAttentionFlops', { imageHeight: imageSize[0], imageWidth: imageSize[1] });
  let h = Math.floor(imageSize[0] / config.patchSize[0]);
  let w = Math.floor(imageSize[1] / config.patchSize[1]);
  const stages: StageAttentionFlops[] = config.depths.map((blocks, stage) => {
    if (stage > 0) {
      // Patch merging pads odd sizes, then halves.
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
    }
    const channels = config.embedDim * 2 ** stage;
    const height = Math.ceil(h / Mh) * Mh;
    const width = Math.ceil(w / Mw) * Mw;
    return { height, width, channels, blocks, windowed: blocks * wmsaFlops(height, width, channels, Mh), global: blocks * msaFlops(h, w, channels) };
  });
  return {
    stages,
    windowed: stages.reduce((n, s) => n + s.windowed, 0),
    global: stages.reduce((n, s) => n + s.global, 0),
  };
}
