# The PyTorch side of bench/attack.ts: PGD in the L-infinity ball (Madry et
# al.: random start, steps along the gradient's sign, projection onto the
# ball and the [0, 1] box) on the Madry MNIST CNN, written as a PyTorch user
# writes it, with the weights NetLab drew (a safetensors file).
# Usage: attack.py THREADS WEIGHTS MNIST_FOLDER IMAGES BATCH STEPS EPS STEP_SIZE,
# then lines on stdin: `attack CALLS` runs CALLS attacks on the first IMAGES
# test images and answers with the seconds they took; `rate 0` answers with
# the fraction of the images whose prediction the last attack changed;
# `clean 0` with the model's accuracy on the images themselves.
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))
from safetensors_file import read_safetensors  # noqa: E402
from torch_reference import MadryCnn, read_idx  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
WEIGHTS, FOLDER = sys.argv[2], sys.argv[3]
IMAGES, BATCH, STEPS = (int(v) for v in sys.argv[4:7])
EPS, STEP_SIZE = (float(v) for v in sys.argv[7:9])


model = MadryCnn()
model.load_state_dict(read_safetensors(WEIGHTS)[0])
model.eval()
images = read_idx(os.path.join(FOLDER, 't10k-images-idx3-ubyte'), 3)[:IMAGES].unsqueeze(1).float().div_(255)
labels = read_idx(os.path.join(FOLDER, 't10k-labels-idx1-ubyte'), 1)[:IMAGES].long()


def pgd(x, y):
    """The adversarial batch for x and whether each example's prediction changed."""
    # For L-infinity the ball and the box intersect in a box: one clamp projects onto both.
    lower = (x - EPS).clamp(min=0)
    upper = (x + EPS).clamp(max=1)
    xr = (x + torch.empty_like(x).uniform_(-EPS, EPS)).clamp(0, 1)
    for _ in range(STEPS):
        xr.requires_grad_(True)
        loss = F.cross_entropy(model(xr), y, reduction='none')
        (grad,) = torch.autograd.grad(loss.sum(), xr)
        with torch.no_grad():
            xr = (xr + STEP_SIZE * grad.sign()).clamp(lower, upper)
    with torch.no_grad():
        changed = model(xr).argmax(1) != y
    return xr, changed


last_rate = float('nan')


def attack(calls):
    global last_rate
    for _ in range(calls):
        changed = 0
        for start in range(0, IMAGES, BATCH):
            _, c = pgd(images[start:start + BATCH], labels[start:start + BATCH])
            changed += int(c.sum())
        last_rate = changed / IMAGES


for line in sys.stdin:
    name, calls = line.split()
    if name == 'rate':
        print(last_rate, flush=True)
    elif name == 'clean':
        with torch.no_grad():
            print((model(images).argmax(1) == labels).float().mean().item(), flush=True)
    elif name == 'attack':
        start = time.perf_counter_ns()
        attack(int(calls))
        print((time.perf_counter_ns() - start) / 1e9, flush=True)
    else:
        raise ValueError(f'attack.py: unknown block {name!r}')
