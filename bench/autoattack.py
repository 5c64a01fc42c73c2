# The PyTorch side of bench/autoattack.ts: the standard AutoAttack (APGD-CE,
# APGD-T, FAB-T, Square) at L-infinity eps = 0.3 on the first IMAGES MNIST
# test images, with the algorithms of bench/autoattack_torch.py (written step
# for step as NetLab's), on the Madry CNN with the weights NetLab evaluates.
# Usage: autoattack.py THREADS WEIGHTS MNIST_FOLDER IMAGES, then lines on
# stdin: `autoattack 1` runs it and answers with its seconds, then the robust
# accuracy and seconds of the clean pass and of each stage.
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'test', 'fixtures'))
from safetensors_file import read_safetensors  # noqa: E402
from torch_reference import MadryCnn, read_idx  # noqa: E402
from autoattack_torch import auto_attack  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
WEIGHTS, FOLDER, IMAGES = sys.argv[2], sys.argv[3], int(sys.argv[4])

model = MadryCnn()
model.load_state_dict(read_safetensors(WEIGHTS)[0])
model.eval()
images = read_idx(os.path.join(FOLDER, 't10k-images-idx3-ubyte'), 3)[:IMAGES].unsqueeze(1).float().div_(255)
labels = read_idx(os.path.join(FOLDER, 't10k-labels-idx1-ubyte'), 1)[:IMAGES].long()

for line in sys.stdin:
    name, calls = line.split()
    started = time.perf_counter()
    for _ in range(int(calls)):
        stages = auto_attack(model, images, labels, 0.3)
    seconds = time.perf_counter() - started
    print(seconds, *(f'{acc} {s}' for _, acc, s in stages), flush=True)
