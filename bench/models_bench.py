# The PyTorch side of bench/models.ts: torchvision's resnet50, vit_b_16 and
# swin_t (random weights) on a random batch. One model is held at a time:
# asking for another frees the one before.
# Usage: models_bench.py THREADS BATCH, then lines `MODEL_forward
# CALLS` (evaluation mode, no gradients) or `MODEL_train CALLS` (training
# mode: cross-entropy against random labels, backward, one SGD step) on
# stdin; each is answered with the seconds the calls took.
import gc
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
BATCH = int(sys.argv[2])
SIZE = 224
CLASSES = 1000
# Small enough that repeated steps on random labels keep the weights finite.
LR = 1e-3

BUILDERS = {
    'resnet50': torchvision.models.resnet50,
    'vit_b_16': torchvision.models.vit_b_16,
    'swin_t': torchvision.models.swin_t,
}

x = torch.randn(BATCH, 3, SIZE, SIZE)
y = torch.randint(0, CLASSES, (BATCH,))
current = {'name': None, 'model': None, 'optimizer': None}


def use(name):
    """The model `name` and its optimizer, building it (and freeing the last one) on first use."""
    if current['name'] != name:
        current.update(name=None, model=None, optimizer=None)
        gc.collect()
        model = BUILDERS[name]()
        current.update(name=name, model=model, optimizer=torch.optim.SGD(model.parameters(), lr=LR))
    return current['model'], current['optimizer']


def forward(name, calls):
    model, _ = use(name)
    model.eval()
    with torch.no_grad():
        for _ in range(calls):
            model(x)


def train(name, calls):
    model, optimizer = use(name)
    model.train()
    for _ in range(calls):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


for line in sys.stdin:
    block, calls = line.split()
    name, _, kind = block.rpartition('_')
    run = {'forward': forward, 'train': train}.get(kind)
    if name not in BUILDERS or run is None:
        raise ValueError(f'models_bench.py: unknown block {block!r}')
    use(name)  # building a model is not timed
    start = time.perf_counter_ns()
    run(name, int(calls))
    print((time.perf_counter_ns() - start) / 1e9, flush=True)
