export * from './registry.js';
export { MadryCnn, madryCnn, type MadryCnnConfig } from './madry-cnn.js';
