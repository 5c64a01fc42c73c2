# The PyTorch side of bench/train-epoch.ts: one epoch of the Madry et al.
# MNIST CNN as a PyTorch user writes it. The IDX files are read into tensors,
# served by a TensorDataset through a DataLoader (batch 50, shuffled, no
# worker processes), and the model is trained with Adam (lr 1e-3) on
# cross-entropy, reading each step's loss as NetLab's fit() does.
# Usage: train_epoch.py THREADS MNIST_FOLDER, then lines `epoch IMAGES` on
# stdin: an epoch over the first IMAGES training images, answered with
# `TOTAL_SECONDS LOAD_SECONDS MEAN_LOSS` (LOAD: reading the files into the
# dataset; TOTAL: that and the epoch's training).
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))
from torch_reference import MadryCnn, read_idx  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
FOLDER = sys.argv[2]
torch.manual_seed(0)

BATCH = 50
LR = 1e-3


def epoch(images):
    # A fresh model each time, so every epoch does the same work; building it is not timed.
    model = MadryCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    start = time.perf_counter_ns()
    pixels = read_idx(os.path.join(FOLDER, 'train-images-idx3-ubyte'), 3)
    labels = read_idx(os.path.join(FOLDER, 'train-labels-idx1-ubyte'), 1)
    # All of the file is converted, as NetLab's loadMnist does, then the first `images` are used.
    x = pixels.unsqueeze(1).float().div_(255)  # (60000, 1, 28, 28) in [0, 1]
    y = labels.long()
    dataset = TensorDataset(x[:images], y[:images])
    loaded = time.perf_counter_ns()
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True)
    model.train()
    losses = []
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    end = time.perf_counter_ns()
    return (end - start) / 1e9, (loaded - start) / 1e9, sum(losses) / len(losses)


for line in sys.stdin:
    name, images = line.split()
    if name != 'epoch':
        raise ValueError(f'train_epoch.py: unknown block {name!r}')
    print(*epoch(int(images)), flush=True)
