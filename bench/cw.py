# The PyTorch side of bench/cw.ts: Carlini & Wagner's L2 attack (targeted,
# f6 over the logits, Adam on w in tanh space, a binary search over c per
# example, the closest success kept), written as a PyTorch user writes it,
# on NetLab's cw-mnist network with the weights NetLab drew.
# Usage: cw.py THREADS WEIGHTS MNIST_FOLDER IMAGES SEARCH_STEPS ITERATIONS,
# then lines on stdin: `attack CALLS` runs CALLS attacks and answers with the
# seconds they took; `rate 0` answers with the last attack's success rate,
# `l2 0` with its mean L2 distance over the successes.
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))
from safetensors_file import read_safetensors  # noqa: E402
from torch_reference import CWMnistNet, read_idx  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
WEIGHTS, FOLDER = sys.argv[2], sys.argv[3]
IMAGES, SEARCH_STEPS, ITERATIONS = (int(v) for v in sys.argv[4:7])
LR, INITIAL_CONST = 1e-2, 1e-3

model = CWMnistNet()
model.load_state_dict(read_safetensors(WEIGHTS)[0])
model.eval()
images = read_idx(os.path.join(FOLDER, 't10k-images-idx3-ubyte'), 3)[:IMAGES].unsqueeze(1).float().div_(255)
labels = read_idx(os.path.join(FOLDER, 't10k-labels-idx1-ubyte'), 1)[:IMAGES].long()
targets = (labels + 1) % 10


def margin(logits, goal):
    own = logits.gather(1, goal[:, None])[:, 0]
    others = logits.scatter(1, goal[:, None], float('-inf')).amax(1)
    return own - others


def cw_l2(x, goal):
    n = x.shape[0]
    w0 = torch.atanh((x * 2 - 1) * 0.999999)
    lower, upper, c = torch.zeros(n), torch.full((n,), 1e10), torch.full((n,), INITIAL_CONST)
    best_l2, best = torch.full((n,), float('inf')), x.clone()
    for _ in range(SEARCH_STEPS):
        modifier = torch.zeros_like(x, requires_grad=True)
        optimizer = torch.optim.Adam([modifier], lr=LR)
        succeeded = torch.zeros(n, dtype=torch.bool)
        for _ in range(ITERATIONS):
            adv = (torch.tanh(modifier + w0) + 1) / 2
            logits = model(adv)
            l2 = (adv - x).square().flatten(1).sum(1)
            m = margin(logits, goal)
            loss = (l2 + c * (-m).clamp(min=0)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                reached = m > 0
                closer = reached & (l2 < best_l2)
                best_l2 = torch.where(closer, l2, best_l2)
                best = torch.where(closer[:, None, None, None], adv, best)
                succeeded |= reached
        upper = torch.where(succeeded, torch.minimum(upper, c), upper)
        lower = torch.where(succeeded, lower, torch.maximum(lower, c))
        c = torch.where(upper < 1e9, (lower + upper) / 2, c * 10)
    return best


last = (float('nan'), float('nan'))


def attack(calls):
    global last
    for _ in range(calls):
        adv = cw_l2(images, targets)
        with torch.no_grad():
            success = model(adv).argmax(1) == targets
            l2 = (adv - images).flatten(1).norm(dim=1)
        last = (success.float().mean().item(), l2[success].mean().item())


for line in sys.stdin:
    name, calls = line.split()
    if name == 'rate':
        print(last[0], flush=True)
    elif name == 'l2':
        print(last[1], flush=True)
    elif name == 'attack':
        start = time.perf_counter_ns()
        attack(int(calls))
        print((time.perf_counter_ns() - start) / 1e9, flush=True)
    else:
        raise ValueError(f'cw.py: unknown block {name!r}')
