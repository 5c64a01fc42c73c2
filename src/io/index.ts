export { type SafetensorsFile, loadSafetensors, parseSafetensors, saveSafetensors, serializeSafetensors } from './safetensors.js';
export { writeChunksAtomic, writeFileAtomic } from './atomic.js';
export { saveCheckpoint, loadCheckpoint, disposeCheckpoint, type Checkpoint } from './checkpoint.js';
