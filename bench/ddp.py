"""The PyTorch side of bench/ddp.ts: one rank of a Gloo group training the
Madry CNN with DistributedDataParallel, `CALLS` SGD steps per request on
stdin, answering with the seconds and the last loss."""
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))

from torch_reference import MadryCnn  # noqa: E402


def main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    torch.manual_seed(dist.get_rank())
    batch = int(sys.argv[1])
    ddp = nn.parallel.DistributedDataParallel(MadryCnn())
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    for line in sys.stdin:
        _, calls = line.split()
        dist.barrier()
        start = time.perf_counter()
        for _ in range(int(calls)):
            optimizer.zero_grad()
            loss = F.cross_entropy(ddp(x), y)
            loss.backward()
            optimizer.step()
        print(time.perf_counter() - start, loss.item(), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
