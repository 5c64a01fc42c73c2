# The PyTorch side of bench/train-step.ts: the Madry MNIST CNN written
# functionally, exactly as the NetLab side is, so both run the same kernels.
# Usage: train_step.py THREADS, then lines `train CALLS` or `input_grad CALLS`
# on stdin; each is answered with the seconds the steps took.
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)

BATCH = 64
LR = 0.01


def parameter(shape, fan_in, requires_grad):
    # kaiming_uniform_(a=sqrt(5)) gives bound gain*sqrt(3/fan_in) with
    # gain = sqrt(2/(1+5)); biases get 1/sqrt(fan_in): both as nn.Conv2d/nn.Linear.
    bound = math.sqrt(2 / (1 + 5)) * math.sqrt(3 / fan_in) if len(shape) > 1 else 1 / math.sqrt(fan_in)
    return torch.empty(shape).uniform_(-bound, bound).requires_grad_(requires_grad)


def make_params(requires_grad):
    layers = [((32, 1, 5, 5), 25), ((64, 32, 5, 5), 32 * 25), ((1024, 3136), 3136), ((10, 1024), 1024)]
    params = []
    for shape, fan_in in layers:
        params.append(parameter(shape, fan_in, requires_grad))
        params.append(parameter((shape[0],), fan_in, requires_grad))
    return params


def forward(x, p):
    w1, b1, w2, b2, w3, b3, w4, b4 = p
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=2)), 2)  # (B, 32, 14, 14)
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=2)), 2)  # (B, 64, 7, 7)
    h = F.relu(F.linear(h.flatten(1), w3, b3))  # (B, 1024)
    return F.linear(h, w4, b4)  # (B, 10)


x = torch.rand(BATCH, 1, 28, 28)
y = torch.randint(0, 10, (BATCH,))
params = make_params(True)
frozen = make_params(False)


def train(calls):
    for _ in range(calls):
        F.cross_entropy(forward(x, params), y).backward()
        with torch.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=LR)
                p.grad = None


def input_grad(calls):
    for _ in range(calls):
        xr = x.detach().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(forward(xr, frozen), y), xr)


blocks = {"train": train, "input_grad": input_grad}
for line in sys.stdin:
    name, calls = line.split()
    start = time.perf_counter_ns()
    blocks[name](int(calls))
    print((time.perf_counter_ns() - start) / 1e9, flush=True)
