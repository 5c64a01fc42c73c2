// torch.distributed for NetLab: process groups on libtorch's c10d with Gloo,
// their collectives, and the launcher behind `netlab … --nproc N`.
// DistributedDataParallel is nn.parallel's; DistributedSampler is data's.
export {
  initProcessGroup,
  destroyProcessGroup,
  isInitialized,
  getRank,
  getWorldSize,
  getLocalRank,
  getBackend,
  allReduce,
  broadcast,
  allGather,
  allGatherObject,
  reduceScatter,
  barrier,
  ReduceOp,
  Work,
  DEFAULT_TIMEOUT_MS,
  type ReduceOpName,
  type InitOptions,
} from './process-group.js';
