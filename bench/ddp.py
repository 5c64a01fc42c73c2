"""The PyTorch side of bench/ddp.ts: one rank of a Gloo group training the
Madry CNN with DistributedDataParallel, `CALLS` SGD steps per request on
stdin, answering with the seconds and the last loss."""
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


class MadryCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.relu(self.fc1(h.flatten(1)))
        return self.fc2(h)


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
