export { Module, Parameter, Buffer, type StateDict, type LoadResult } from './module.js';
export * from './layers.js';
export * from './container.js';
export { MultiheadAttention, scaledDotProductAttention, type MultiheadAttentionOptions, type MultiheadAttentionCall, type AttentionOptions } from './attention.js';
export * as init from './init.js';
export * as parallel from './parallel.js';
export {
  Transformer, TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, generateSquareSubsequentMask,
  type TransformerOptions, type TransformerLayerOptions, type TransformerMasks, type EncoderMasks, type DecoderMasks,
} from './transformer.js';
