"""The PyTorch side of bench/allreduce.ts: one rank of a Gloo group that
all-reduces float32 buffers of the sizes given (MB, comma-separated) when asked
`SIZE CALLS` on stdin, answering with the seconds rank-locally measured."""
import sys
import time

import torch
import torch.distributed as dist


def main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    buffers = {mb: torch.zeros(mb * 1024 * 1024 // 4) for mb in map(int, sys.argv[1].split(","))}
    for line in sys.stdin:
        name, calls = line.split()
        t = buffers[int(name)]
        dist.barrier()
        start = time.perf_counter()
        for _ in range(int(calls)):
            dist.all_reduce(t)
        print(time.perf_counter() - start, flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
