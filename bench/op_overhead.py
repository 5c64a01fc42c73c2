# The PyTorch side of bench/op-overhead.ts: a 4-element float32 add in a loop,
# the result freed by reference counting when the next one replaces it.
# Usage: op_overhead.py THREADS, then lines `add CALLS` on stdin; each is
# answered with the seconds the calls took.
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]))
a = torch.rand(4)
b = torch.rand(4)


def add(calls):
    for _ in range(calls):
        c = a + b


blocks = {"add": add}
for line in sys.stdin:
    name, calls = line.split()
    start = time.perf_counter_ns()
    blocks[name](int(calls))
    print((time.perf_counter_ns() - start) / 1e9, flush=True)
